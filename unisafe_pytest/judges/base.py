"""The judge protocol: one judge answers one (instance, output) pair with a JudgeRow."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from unisafe_pytest.schema import Instance, JudgeRow, JudgeSpec, ModelOutput
from unisafe_pytest.tasks import Task


@runtime_checkable
class Judge(Protocol):
    """A judge. It never sees pytest; it returns a row or raises ``JudgeError``."""

    spec: JudgeSpec

    def judge(self, instance: Instance, task: Task, output: ModelOutput) -> JudgeRow:
        """Judge one output. A judge that cannot decide raises ``JudgeError``."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
