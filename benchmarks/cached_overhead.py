"""Per-instance overhead of a fully cached run, against pytest's own per-test cost.

    python benchmarks/cached_overhead.py [--n 10000]

Fills the cache with one run of N text instances against a loopback FAKE chat server
(tests/servers/latency_server.py, no latency), then times in fresh subprocesses:

* the same run again, fully cached (no model call; the local judge's rows are cached too);
* the peer: pytest running N trivial parametrized tests (``def test(i): pass``).

Per-instance cost = wall / N for each; the ratio compares them. Prints a markdown table.
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
        (root / "s.jsonl").write_text("".join(
            json.dumps({"id": f"t{i:05d}", "task": "TT", "category": "Hate",
                        "instruction": f"request {i}"}) + "\n" for i in range(n)),
            encoding="utf-8")
        peer_dir = root / "peer"
        peer_dir.mkdir()
        (peer_dir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (peer_dir / "test_peer.py").write_text(
            f"import pytest\n\n@pytest.mark.parametrize('i', range({n}))\n"
            "def test_trivial(i):\n    pass\n", encoding="utf-8")
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "--unisafe-profiles=profiles", "--unisafe-model=loop",
                "--unisafe-suite=s.jsonl", "--unisafe-judge=python:benchjudge:make"]
        timed([*args, "--unisafe-report-dir=fill"], root, env)
        calls = server.state.total
        cached = timed([*args, "--unisafe-report-dir=cached"], root, env)
        assert server.state.total == calls, "the cached run called the model"
        peer = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                     peer_dir, env)
    print(f"fully cached run of {n:,} instances vs {n:,} trivial parametrized tests\n")
    print("| run | wall s | per instance ms | x peer |")
    print("|---|---|---|---|")
    for name, wall in (("pytest, trivial parametrized tests (peer)", peer),
                       ("unisafe-pytest, fully cached", cached)):
        print(f"| {name} | {wall:.2f} | {1000 * wall / n:.3f} | {wall / peer:.2f} |")


if __name__ == "__main__":
    main()
