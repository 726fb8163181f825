"""The prefetch pipeline: work runs ahead when results are slow, inline when they are fast."""

from __future__ import annotations

import threading
import time

from unisafe_pytest.runtime.pipeline import Prefetcher


def test_slow_work_runs_ahead_on_threads() -> None:
    threads: set[str] = set()

    def slow(key: int) -> int:
        threads.add(threading.current_thread().name)
        time.sleep(0.02)
        return key * 2

    pipeline = Prefetcher(slow, threads=4, window=4)
    started = time.perf_counter()
    results = []
    for key in range(8):
        pipeline.ahead(range(key, 8))
        results.append(pipeline.take(key))
    elapsed = time.perf_counter() - started
    pipeline.close()
    assert results == [k * 2 for k in range(8)]
    assert pipeline.submitted >= 7
    assert any(name.startswith("unisafe") for name in threads)
    assert elapsed < 8 * 0.02  # overlapped, not one after the other


def test_fast_work_stops_prefetching() -> None:
    pipeline: Prefetcher[int, int] = Prefetcher(lambda key: key, threads=4, window=4)
    for key in range(50):
        pipeline.ahead(range(key, 50))
        assert pipeline.take(key) == key
    submitted = pipeline.submitted
    for key in range(50, 60):
        pipeline.ahead(range(key, 60))
        pipeline.take(key)
    pipeline.close()
    assert pipeline.submitted == submitted  # the thread hand-off costs more than the work


def test_without_threads_everything_is_inline() -> None:
    pipeline: Prefetcher[int, int] = Prefetcher(lambda key: -key, threads=1, window=8)
    pipeline.ahead(range(5))
    assert [pipeline.take(k) for k in range(5)] == [0, -1, -2, -3, -4]
    assert pipeline.submitted == 0


def test_waiting_is_told_by_the_predicate_not_by_time() -> None:
    """Cached results are slow on a busy thread (GIL) but never wait: prefetching stops;
    a result that called out starts it again."""

    def work(key: int) -> int:
        time.sleep(0.005)  # slower than FAST_S, as a cached result beside the test loop
        return key

    pipeline: Prefetcher[int, int] = Prefetcher(work, threads=4, window=2,
                                                waited=lambda key: key >= 8)
    for key in range(8):
        pipeline.ahead(range(key, min(key + 2, 8)))
        pipeline.take(key)
    started = pipeline.submitted
    assert started > 0  # it starts by prefetching
    pipeline.ahead(range(8, 20))
    assert pipeline.submitted == started  # 0-7 did not wait: no more prefetching
    for key in range(8, 10):
        pipeline.take(key)  # inline; these waited
    pipeline.ahead(range(10, 20))
    pipeline.close()
    assert pipeline.submitted > started


def test_the_window_is_not_walked_at_every_take() -> None:
    """At a window of 256 (C = 128), taking 2,000 results of a longer queue walks some ten
    thousand upcoming keys, not 256 per take (on dd7bba9: about 500,000, O(C) per instance)."""
    walked = [0]

    def upcoming(start: int, end: int):  # type: ignore[no-untyped-def]
        for key in range(start, end):
            walked[0] += 1
            yield key

    def slow(key: int) -> int:
        time.sleep(0.001)
        return key

    pipeline: Prefetcher[int, int] = Prefetcher(slow, threads=16, window=256,
                                                waited=lambda result: True)
    for key in range(2000):
        pipeline.ahead(upcoming(key, 3000))
        assert pipeline.take(key) == key
    pipeline.close()
    assert walked[0] < 2000 * 256 // 10
    assert pipeline.submitted >= 2000  # still prefetched


def test_close_starts_nothing_more_and_take_still_answers() -> None:
    """After close() (a stop: -x, --maxfail) no queued key is computed on the pool, ahead()
    submits nothing, and take() of a dropped key computes it itself (no CancelledError)."""
    computed: list[int] = []
    gate = threading.Event()

    def slow(key: int) -> int:
        gate.wait(5)
        computed.append(key)
        return key

    pipeline: Prefetcher[int, int] = Prefetcher(slow, threads=2, window=8,
                                                waited=lambda result: True)
    pipeline.ahead(range(8))
    pipeline.close()
    gate.set()
    pipeline.ahead(range(8, 16))
    assert pipeline.submitted == 8
    time.sleep(0.1)
    assert sorted(computed) == [0, 1]  # only the two already running
    assert pipeline.take(5) == 5  # dropped: computed now
    assert pipeline.take(0) == 0
