"""Start-up cost of the plugin installed but inactive, on a plain suite.

    python benchmarks/startup.py [--repeat 40] [--tests 1]

Writes a plain project (one ``pytest.ini``, ``--tests`` trivial tests, no unisafe option) and
times, in fresh subprocesses, interleaved (A B A B ...) so drift on a shared machine hits
both sides alike:

* ``pytest --version``-style start-up: ``pytest -p no:unisafe --co -q`` against
  ``pytest --co -q`` (the plugin loaded by its ``pytest11`` entry point, inactive: no
  ``--unisafe-model``);
* the same two running the suite (``pytest -q``).

and, steadier on a busy machine, the plugin's own CPU time inside a fresh process (after
pytest is imported and configured without it): importing its entry-point module, adding its
options and its hookspecs, the work an inactive plugin does (its ``pytest_configure`` only
reads two options).

``-p no:unisafe`` blocks the entry point by its name (``unisafe`` in pyproject.toml), so the
difference is what an installed, inactive plugin adds to a team's every pytest run: its
import, its options and hookspecs, its hooks. Reports the median and interquartile range of
each side and of the paired differences, in ms, for wall time and for CPU time (user +
system of the child process: the steadier figure on a shared machine, where another
process's burst lands in one run's wall time), and the difference of the fastest runs of
each side (what is left when no other process got in the way). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.workspace import bytecode_cached_env


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``command``."""
    cpu = _cpu()
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env,
                          check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{command} failed ({proc.returncode}):\n{proc.stdout[-2000:]}"
                         f"\n{proc.stderr[-2000:]}")
    return wall, _cpu() - cpu


OWN = """
import sys, time
from _pytest.config import get_config
config = get_config()
started = time.process_time()
from unisafe_pytest.pytest_plugin import plugin
plugin.pytest_addoption(config._parser)
plugin.pytest_addhooks(config.pluginmanager)
print("OWN", time.process_time() - started, "unisafe_pytest.schema" in sys.modules)
"""


def _own(env: dict[str, str]) -> float:
    """CPU seconds of the plugin's own start-up work in a fresh process."""
    proc = subprocess.run([sys.executable, "-c", OWN], capture_output=True, text=True, env=env,
                          check=True)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("OWN"))
    if line.split()[2] != "False":
        raise SystemExit("the inactive plugin imported the schema")
    return float(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--tests", type=int, default=1)
    opts = parser.parse_args()
    env = bytecode_cached_env()
    base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    rows: list[tuple[str, list[tuple[float, float]], list[tuple[float, float]]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (root / "test_plain.py").write_text("".join(
            f"def test_{i}():\n    pass\n\n" for i in range(opts.tests)), encoding="utf-8")
        for label, extra in (("start-up (--collect-only)", ["--co"]), ("suite run", [])):
            for _ in range(2):  # warm the bytecode caches of both sides
                _run([*base, *extra], root, env)
                _run([*base, "-p", "no:unisafe", *extra], root, env)
            active: list[tuple[float, float]] = []
            blocked: list[tuple[float, float]] = []
            for _ in range(opts.repeat):
                active.append(_run([*base, *extra], root, env))
                blocked.append(_run([*base, "-p", "no:unisafe", *extra], root, env))
            rows.append((label, active, blocked))
        own = [1000 * _own(env) for _ in range(opts.repeat)]
    print(f"plain suite of {opts.tests} test(s); {opts.repeat} interleaved runs per side; "
          "ms, median [q1, q3]\n")
    print("| run | time | `-p no:unisafe` | plugin installed, inactive | added (paired) "
          "| added (fastest vs fastest) |")
    print("|---|---|---|---|---|---|")
    for label, active, blocked in rows:
        for which, at in (("wall", 0), ("CPU", 1)):
            on = [1000 * run[at] for run in active]
            off = [1000 * run[at] for run in blocked]
            added = [a - b for a, b in zip(on, off, strict=True)]
            cells = []
            for values in (off, on, added):
                q1, median, q3 = _quartiles(values)
                cells.append(f"{median:.1f} [{q1:.1f}, {q3:.1f}]")
            cells.append(f"{min(on) - min(off):.1f}")
            print(f"| {label} | {which} | " + " | ".join(cells) + " |")
    q1, median, q3 = _quartiles(own)
    print(f"| plugin's own work in process (import, options, hookspecs) | CPU | 0 | "
          f"{median:.1f} [{q1:.1f}, {q3:.1f}] | {median:.1f} | {min(own):.1f} |")


if __name__ == "__main__":
    main()
