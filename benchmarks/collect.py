"""Collection time and peak memory for N generated instances, against pytest's own cost.

    python benchmarks/collect.py [--n 10000] [--repeat 3]

Writes a native suite of N instances (all seven UniSAFE tasks; image tasks reference a
shared small PNG, so the loader's path/size/signature checks run), then times in fresh
subprocesses:

* ``pytest --collect-only`` of the suite through the plugin (``--unisafe-model=refuse``);
* the same with ``-n 2`` (collection happens in both workers and the controller waits);
* the peer: ``pytest --collect-only`` of a module with N trivial parametrized tests.

Runs with Python's bytecode cache on (see ``workspace.bytecode_cached_env``); the best of
``--repeat`` leaves out the first run's compiling. Prints a markdown table: wall seconds,
peak RSS of the pytest process (MB), and the ratio to the peer. Nothing here is asserted;
the README quotes the table.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.workspace import bytecode_cached_env, pytest_command

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8"
    "ffff3f0005fe02fea7d6a4c50000000049454e44ae426082"
)
TASKS = [("TT", 0, 0), ("TI", 0, 0), ("IE", 1, 0), ("IC", 2, 0), ("MT", 0, 4), ("IT", 1, 0),
         ("MU", 1, 0)]


def write_suite(folder: Path, n: int) -> Path:
    (folder / "img.png").write_bytes(PNG)
    lines = []
    for i in range(n):
        task, images, turns = TASKS[i % len(TASKS)]
        line: dict[str, object] = {
            "id": f"case-{i // len(TASKS):05d}", "task": task, "category": "Hate",
            "subcategory": "H1", "instruction": "a request of moderate length " * 4,
            "target": "the unsafe output", "twin": None,
        }
        if images:
            line["images"] = ["img.png"] * images
        if turns:
            line["turns"] = [f"turn {k}" for k in range(turns)]
        lines.append(json.dumps({k: v for k, v in line.items() if v is not None}))
    path = folder / "bench.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_peer(folder: Path, n: int) -> Path:
    path = folder / "test_peer.py"
    path.write_text(
        "import pytest\n\n"
        f"@pytest.mark.parametrize('i', range({n}))\n"
        "def test_trivial(i):\n    pass\n",
        encoding="utf-8",
    )
    return path


def run(args: list[str], cwd: Path, expected: int) -> tuple[float, float, float]:
    """Wall seconds, pytest's own collection time and peak RSS (MB) of one subprocess
    (which must collect ``expected`` tests)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(pytest_command("--collect-only", *args), cwd=cwd, capture_output=True,
                          text=True, check=False, env=bytecode_cached_env())
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"pytest failed ({proc.returncode}):\n{proc.stdout[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # pytest's "N tests collected in X s": session start to the end of collection
    found = re.search(r"(\d+) tests? collected in ([0-9.]+)s", proc.stdout)
    if found and int(found.group(1)) != expected:
        raise SystemExit(f"collected {found.group(1)} tests, expected {expected}")
    collected = float(found.group(2)) if found else float("nan")
    return wall, collected, max(peak, before) / 1024


def best(args: list[str], cwd: Path, repeat: int, expected: int
         ) -> tuple[float, float, float]:
    results = [run(args, cwd, expected) for _ in range(repeat)]
    return (min(r[0] for r in results), min(r[1] for r in results),
            max(r[2] for r in results))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # two sibling folders: run from its folder, pytest would collect the other's tests
        folder, peer_dir = Path(tmp) / "unisafe", Path(tmp) / "peer"
        folder.mkdir()
        (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        suite = write_suite(folder, opts.n)
        peer_dir.mkdir()
        (peer_dir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        write_peer(peer_dir, opts.n)
        # Peak RSS of children is a high-water mark over all children so far: measure the
        # peer first, then the plugin runs (their peak can only be >= what they used).
        peer = best([], peer_dir, opts.repeat, opts.n)
        plugin = best(["--unisafe-model=refuse", f"--unisafe-suite={suite}"], folder,
                      opts.repeat, opts.n)
        dist = best(["--unisafe-model=refuse", f"--unisafe-suite={suite}", "-n", "2"], folder,
                    opts.repeat, opts.n)
    print(f"collection of {opts.n:,} instances (best of {opts.repeat}, wall seconds of the "
          "whole pytest process)\n")
    print("| run | wall s (process) | collection s (pytest's timer) | peak RSS MB | "
          "wall / peer |")
    print("|---|---|---|---|---|")
    for name, (wall, collected, rss) in (
        ("pytest, trivial parametrized tests (peer)", peer), ("unisafe suite", plugin),
        ("unisafe suite, -n 2", dist),
    ):
        print(f"| {name} | {wall:.2f} | {collected:.2f} | {rss:.0f} | {wall / peer[0]:.2f} |")


if __name__ == "__main__":
    main()
