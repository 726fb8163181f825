"""Per-instance overhead of a fully cached run, against pytest's own per-test cost.

    python benchmarks/cached_overhead.py [--n 10000] [--repeat 3] [--workers 0[,2,8...]]

Fills the cache with one run of N text instances against a loopback FAKE chat server
(tests/servers/latency_server.py, no latency), then times in fresh subprocesses:

* the same run again, fully cached (no model call; the local judge's rows are cached too);
* the peer: pytest running N trivial parametrized tests (``def test(i): pass``);

each in one process (``0``) and under ``-n W`` for every W of ``--workers``.

Each is run at N and at N/5, ``--repeat`` times each (interleaved, best wall kept: this
shared machine's timings vary by tens of percent between runs); the per-instance cost is the
slope (wall(N) - wall(N/5)) / (N - N/5), so start-up (imports, worker start-up, the cache
fill's leftovers, pre-flight) is left out for both. "x peer" compares the slopes with the
peer's at the same worker count. Under ``-n W``, "x 1 process" is the slope over the same
run's one-process slope, and "x xdist's own" divides that by the peer's (pytest's trivial
tests under ``-n W`` over one process): 1.00 means xdist costs the cached run, per instance,
exactly what it costs pytest's trivial tests. Prints a markdown table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.workspace import PYTEST_ARGS, prepare, pytest_command, timed, write_text_suite
from tests.servers.latency_server import LatencyServer


def _dist(count: int) -> list[str]:
    return ["-n", str(count)] if count else ["-p", "no:xdist"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", default="0", help="0 (one process) and/or xdist counts")
    opts = parser.parse_args()
    n = int(opts.n)
    counts = [int(w) for w in opts.workers.split(",")]
    if 0 not in counts:
        counts.insert(0, 0)
    small = n // 5
    best: dict[tuple[str, int, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp, LatencyServer() as server:
        # two sibling folders: run from its folder, pytest would collect the other's tests
        root, peer_dir = Path(tmp) / "unisafe", Path(tmp) / "peer"
        root.mkdir()
        env = prepare(root, server.base_url)

        def write_peer(count: int) -> None:
            (peer_dir / "test_peer.py").write_text(
                f"import pytest\n\n@pytest.mark.parametrize('i', range({count}))\n"
                "def test_trivial(i):\n    pass\n", encoding="utf-8")

        peer_dir.mkdir()
        (peer_dir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        args = pytest_command(*PYTEST_ARGS)
        write_text_suite(root, n)
        timed([*args, "--unisafe-report-dir=fill"], root, env)
        calls = server.state.total

        def keep(key: tuple[str, int, int], wall: float) -> None:
            best[key] = min(best.get(key, float("inf")), wall)

        for rep in range(opts.repeat):
            for size in (n, small):
                write_text_suite(root, size)
                write_peer(size)
                for count in counts:
                    keep(("unisafe", count, size), timed(
                        [*args, *_dist(count), f"--unisafe-report-dir=c-{size}-{count}-{rep}"],
                        root, env))
                    keep(("peer", count, size), timed(
                        pytest_command(*_dist(count)), peer_dir, env))
        assert server.state.total == calls, "the cached run called the model"

    def slope(who: str, count: int) -> float:
        return (best[who, count, n] - best[who, count, small]) / (n - small)

    print(f"fully cached run of {n:,} instances vs {n:,} trivial parametrized tests "
          f"(per-instance cost = slope between {small:,} and {n:,}; best of "
          f"{opts.repeat})\n")
    print("| run | wall s at N | per instance ms | x peer | x 1 process | x xdist's own |")
    print("|---|---|---|---|---|---|")
    for count in counts:
        how = f"-n {count}" if count else "1 process"
        peer, mine = slope("peer", count), slope("unisafe", count)
        scale_peer = peer / slope("peer", 0)
        scale = mine / slope("unisafe", 0)
        extra = ("- | -" if not count else f"{scale_peer:.2f} | 1.00")
        print(f"| pytest, trivial parametrized tests (peer), {how} | "
              f"{best['peer', count, n]:.2f} | {1000 * peer:.3f} | 1.00 | {extra} |")
        extra = ("- | -" if not count else f"{scale:.2f} | **{scale / scale_peer:.2f}**")
        print(f"| unisafe-pytest, fully cached, {how} | {best['unisafe', count, n]:.2f} | "
              f"{1000 * mine:.3f} | {mine / peer:.2f} | {extra} |")


if __name__ == "__main__":
    main()
