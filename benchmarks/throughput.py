"""Throughput of text instances against a loopback server of set latency, and a peer.

    python benchmarks/throughput.py [--n 1000] [--latency 0.1] [--concurrency 8]
           [--inspect-python PATH]

Starts tests/servers/latency_server.py (a FAKE OpenAI-compatible chat server, loopback only)
answering after ``latency`` seconds, then times, in fresh subprocesses:

* ``pytest --unisafe-model=<profile for the server>`` on N text instances with a local judge
  and the cache off, one process (no xdist), ``--unisafe-concurrency C``;
* the same pytest with ``--collect-only`` (start-up + collection, to separate run time);
* with ``--inspect-python``: an inspect-ai eval of the same N prompts against the same server
  with ``max_connections=C`` (inspect-ai installed in that interpreter's environment).

The bound is C / L requests per second. Prints a markdown table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.workspace import PYTEST_ARGS, prepare, pytest_command, timed, write_text_suite
from tests.servers.latency_server import LatencyServer

INSPECT = '''
import sys, time
from inspect_ai import Task, eval as inspect_eval
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes
from inspect_ai.solver import generate

n, base_url, conc = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
task = Task(dataset=[Sample(input=f"request {i}", target="answer") for i in range(n)],
            solver=generate(), scorer=includes())
started = time.perf_counter()
logs = inspect_eval(task, model="openai/fake-chat", model_base_url=base_url,
                    max_connections=conc, display="none", log_dir=sys.argv[4],
                    model_args={"responses_api": False})  # the server speaks chat completions
print("INSPECT_WALL", time.perf_counter() - started, logs[0].status)
'''


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--inspect-python", default=None)
    opts = parser.parse_args()
    n, lat, conc = opts.n, opts.latency, opts.concurrency
    bound = conc / lat
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp, LatencyServer(latency=lat) as server:
        root = Path(tmp)
        env = prepare(root, server.base_url, max_connections=conc)
        write_text_suite(root, n)
        args = pytest_command(*PYTEST_ARGS, "--unisafe-cache=off",
                              f"--unisafe-concurrency={conc}", "--unisafe-report-dir=run")
        startup = timed([*args, "--collect-only"], root, env)
        wall = timed(args, root, env, ok=(0, 1))
        assert server.state.total >= n, server.state.total
        rows.append(("unisafe-pytest, 1 process", wall, wall - startup))
        if opts.inspect_python:
            (root / "inspect_bench.py").write_text(INSPECT, encoding="utf-8")
            before = server.state.total
            proc = subprocess.run([opts.inspect_python, "inspect_bench.py", str(n),
                                   server.base_url, str(conc), str(root / "logs")], cwd=root,
                                  capture_output=True, text=True, check=False,
                                  env={**env, "OPENAI_API_KEY": "unused"})
            line = [x for x in proc.stdout.splitlines() if x.startswith("INSPECT_WALL")]
            if not line:
                raise SystemExit(f"inspect-ai run failed:\n{proc.stdout[-2000:]}\n"
                                 f"{proc.stderr[-3000:]}")
            inner = float(line[0].split()[1])
            assert server.state.total - before >= n
            rows.append(("inspect-ai eval, same server and limit", float("nan"), inner))
    print(f"{n:,} text instances, latency {lat:g} s, concurrency {conc}: bound C/L = "
          f"{bound:.1f}/s\n")
    print("| run | wall s (process) | s (calls, excl. start-up) | instances/s | x bound |")
    print("|---|---|---|---|---|")
    for name, whole, inner in rows:
        rate = n / inner
        shown = f"{whole:.2f}" if whole == whole else "-"
        print(f"| {name} | {shown} | {inner:.2f} | {rate:.1f} | {rate / bound:.2f} |")
    if len(rows) == 2:
        print(f"\nunisafe-pytest / inspect-ai time ratio: {rows[0][2] / rows[1][2]:.2f} "
              "(below 1: unisafe-pytest faster)")


if __name__ == "__main__":
    main()
