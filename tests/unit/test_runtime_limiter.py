"""The concurrency limiter: the bound across threads and processes, kill -9, waking waiters."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from unisafe_pytest.runtime.limiter import Limiter

ROOT = Path(__file__).resolve().parents[2]

HOLDERS = textwrap.dedent('''
    import sys, threading, time
    from pathlib import Path
    from unisafe_pytest.runtime.limiter import Limiter

    folder, limit, threads, calls, out = sys.argv[1:6]
    limiter = Limiter(Path(folder), int(limit))
    spans, lock = [], threading.Lock()

    def work():
        for _ in range(int(calls)):
            with limiter.slot():
                start = time.monotonic()
                time.sleep(0.01)
                end = time.monotonic()
            with lock:
                spans.append(f"{start} {end}")

    pool = [threading.Thread(target=work) for _ in range(int(threads))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    Path(out).write_text("\\n".join(spans))
''')

HOLD_ALL = textwrap.dedent('''
    import sys, threading, time
    from pathlib import Path
    from unisafe_pytest.runtime.limiter import Limiter

    folder, limit, hold_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    limiter = Limiter(Path(folder), limit)
    ready = threading.Barrier(limit + 1)

    def hold():
        with limiter.slot():
            ready.wait()
            time.sleep(hold_s)

    for _ in range(limit):
        threading.Thread(target=hold).start()
    ready.wait()
    print("HOLDING", flush=True)
''')


def _python(script: str, *args: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, text=True)


def _peak(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    peak = now = 0
    for _, step in events:  # an end and a start at the same instant: the end first
        now += step
        peak = max(peak, now)
    return peak


def test_threads_of_one_process_never_exceed_the_limit(tmp_path: Path) -> None:
    limiter = Limiter(tmp_path / "limiter", 4)
    lock, state = threading.Lock(), {"now": 0, "peak": 0, "done": 0}

    def work() -> None:
        for _ in range(20):
            with limiter.slot():
                with lock:
                    state["now"] += 1
                    state["peak"] = max(state["peak"], state["now"])
                time.sleep(0.001)
                with lock:
                    state["now"] -= 1
                    state["done"] += 1

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert state["done"] == 16 * 20
    assert state["peak"] == limiter.peak_local == 4


def test_two_processes_share_the_limit(tmp_path: Path) -> None:
    folder = tmp_path / "limiter"
    procs = [_python(HOLDERS, folder, 3, 6, 10, tmp_path / f"spans-{n}") for n in range(2)]
    for proc in procs:
        proc.communicate(timeout=60)
        assert proc.returncode == 0
    spans = [tuple(map(float, line.split())) for n in range(2)
             for line in (tmp_path / f"spans-{n}").read_text().splitlines()]
    assert len(spans) == 2 * 6 * 10
    assert _peak(spans) <= 3  # type: ignore[arg-type]


def test_a_killed_process_frees_its_slots(tmp_path: Path) -> None:
    folder = tmp_path / "limiter"
    proc = _python(HOLD_ALL, folder, 2, 60)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "HOLDING"
    limiter = Limiter(folder, 2)
    try:
        with limiter.slot(deadline_s=0.3):
            raise AssertionError("a slot while another process holds both")
    except TimeoutError:
        pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    started = time.monotonic()
    with limiter.slot(deadline_s=5), limiter.slot(deadline_s=5):  # re-entrant: one slot
        pass
    elsewhere: list[float] = []
    thread = threading.Thread(target=lambda: elsewhere.append(_timed_slot(limiter)))
    with limiter.slot(deadline_s=5):
        thread.start()
        thread.join()
    assert elsewhere and elsewhere[0] < 5  # both freed slots are usable
    assert time.monotonic() - started < 5


def _timed_slot(limiter: Limiter) -> float:
    started = time.monotonic()
    with limiter.slot(deadline_s=5):
        return time.monotonic() - started


def test_a_waiter_is_woken_by_a_release_not_by_polling(tmp_path: Path) -> None:
    """Alone in its folder the limiter does not poll: a waiting thread gets the slot as soon
    as another thread of the process lets it go (well under the refresh interval)."""
    limiter = Limiter(tmp_path / "limiter", 1, poll_s=10.0)
    waited: list[float] = []
    with limiter.slot():
        thread = threading.Thread(target=lambda: waited.append(_timed_slot(limiter)))
        thread.start()
        time.sleep(0.05)
        released = time.monotonic()
    thread.join(5)
    assert waited and waited[0] >= 0.04
    assert time.monotonic() - released < 0.2


def test_a_slot_freed_by_another_process_is_noticed(tmp_path: Path) -> None:
    folder = tmp_path / "limiter"
    proc = _python(HOLD_ALL, folder, 1, 0.5)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "HOLDING"
    limiter = Limiter(folder, 1)
    started = time.monotonic()
    with limiter.slot(deadline_s=10):
        waited = time.monotonic() - started
    proc.communicate(timeout=10)
    assert 0.2 < waited < 3


def test_a_429_elsewhere_lowers_the_limit_here(tmp_path: Path) -> None:
    here, there = Limiter(tmp_path / "limiter", 8), Limiter(tmp_path / "limiter", 8)
    with here.slot():
        pass
    there.rate_limited()  # 8 -> 4 for every process
    time.sleep(0.3)  # past the refresh interval
    assert _holders_at_once(here, 6) == 4


def _holders_at_once(limiter: Limiter, threads: int) -> int:
    """How many of ``threads`` threads hold a slot at once (each tries for 0.3 s)."""
    inside, release = threading.Semaphore(0), threading.Event()
    got: list[int] = []

    def hold() -> None:
        try:
            with limiter.slot(deadline_s=0.3):
                got.append(1)
                inside.release()
                release.wait(5)
        except TimeoutError:
            inside.release()

    pool = [threading.Thread(target=hold) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for _ in pool:
        inside.acquire(timeout=5)
    count = len(got)
    release.set()
    for thread in pool:
        thread.join(5)
    return count


def test_a_free_slot_costs_the_same_at_any_limit(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """With 64 of 128 slots held by the process's own threads, taking one more asks the
    kernel about one slot file, not about the 64 held ones (on dd7bba9: 65 flock and 65 open
    calls per acquisition, a scan of every slot from the first)."""
    limiter = Limiter(tmp_path / "limiter", 128)
    held, release = threading.Barrier(65), threading.Event()

    def hold() -> None:
        with limiter.slot():
            held.wait(5)
            release.wait(5)

    pool = [threading.Thread(target=hold) for _ in range(64)]
    for thread in pool:
        thread.start()
    held.wait(5)
    calls: list[object] = []
    real_flock = fcntl.flock

    def counted(*args: object) -> None:
        calls.append(args)
        real_flock(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(fcntl, "flock", counted)
    for _ in range(10):
        with limiter.slot():
            pass
    count = len(calls)
    release.set()
    for thread in pool:
        thread.join(5)
    assert count <= 10 * 2  # one lock and one unlock per call
