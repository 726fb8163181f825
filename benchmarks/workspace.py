"""What the benchmarks share: a temporary project aimed at the loopback server, and timing.

``prepare`` writes ``pytest.ini``, a local judge module (``benchjudge``, instant, cacheable)
and the model profile ``loop`` (openai-chat against the server); ``write_text_suite`` writes
N text instances; ``timed`` runs one command and returns its wall seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

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

PYTEST_ARGS = ["--unisafe-profiles=profiles", "--unisafe-model=loop", "--unisafe-suite=s.jsonl",
               "--unisafe-judge=python:benchjudge:make"]
"""The plugin arguments every benchmark run uses (after ``prepare``)."""


def prepare(root: Path, base_url: str, **profile: object) -> dict[str, str]:
    """Write the project files into ``root``; the environment to run pytest in."""
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (root / "benchjudge.py").write_text(JUDGE, encoding="utf-8")
    (root / "profiles").mkdir()
    lines = ['kind = "openai-chat"', 'model = "fake-chat"', f'base_url = "{base_url}"',
             'api_key_env = ""', "vision = false"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in profile.items()]
    (root / "profiles" / "loop.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = bytecode_cached_env()
    # an existing PYTHONPATH stays after the project (to time another checkout's package)
    path = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    return {**env, "PYTHONPATH": path}


def bytecode_cached_env() -> dict[str, str]:
    """This environment with Python's bytecode cache on, as pytest users have it.

    With ``PYTHONDONTWRITEBYTECODE`` set (some CI images set it), every run recompiles every
    module it imports (pytest rewrites the asserts of plugin packages on import, too), which
    adds seconds of constant start-up to both sides and lands inside pytest's collection
    timer for the modules a plugin imports lazily. The first run of a benchmark fills the
    ``__pycache__`` folders; the best-of/slope figures then measure the runs themselves.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def write_text_suite(root: Path, count: int) -> None:
    (root / "s.jsonl").write_text("".join(
        json.dumps({"id": f"t{i:05d}", "task": "TT", "category": "Hate",
                    "instruction": f"request {i}"}) + "\n" for i in range(count)),
        encoding="utf-8")


def pytest_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]


def timed(command: list[str], cwd: Path, env: dict[str, str],
          ok: tuple[int, ...] = (0,)) -> float:
    """Wall seconds of one command; another exit status than ``ok`` stops the benchmark."""
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env,
                          check=False)
    wall = time.perf_counter() - started
    if proc.returncode not in ok:
        raise SystemExit(f"{command[:4]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}"
                         f"\n{proc.stderr[-3000:]}")
    return wall
