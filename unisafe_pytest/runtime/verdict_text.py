"""Verdict -> pytest outcome, and the short failure texts every CI dashboard shows.

    safe, refusal -> passed
    unsafe        -> failed   (UnsafeVerdict raised by the test body)
    model error   -> error    (ModelError raised in setup)
    judge error   -> error    (JudgeError raised in setup)
    unsupported   -> skipped  (pytest.skip in setup, reason names the flag)

A failure's first line is the one-line message (<= 200 chars); the body follows with
``key: value`` lines and short excerpts, capped at about 2 KB. Every value from data (ids,
categories, model text, judge rationales, error messages) goes through
:func:`~unisafe_pytest.io.printable.printable`: every control, format (bidi) or separator
character, ESC of ANSI sequences included, is shown as its escape, so nothing in a report can
drive the terminal or disguise itself; the pytest layer's ``failure_repr`` applies the same
rule to every report it makes. (:func:`clean` is for what records keep.)
"""

from __future__ import annotations

import re

from unisafe_pytest.io.printable import printable
from unisafe_pytest.schema import Instance, JudgeRow, Outcome, Verdict
from unisafe_pytest.schema.tasks import Task

MESSAGE_CHARS = 200
BODY_CHARS = 2000
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class UnisafeFailure(Exception):
    """Base of the exceptions that carry a verdict to pytest (never retried)."""


class UnsafeVerdict(UnisafeFailure, AssertionError):
    """The judges found the output unsafe: the test fails.

    An ``AssertionError`` too, so tools that tell a test's failure from a broken test by the
    exception's type (Allure's ``failed`` vs ``broken``) file it as a failure.
    """


def outcome_of(verdict: Verdict | None) -> Outcome:
    """The table above for a judged instance: its verdict's outcome (no verdict: error).

    A whole item's outcome is pytest's (its report); this decides the records of the other
    samples of an item, which pytest never sees.
    """
    label = verdict.label if verdict is not None else "error"
    if label == "unsafe":
        return "failed"
    return "error" if label == "error" else "passed"


def clean(text: str, limit: int | None = None) -> str:
    """Text fit for a record: no ANSI escapes, no C0 controls but tab and line ends,
    optionally cut. (Printing goes through :func:`shown`.)"""
    text = _CONTROL.sub("", _ANSI.sub("", text))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _one_line(text: str, limit: int) -> str:
    return shown(" ".join(text.split()), limit)


def shown(text: str, limit: int | None = None, *, multiline: bool = False) -> str:
    """Data as a report shows it: every control, format or separator character escaped
    (:func:`~unisafe_pytest.io.printable.printable`; ESC of an ANSI sequence shows as ``\\x1b``),
    then cut to ``limit`` characters."""
    text = printable(text, multiline=multiline)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _cap(lines: list[str]) -> str:
    body = "\n".join(lines)
    return body if len(body) <= BODY_CHARS else body[: BODY_CHARS - 1] + "…"


def unsafe_text(instance: Instance, task: Task, verdict: Verdict, model: str) -> str:
    where = f"{instance.category}/{instance.subcategory}" if instance.subcategory else (
        instance.category)
    rating = f", rating {verdict.risk_rating:.1f}" if verdict.risk_rating is not None else ""
    valid = [r for r in verdict.rows if r.valid]
    votes = f", {sum(1 for r in valid if not _row_safe(r))}/{len(valid)} judges"
    head = f"UNSAFE {task.code} {instance.id} {where}{rating}{votes}: "
    head += " ".join((verdict.rationale or "no rationale given").split())
    lines = [
        _one_line(head, MESSAGE_CHARS),
        f"task: {task.code} ({task.name})",
        f"id: {shown(instance.id)}",
        f"category: {shown(instance.category)}",
        f"subcategory: {shown(instance.subcategory or '-')}",
        f"model: {shown(model)}",
        f"judges: {shown(', '.join(verdict.judges))}",
        f"score: {verdict.score:.3f}" if verdict.score is not None else "score: -",
        f"rationale: {shown(verdict.rationale, 600, multiline=True)}",
    ]
    return _cap(lines)


def _row_safe(row: JudgeRow) -> bool:
    if row.ctx is not None:
        return row.both_safe
    return row.refusal or row.judgment == 0


def error_text(kind: str, instance: Instance, task: Task, message: str, model: str) -> str:
    head = f"{kind} ERROR {task.code} {instance.id}: {' '.join(message.split())}"
    lines = [
        _one_line(head, MESSAGE_CHARS),
        f"task: {task.code} ({task.name})",
        f"id: {shown(instance.id)}",
        f"category: {shown(instance.category)}",
        f"model: {shown(model)}",
        f"detail: {shown(message, 1200, multiline=True)}",
        "this instance is unscored (an error is never counted safe)",
    ]
    return _cap(lines)
