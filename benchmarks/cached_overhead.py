"""Per-instance overhead of a fully cached run, against pytest's own per-test cost.

    python benchmarks/cached_overhead.py [--n 10000] [--repeat 3]

Fills the cache with one run of N text instances against a loopback FAKE chat server
(tests/servers/latency_server.py, no latency), then times in fresh subprocesses:

* the same run again, fully cached (no model call; the local judge's rows are cached too);
* the peer: pytest running N trivial parametrized tests (``def test(i): pass``).

Each is run at N and at N/5, ``--repeat`` times each (interleaved, best wall kept: this
shared machine's timings vary by tens of percent between runs); the per-instance cost is the
slope (wall(N) - wall(N/5)) / (N - N/5), so start-up (imports, the cache fill's leftovers,
pre-flight) is left out for both. The ratio compares the slopes. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.workspace import PYTEST_ARGS, prepare, pytest_command, timed, write_text_suite
from tests.servers.latency_server import LatencyServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    n = opts.n
    with tempfile.TemporaryDirectory() as tmp, LatencyServer() as server:
        # two sibling folders: run from its folder, pytest would collect the other's tests
        root, peer_dir = Path(tmp) / "unisafe", Path(tmp) / "peer"
        root.mkdir()
        env = prepare(root, server.base_url)
        small = n // 5

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
        walls = {n: float("inf"), small: float("inf")}
        peer = dict(walls)
        for rep in range(opts.repeat):
            for count in (n, small):
                write_text_suite(root, count)
                walls[count] = min(walls[count], timed(
                    [*args, f"--unisafe-report-dir=cached-{count}-{rep}"], root, env))
                write_peer(count)
                peer[count] = min(peer[count], timed(pytest_command(), peer_dir, env))
        assert server.state.total == calls, "the cached run called the model"
    slope = (walls[n] - walls[small]) / (n - small)
    peer_slope = (peer[n] - peer[small]) / (n - small)
    print(f"fully cached run of {n:,} instances vs {n:,} trivial parametrized tests "
          f"(per-instance cost = slope between {small:,} and {n:,}; best of "
          f"{opts.repeat})\n")
    print("| run | wall s at N | per instance ms | x peer |")
    print("|---|---|---|---|")
    print(f"| pytest, trivial parametrized tests (peer) | {peer[n]:.2f} | "
          f"{1000 * peer_slope:.3f} | 1.00 |")
    print(f"| unisafe-pytest, fully cached | {walls[n]:.2f} | {1000 * slope:.3f} | "
          f"{slope / peer_slope:.2f} |")

if __name__ == "__main__":
    main()
