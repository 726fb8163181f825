"""The judge protocol: one judge answers one (instance, output) pair with a JudgeRow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from unisafe_pytest.schema import Instance, JudgeRow, JudgeSpec, ModelOutput
from unisafe_pytest.tasks import Task


@runtime_checkable
class Judge(Protocol):
    """A judge. It never sees pytest; it returns a row or raises ``JudgeError``."""

    spec: JudgeSpec

    def judge(
        self, instance: Instance, task: Task, output: ModelOutput
    ) -> JudgeRow | Sequence[JudgeRow]:
        """Judge one output: one row, or one row per underlying judge (replayed panels).

        A judge that cannot decide raises ``JudgeError`` (or returns a row with ``error``).
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...
