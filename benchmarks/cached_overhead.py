"""Per-instance overhead of a fully cached run, against pytest's own per-test cost.

    python benchmarks/cached_overhead.py [--n 10000]

Fills the cache with one run of N text instances against a loopback FAKE chat server
(tests/servers/latency_server.py, no latency), then times in fresh subprocesses:

* the same run again, fully cached (no model call; the local judge's rows are cached too);
* the peer: pytest running N trivial parametrized tests (``def test(i): pass``).

Each is run at N and at N/5; the per-instance cost is the slope (wall(N) - wall(N/5)) /
(N - N/5), so start-up (imports, the cache fill's leftovers, pre-flight) is left out for
both. The ratio compares the slopes. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.servers.latency_server import LatencyServer

JUDGE = '''
from unisafe_pytest import JudgeRow, JudgeSpec

class Judge:
    spec = JudgeSpec(id="bench-judge", kind="bench")
    cacheable = True
    def judge(self, instance, task, output):
        return JudgeRow(judge="bench-judge", judgment=0, risk_rating=1, spec=self.spec)
    def close(self):
        pass

def make():
    return Judge()
'''


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env,
                          check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    opts = parser.parse_args()
    n = opts.n
    with tempfile.TemporaryDirectory() as tmp, LatencyServer() as server:
        root = Path(tmp)
        env = {**os.environ, "PYTHONPATH": str(root)}
        (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (root / "benchjudge.py").write_text(JUDGE, encoding="utf-8")
        (root / "profiles").mkdir()
        (root / "profiles" / "loop.toml").write_text(textwrap.dedent(f"""\
            kind = "openai-chat"
            model = "fake-chat"
            base_url = "{server.base_url}"
            api_key_env = ""
            vision = false
            """), encoding="utf-8")
        small = n // 5

        def write_suite(count: int) -> None:
            (root / "s.jsonl").write_text("".join(
                json.dumps({"id": f"t{i:05d}", "task": "TT", "category": "Hate",
                            "instruction": f"request {i}"}) + "\n" for i in range(count)),
                encoding="utf-8")

        def write_peer(count: int) -> None:
            (peer_dir / "test_peer.py").write_text(
                f"import pytest\n\n@pytest.mark.parametrize('i', range({count}))\n"
                "def test_trivial(i):\n    pass\n", encoding="utf-8")

        peer_dir = root / "peer"
        peer_dir.mkdir()
        (peer_dir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "--unisafe-profiles=profiles", "--unisafe-model=loop",
                "--unisafe-suite=s.jsonl", "--unisafe-judge=python:benchjudge:make"]
        write_suite(n)
        timed([*args, "--unisafe-report-dir=fill"], root, env)
        calls = server.state.total
        walls = {}
        for count in (n, small):
            write_suite(count)
            walls[count] = timed([*args, f"--unisafe-report-dir=cached-{count}"], root, env)
        assert server.state.total == calls, "the cached run called the model"
        peer = {}
        for count in (n, small):
            write_peer(count)
            peer[count] = timed([sys.executable, "-m", "pytest", "-q", "-p",
                                 "no:cacheprovider"], peer_dir, env)
    slope = (walls[n] - walls[small]) / (n - small)
    peer_slope = (peer[n] - peer[small]) / (n - small)
    print(f"fully cached run of {n:,} instances vs {n:,} trivial parametrized tests "
          f"(per-instance cost = slope between {small:,} and {n:,})\n")
    print("| run | wall s at N | per instance ms | x peer |")
    print("|---|---|---|---|")
    print(f"| pytest, trivial parametrized tests (peer) | {peer[n]:.2f} | "
          f"{1000 * peer_slope:.3f} | 1.00 |")
    print(f"| unisafe-pytest, fully cached | {walls[n]:.2f} | {1000 * slope:.3f} | "
          f"{slope / peer_slope:.2f} |")

if __name__ == "__main__":
    main()
