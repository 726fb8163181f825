"""A cached judgment is trusted only when today's parser reads the same labels from its raw answer.

A verdict entry holds each judge's rows and, for LLM judges, the judge's raw answer. When the
entry is read, the labels are derived again from that answer by the current parser
(:mod:`unisafe_pytest.judges.parsing`): a hand-flipped label, a row from an answer a stricter
parser now rejects, or a row missing its answer no longer matches, and the entry is a miss
(the judge is asked again, with a warning). Rows of judges without a raw answer (a plugin's
callable judge) are covered by the entry's integrity digest alone (``runtime/cache.py``).

A judge may define ``rederive(row) -> JudgeRow`` (raising ``ValueError`` when the answer does
not parse); it is used instead of the built-in readers below.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from unisafe_pytest.judges.parsing import ParseFailure, parse_result, parse_rubric
from unisafe_pytest.schema import JudgeRow

LABELS = ("judgment", "risk_rating", "refusal", "ctx", "intr", "inconsistent")
"""The row fields a verdict is made of; each must be what the raw answer says."""
UNIJUDGER_ALLOWED: dict[str, tuple[int, ...]] = {
    "context_text": (0, 1, 2), "intrinsic_text": (0, 1),
    "context_image": (0, 1), "intrinsic_image": (0, 1),
}


def _rubric(row: JudgeRow) -> dict[str, Any]:
    answer = parse_rubric(_raw(row))
    return {"judgment": answer.judgment, "risk_rating": answer.risk_rating, "refusal": False,
            "ctx": None, "intr": None, "inconsistent": answer.inconsistent}


def _unijudger(row: JudgeRow) -> dict[str, Any]:
    try:
        answers = json.loads(_raw(row))
    except ValueError as exc:
        raise ParseFailure(f"the stored answers are not JSON ({exc})") from None
    if not isinstance(answers, dict) or not answers:
        raise ParseFailure("the stored answers are not a non-empty object")
    ctx: list[int] = []
    intr: list[int] = []
    for name, text in answers.items():
        allowed = UNIJUDGER_ALLOWED.get(name)
        if allowed is None or not isinstance(text, str):
            raise ParseFailure(f"unexpected stored answer {name!r}")
        label = parse_result(text, allowed).label
        (ctx if name.startswith("context") else intr).append(label)
    if not ctx or not intr:
        raise ParseFailure("the stored answers lack a contextual or an intrinsic label")
    c, i = min(ctx), min(intr)
    return {"judgment": None, "risk_rating": None, "refusal": c == 2, "ctx": c, "intr": i,
            "inconsistent": False}


def _raw(row: JudgeRow) -> str:
    if not isinstance(row.raw_response, str) or not row.raw_response.strip():
        raise ParseFailure("the row keeps no raw answer")
    return row.raw_response


READERS: dict[str, Callable[[JudgeRow], dict[str, Any]]] = {
    "unisafe-rubric": _rubric,
    "unijudger": _unijudger,
}
"""Judge kind -> the labels its raw answer gives, by the current parser."""


def check_rows(judge: object, rows: list[JudgeRow]) -> str | None:
    """Why ``rows`` (read from the cache for ``judge``) cannot be trusted, or None."""
    if not rows:
        return "the entry holds no rows"
    spec = getattr(judge, "spec", None)
    kind = getattr(spec, "kind", "")
    judge_id = getattr(spec, "id", None)
    custom = getattr(judge, "rederive", None)
    reader = READERS.get(kind)
    for row in rows:
        if row.error is not None:
            return f"a row is an error ({row.error[:80]!r})"
        if judge_id is not None and row.judge != judge_id:
            return f"a row is by judge {row.judge!r}, not {judge_id!r}"
        if not row.valid:
            return "a row carries no valid label"
        try:
            if callable(custom):
                again = custom(row)
                expected = {name: getattr(again, name) for name in LABELS}
            elif reader is not None:
                expected = reader(row)
            else:
                continue
        except (ValueError, TypeError) as exc:  # ParseFailure is a ValueError
            return f"its raw answer no longer parses ({exc})"
        stored = {name: getattr(row, name) for name in LABELS}
        if stored != expected:
            changed = [f"{k}: stored {stored[k]!r}, answer says {expected[k]!r}"
                       for k in LABELS if stored[k] != expected[k]]
            return "its labels differ from its raw answer (" + "; ".join(changed) + ")"
    return None
