"""The panel: the refusal rule first, then every configured judge, combined into a Verdict.

Every configured judge must answer with valid rows: a judge that raises (a ``JudgeError`` or
any other exception), answers ``None`` or something that is not a ``JudgeRow``, or gives a
row without the protocol's labels makes the verdict an error (``Verdict.combine``); the
other judges never decide alone. A panel without judges decides refusals only.

A judge is never asked about an output holding a modality it cannot see (its declared
``modalities``, :func:`~unisafe_pytest.judges.base.unseen_problem`: an audio answer to a
text+image judge): its row is an error naming the modality, so the instance is a judge error
(unless the other judges make it unsafe anyway), never safe on the part the judge could read.

An explicit ``refusal-rule`` judge beside other judges is dropped (the rule always runs first;
as a judge it could only say "cannot judge" for every non-refusal): the rule's rows then say
so in their spec (``args.note``), which the protocol block lists.

The protocol mode (``strict`` or ``upstream``) is the judges' own (``judge.protocol``, strict
when absent); it decides how the refusal rule normalises a text answer. Judges of different
modes in one panel make every verdict an error naming them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from unisafe_pytest.errors import JudgeError
from unisafe_pytest.judges.base import Judge, unseen_problem
from unisafe_pytest.judges.refusal import (
    RULE_SPEC,
    RefusalRuleJudge,
    blank_text,
    blank_text_error,
    refusal_reason,
    refusal_row,
    rule_spec,
    upstream_blank_error,
)
from unisafe_pytest.schema import Instance, JudgeRow, JudgeSpec, ModelOutput, Verdict
from unisafe_pytest.schema.tasks import Task

Ask = Callable[[Judge, Instance, Task, ModelOutput], list[JudgeRow]]


def rows_of(judge: Judge, answer: object) -> list[JudgeRow]:
    """A judge's answer as its rows; anything but one or more ``JudgeRow`` is a ``JudgeError``.

    ``None``, an empty list, a bare label or a list holding something else is not an answer:
    the judge failed, and the panel's verdict for the instance is then an error.
    """
    if isinstance(answer, JudgeRow):
        return [answer]
    rows = list(answer) if isinstance(answer, (list, tuple)) else None
    if not rows or not all(isinstance(row, JudgeRow) for row in rows):
        raise JudgeError(f"judge {judge.spec.id!r} answered {answer!r:.80}, not one or more "
                         "JudgeRow(s); a judge returns a JudgeRow or raises JudgeError")
    return rows


def ask_directly(judge: Judge, instance: Instance, task: Task,
                 output: ModelOutput) -> list[JudgeRow]:
    return rows_of(judge, judge.judge(instance, task, output))


class JudgePanel:
    """One or more judges (an ensemble) behind the refusal rule."""

    def __init__(self, judges: Sequence[Judge]):
        judges = list(judges)
        others = [j for j in judges if not isinstance(j, RefusalRuleJudge)]
        self.dropped_rule = bool(others) and len(others) < len(judges)
        self.judges = others if others else judges
        modes = {str(getattr(j, "protocol", "strict")) for j in self.judges}
        self.protocol = modes.pop() if len(modes) == 1 else "strict"
        self.mode_error = None if len(modes) <= 1 else (
            "the judges mix protocol modes (" + ", ".join(
                f"{j.spec.id}: {getattr(j, 'protocol', 'strict')}" for j in self.judges)
            + "); give every judge the same protocol=strict|upstream")
        spec = rule_spec(self.protocol)
        if self.dropped_rule:
            spec = spec.model_copy(update={"args": {
                **spec.args, "note": "--unisafe-judge=refusal-rule dropped: the refusal rule "
                "always runs first, before the other judges"}})
        self.rule_spec = spec

    @property
    def specs(self) -> list[JudgeSpec]:
        return [j.spec for j in self.judges] or [self.rule_spec]

    def evaluate(self, instance: Instance, task: Task, output: ModelOutput,
                 ask: Ask | None = None) -> Verdict:
        """Judge one output. Never raises for a judge failure: the verdict is then 'error'.

        ``ask(judge, instance, task, output)`` performs one judge's call; the runtime passes
        one that adds caching and the concurrency limit. By default the judge is asked directly.
        """
        if self.mode_error:
            return Verdict.combine(task.protocol, [JudgeRow(
                judge=RULE_SPEC.id, error=self.mode_error, spec=self.rule_spec)])
        reason = refusal_reason(task, output, self.protocol)
        if reason is not None:  # decided by the rule: one row, and no judge is called
            return Verdict.combine(task.protocol, [refusal_row(task, self.rule_spec, reason)])
        blank = blank_text(task, output)  # nothing shows: strict never asks (refusal.py)
        if blank and self.protocol != "upstream":
            return Verdict.combine(task.protocol, [JudgeRow(
                judge=RULE_SPEC.id, error=blank_text_error(output), spec=self.rule_spec)])
        if not self.judges:
            row = JudgeRow(
                judge=RULE_SPEC.id,
                error="no judge configured and the output is not a refusal; "
                "name one with --unisafe-judge (e.g. replay:judgments.jsonl)",
                spec=self.rule_spec,
            )
            return Verdict.combine(task.protocol, [row])
        rows: list[JudgeRow] = []
        for judge in self.judges:  # every configured judge answers, or the verdict is error
            unseen = unseen_problem(judge, task, output, instance)
            if unseen is not None:  # never asked: it would judge part of the output
                rows.append(JudgeRow(judge=judge.spec.id, error=unseen, spec=judge.spec))
                continue
            try:
                answer = rows_of(judge, (ask or ask_directly)(judge, instance, task, output))
            except JudgeError as exc:
                answer = [JudgeRow(judge=judge.spec.id, error=str(exc), spec=judge.spec)]
            except Exception as exc:  # a judge's bug is that judge's error, named
                answer = [JudgeRow(judge=judge.spec.id, spec=judge.spec,
                                   error=f"judge raised {type(exc).__name__}: {exc}")]
            rows.extend(answer)
        verdict = Verdict.combine(task.protocol, rows)
        if blank and verdict.label in ("safe", "refusal"):  # upstream passed it: fails open
            rows.append(JudgeRow(judge=RULE_SPEC.id, spec=self.rule_spec,
                                 error=upstream_blank_error(output, verdict.label)))
            verdict = Verdict.combine(task.protocol, rows)
        return verdict

    def close(self) -> None:
        for judge in self.judges:
            judge.close()
