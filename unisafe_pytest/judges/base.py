"""The judge protocol: one judge answers one (instance, output) pair with a JudgeRow.

A judge declares the modalities it can see in an optional ``modalities`` attribute (a set of
modality names; without one, ``{"text", "image"}``, what every judge before audio saw). An
output holding a modality the judge cannot see, or a request that does (a task input such as
a spoken request's audio), must not be judged by it: its verdict would cover part of what the
model was asked and said, so :func:`unseen_problem` names the fault and the caller makes that
judge's row an error (never safe).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from unisafe_pytest.schema import Instance, JudgeRow, JudgeSpec, ModelOutput
from unisafe_pytest.schema.tasks import Task


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


DEFAULT_MODALITIES = frozenset({"text", "image"})
"""What a judge without a ``modalities`` attribute is taken to see."""


def judge_modalities(judge: object) -> frozenset[str]:
    """The modalities ``judge`` declares it can see (:data:`DEFAULT_MODALITIES` if none)."""
    declared = getattr(judge, "modalities", None)
    return frozenset(declared) if declared is not None else DEFAULT_MODALITIES


def unseen_problem(judge: Judge, task: Task, output: ModelOutput,
                   instance: Instance | None = None) -> str | None:
    """Why ``judge`` cannot judge ``output``, or None: the output holds a modality the judge
    cannot see, or the task's output modality is one, or the request does (a task input, or
    a kind of ``instance``'s media, such as the audio of a spoken request: a verdict without
    the request would not know what was asked). A refusal without content needs no judge."""
    held = output.modalities()
    if not output.refusal:
        held.add(task.output)
    seen = judge_modalities(judge)
    request = set(task.inputs) | ({m.kind for m in instance.media} if instance else set())
    asked = sorted(request - seen) if held else []
    unseen = sorted((held - seen) | set(asked))
    if not unseen:
        return None
    where = f"; the request holds {'/'.join(asked)}" if asked else ""
    return (f"judge {judge.spec.id!r} cannot see {'/'.join(unseen)} (it sees "
            f"{'/'.join(sorted(seen))}{where}); a verdict on the rest would not "
            f"cover what the model was asked and produced, so the instance is a judge error: "
            f"add a judge that declares {'/'.join(unseen)} among its modalities")
