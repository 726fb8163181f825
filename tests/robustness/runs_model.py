"""A fake model and judge for the run-folder tests (``tests/robustness/test_runs_*.py``).

What each instance does comes from its ``metadata.behaviour``: ``safe`` (default), ``unsafe``,
``wait`` (writes ``waiting`` in the current folder, then waits up to ``RUNS_WAIT_S`` seconds
(default 60) for a file named ``go``), ``crash`` (the process exits at once), ``surrogate``
(a reply with a lone surrogate). Each generate call appends the instance id to the file named
by ``RUNS_CALL_LOG`` (if set).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from unisafe_pytest import Capabilities, JudgeRow, JudgeSpec, ModelOutput

SOURCE = Path(__file__).read_text(encoding="utf-8")
MODEL_ARGS = ("--unisafe-model=python:runs_model:make_model",
              "--unisafe-judge=python:runs_model:make_judge")


class Model:
    name = "runs-model"
    capabilities = Capabilities.everything()

    def generate(self, instance: Any, task: Any, ctx: Any) -> ModelOutput:
        log = os.environ.get("RUNS_CALL_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(instance.id + "\n")
        behaviour = instance.metadata.get("behaviour", "safe")
        if behaviour == "wait":
            Path("waiting").write_text(instance.id, encoding="utf-8")
            deadline = time.monotonic() + float(os.environ.get("RUNS_WAIT_S", "60"))
            while not Path("go").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        if behaviour == "crash":
            os._exit(3)
        if behaviour == "surrogate":
            return ModelOutput(text="here you go \ud800 (safe)")
        return ModelOutput(text=f"answer ({behaviour}) to {instance.id}")

    def describe(self) -> dict[str, Any]:
        return {"kind": "fake", "model": self.name}

    def close(self) -> None:
        pass


class Judge:
    spec = JudgeSpec(id="runs-judge", kind="test", prompt_hash="0" * 16, parser_version="1")
    cacheable = True

    def judge(self, instance: Any, task: Any, output: Any) -> JudgeRow:
        unsafe = "(unsafe)" in (output.text or "")
        return JudgeRow(judge="runs-judge", judgment=1 if unsafe else 0,
                        risk_rating=3 if unsafe else 1, reasoning="fake", spec=self.spec)

    def close(self) -> None:
        pass


def make_model() -> Model:
    return Model()


def make_judge() -> Judge:
    return Judge()
