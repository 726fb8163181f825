"""Shared helpers for the plugin tests: a fake in-process model and judge, and suite files.

The fake model and judge read what to do from each instance's ``metadata.behaviour``:
``safe`` (default), ``unsafe``, ``refuse``, ``model-error``, ``judge-error``, ``empty``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

# numpy (offline judge, audio) cannot be imported twice in one process, and pytester's
# in-process runs drop the modules they imported: import it once here, before any run (it is
# absent without the offline extra)
with contextlib.suppress(ImportError):
    import numpy  # noqa: F401

FAKES = '''
import os

from unisafe_pytest import Capabilities, JudgeRow, JudgeSpec, ModelOutput
from unisafe_pytest.errors import JudgeError, ModelError

CALLS = {"generate": 0, "judge": 0}


class Model:
    name = "fake-model"

    def __init__(self, capabilities=None):
        self.capabilities = capabilities or Capabilities.everything()

    def generate(self, instance, task, ctx):
        CALLS["generate"] += 1
        behaviour = instance.metadata.get("behaviour", "safe")
        if behaviour == "model-error":
            raise ModelError("upstream answered HTTP 503 after 4 attempts")
        if behaviour == "refuse":
            return ModelOutput(text="I'm sorry, but I can't help with that.")
        if behaviour == "empty":
            return ModelOutput(text="")
        if behaviour == "flaky":  # unsafe on odd samples only
            behaviour = "unsafe" if ctx.sample % 2 else "safe"
        return ModelOutput(text=f"answer ({behaviour}) to {instance.id}")

    def describe(self):
        return {"kind": "fake", "model": self.name, "temperature": 0}

    def close(self):
        pass


class Judge:
    spec = JudgeSpec(id="fake-judge", kind="test", prompt_hash="0" * 16, parser_version="1")
    cacheable = True

    def judge(self, instance, task, output):
        CALLS["judge"] += 1
        log = os.environ.get("FAKE_JUDGE_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(instance.id + "\\n")
        behaviour = instance.metadata.get("behaviour", "safe")
        if behaviour == "judge-error":
            raise JudgeError("judge answered 'maybe' three times")
        if task.protocol == "unisafebench":
            ok = behaviour != "unsafe"
            return JudgeRow(judge="fake-judge", ctx=1 if ok else 0, intr=1 if ok else 0,
                            reasoning="fake", spec=self.spec)
        if behaviour == "unsafe" or "(unsafe)" in (output.text or ""):
            return JudgeRow(judge="fake-judge", judgment=1, risk_rating=3,
                            reasoning="The answer gives the harmful steps in detail.",
                            spec=self.spec)
        return JudgeRow(judge="fake-judge", judgment=0, risk_rating=1,
                        reasoning="Harmless.", spec=self.spec)

    def close(self):
        pass


def make_model():
    return Model()


def make_text_model():
    return Model(Capabilities())


def make_judge():
    return Judge()
'''

MODEL_ARGS = ("--unisafe-model=python:fakes:make_model", "--unisafe-judge=python:fakes:make_judge")


def instance(id: str, task: str = "TT", category: str = "Hate", **extra: Any) -> dict[str, Any]:
    line: dict[str, Any] = {"id": id, "task": task, "category": category, "subcategory": "H1",
                            "instruction": f"request {id}"}
    behaviour = extra.pop("behaviour", None)
    if behaviour:
        line["metadata"] = {"behaviour": behaviour}
    line.update(extra)
    return line


def write_suite(path: Path, lines: Sequence[dict[str, Any] | str],
                header: dict[str, Any] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [json.dumps({"unisafe_suite": header})] if header else []
    rows += [x if isinstance(x, str) else json.dumps(x) for x in lines]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def fakes(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester with the fake model/judge importable as ``fakes``."""
    pytester.makepyfile(fakes=FAKES)
    pytester.syspathinsert()
    return pytester


@pytest.fixture
def suite(fakes: pytest.Pytester) -> Callable[..., Path]:
    def make(name: str, lines: Sequence[dict[str, Any] | str], **kw: Any) -> Path:
        return write_suite(fakes.path / name, lines, **kw)

    return make


def run_records(root: Path) -> list[dict[str, Any]]:
    """The merged records of the only run under ``root/.unisafe/runs``."""
    runs = sorted((root / ".unisafe" / "runs").iterdir())
    assert len(runs) == 1, runs
    lines = (runs[0] / "records.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


VOLATILE = ("run_id", "worker", "duration_s", "timestamp")
"""Record fields that differ between two runs of the same work."""


def stable_records(run: Path) -> list[dict[str, Any]]:
    """A run directory's merged records without the fields that differ between runs."""
    out = []
    for line in (run / "records.jsonl").read_text().splitlines():
        record = json.loads(line)
        for key in VOLATILE:
            record.pop(key)
        if record["output"]:
            record["output"]["provenance"].pop("latency_s", None)
        out.append(record)
    return out
