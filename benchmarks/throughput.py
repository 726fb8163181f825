"""Throughput of text instances against a loopback server of set latency, beside its floor.

    python benchmarks/throughput.py [--n 1000] [--latency 0.1] [--concurrency 8[,128...]]
           [--workers 0[,8...]] [--dist default[,load,worksteal]] [--inspect-python PATH]
           [--repeat 3]

Starts tests/servers/latency_server.py (a FAKE OpenAI-compatible chat server, loopback only)
answering after ``latency`` seconds, then for each concurrency C times, in fresh subprocesses:

* the floor: a bare httpx client with C threads making the same N chat calls (no pytest, no
  records, no judge): what the machine's Python can do at this C; and above C = 16 the same
  threads over clients of 16 connections each (httpx's pool costs O(connections) per call;
  the adapters split their connections the same way, ``adapters/connections.py``);
* ``pytest --unisafe-model=<profile for the server>`` on N text instances with a local judge
  and the cache off, ``--unisafe-concurrency C``, for each ``--workers`` count (0: one
  process, no xdist; W: ``-n W``, once per ``--dist``: ``default`` gives none, so the
  plugin's choice, ``worksteal``; ``load`` is xdist's own default);
* the same pytest with ``--collect-only`` (start-up + collection, to separate run time);
* with ``--inspect-python``: an inspect-ai eval of the same N prompts against the same server
  with ``max_connections=C`` (inspect-ai installed in that interpreter's environment).

The bound is C / L requests per second; "x floor" is the bare client's seconds over the row's
(1.00: as fast as the bare client); "CPU ms / instance" is the user + system CPU time of the
run's processes (xdist workers included, start-up included) over N, the figure that decides
how far a machine's cores carry a run; "peak in flight" is the most calls the server held at
once. With ``--repeat R`` every row is measured R times, in turn (the rows of one repetition
run back to back, so a ratio compares runs made under the same load), and the table shows
medians, "x floor" the median of each repetition's ratio. Prints a markdown table; nothing is
asserted. An existing
``PYTHONPATH`` is kept after the project, so ``PYTHONPATH=<other checkout>`` times that
checkout's package.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.workspace import PYTEST_ARGS, prepare, pytest_command, timed, write_text_suite
from tests.servers.latency_server import LatencyServer

BARE = '''
import sys, threading, time
from concurrent.futures import ThreadPoolExecutor
import httpx

n, base_url, conc, per = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
count = -(-conc // per)  # per = conc: one client; else clients of `per` connections
clients = [httpx.Client(limits=httpx.Limits(max_connections=-(-conc // count)), timeout=120)
           for _ in range(count)]
mine, lock, made = threading.local(), threading.Lock(), [0]

def client():
    if not hasattr(mine, "client"):
        with lock:
            mine.client, made[0] = clients[made[0] % count], made[0] + 1
    return mine.client

def one(i):
    reply = client().post(base_url + "/chat/completions", json={
        "model": "fake-chat", "messages": [{"role": "user", "content": f"request {i}"}]})
    reply.raise_for_status()
    return reply.json()["choices"][0]["message"]["content"]

started = time.perf_counter()
with ThreadPoolExecutor(conc) as pool:
    answers = list(pool.map(one, range(n)))
print("BARE_WALL", time.perf_counter() - started, len(answers))
'''

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

Row = tuple[str, int, float, float, float, int]
"""(run, C, wall seconds of the process or NaN, seconds of the calls, CPU seconds, most
calls in flight at the server at once)."""


def _cpu() -> float:
    """CPU seconds (user + system) of the finished child processes (and theirs) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reset_peak(server: LatencyServer) -> None:
    with server.state.lock:
        server.state.peak = 0


def _inner(python: str, script: str, marker: str, args: list[str], root: Path,
           env: dict[str, str]) -> float:
    """Run ``script`` in ``python``; the seconds it printed after ``marker``."""
    name = f"{marker.lower()}.py"
    (root / name).write_text(script, encoding="utf-8")
    proc = subprocess.run([python, name, *args], cwd=root, capture_output=True, text=True,
                          check=False, env=env)
    line = [x for x in proc.stdout.splitlines() if x.startswith(marker)]
    if not line:
        raise SystemExit(f"{marker} run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return float(line[0].split()[1])


def measure(root: Path, server: LatencyServer, n: int, conc: int, workers: list[int],
            dists: list[str], inspect_python: str | None) -> list[Row]:
    """The rows of one concurrency: floor, unisafe-pytest per worker count, inspect-ai."""
    root.mkdir()
    env = prepare(root, server.base_url, max_connections=conc)
    write_text_suite(root, n)
    rows: list[Row] = []
    floors = [("bare httpx client, C threads (floor)", conc)]
    if conc > 16:
        floors.append(("bare httpx, C threads, clients of 16 connections", 16))
    for name, per in floors:
        before, cpu = server.state.total, _cpu()
        _reset_peak(server)
        inner = _inner(sys.executable, BARE, "BARE_WALL",
                       [str(n), server.base_url, str(conc), str(per)], root, env)
        rows.append((name, conc, float("nan"), inner, _cpu() - cpu, server.state.peak))
        assert server.state.total - before >= n
    args = pytest_command(*PYTEST_ARGS, "--unisafe-cache=off",
                          f"--unisafe-concurrency={conc}", "--unisafe-report-dir=run")
    startup = timed([*args, "--collect-only"], root, env)
    runs = [(count, dist) for count in workers for dist in (dists if count else [""])]
    for count, dist in runs:
        extra = ["-n", str(count)] if count else ["-p", "no:xdist"]
        if dist and dist != "default":
            extra += ["--dist", dist]
        before, cpu = server.state.total, _cpu()
        _reset_peak(server)
        wall = timed([*args, *extra], root, env, ok=(0, 1))
        cpu = _cpu() - cpu
        assert server.state.total - before >= n, server.state.total - before
        shown = "" if dist == "default" else f" --dist {dist}"
        name = f"unisafe-pytest, -n {count}{shown}" if count else "unisafe-pytest, 1 process"
        # under -n, workers start after collection in the controller: start-up is larger
        # than --collect-only's, so the calls' seconds are an upper bound there
        rows.append((name, conc, wall, wall - startup, cpu, server.state.peak))
    if inspect_python:
        before, cpu = server.state.total, _cpu()
        _reset_peak(server)
        inner = _inner(inspect_python, INSPECT, "INSPECT_WALL",
                       [str(n), server.base_url, str(conc), str(root / "logs")], root,
                       {**env, "OPENAI_API_KEY": "unused"})
        assert server.state.total - before >= n
        rows.append(("inspect-ai eval, same server and limit", conc, float("nan"), inner,
                     _cpu() - cpu, server.state.peak))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", default="8", help="one C or several: 32,128")
    parser.add_argument("--workers", default="0", help="0 (one process) and/or xdist counts")
    parser.add_argument("--dist", default="default",
                        help="under -n: default (none given) and/or xdist dists: load,worksteal")
    parser.add_argument("--inspect-python", default=None)
    parser.add_argument("--repeat", type=int, default=1,
                        help="repeat every row; medians are shown")
    opts = parser.parse_args()
    n, lat = opts.n, opts.latency
    concs = [int(c) for c in opts.concurrency.split(",")]
    workers = [int(w) for w in opts.workers.split(",")]
    dists = opts.dist.split(",")
    reps: list[list[Row]] = []
    with tempfile.TemporaryDirectory() as tmp, LatencyServer(latency=lat) as server:
        for rep in range(opts.repeat):
            rows: list[Row] = []
            for conc in concs:
                rows += measure(Path(tmp) / f"c{conc}-{rep}", server, n, conc, workers, dists,
                                opts.inspect_python)
            reps.append(rows)
    print(f"{n:,} text instances, latency {lat:g} s; bound C/L; 'x floor' = bare client's "
          "seconds / the row's seconds in the same repetition; median of "
          f"{opts.repeat} repetition(s)\n")
    print("| run | C | wall s (process) | s (calls, excl. start-up) | instances/s | x bound "
          "| x floor | CPU ms / instance | peak in flight |")
    print("|---|---|---|---|---|---|---|---|---|")
    for at, (name, conc, *_) in enumerate(reps[0]):
        same = [rows[at] for rows in reps]
        floors = [next(r[3] for r in rows if r[1] == conc and "floor" in r[0]) for rows in reps]
        whole = median(r[2] for r in same)
        inner = median(r[3] for r in same)
        ratio = median(f / r[3] for f, r in zip(floors, same, strict=True))
        cpu = median(r[4] for r in same)
        peak = int(median(r[5] for r in same))
        rate = n / inner
        shown = f"{whole:.2f}" if whole == whole else "-"
        print(f"| {name} | {conc} | {shown} | {inner:.2f} | {rate:.1f} | "
              f"{rate / (conc / lat):.2f} | {ratio:.2f} | {1000 * cpu / n:.2f} | {peak} |")

if __name__ == "__main__":
    main()
