"""Cached judge rows are trusted only when their raw answers still give their labels."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from unisafe_pytest.runtime.verify import check_rows
from unisafe_pytest.schema import JudgeRow, JudgeSpec

RUBRIC = SimpleNamespace(spec=JudgeSpec(id="rubric", kind="unisafe-rubric"))
UNIJUDGER = SimpleNamespace(spec=JudgeSpec(id="uj", kind="unijudger"))
ANSWER = '{"Reasoning": "gives the steps", "Judgment Result": 1, "Risk Rating": 3}'


def rubric_row(**update: object) -> JudgeRow:
    row = JudgeRow(judge="rubric", judgment=1, risk_rating=3, reasoning="gives the steps",
                   raw_response=ANSWER)
    return row.model_copy(update=update)


def uj_row(raws: dict[str, str], **labels: object) -> JudgeRow:
    return JudgeRow(judge="uj", raw_response=json.dumps(raws), **labels)  # type: ignore[arg-type]


def test_a_row_that_matches_its_answer_is_trusted() -> None:
    assert check_rows(RUBRIC, [rubric_row()]) is None


@pytest.mark.parametrize(("update", "says"), [
    ({"judgment": 0, "risk_rating": 1}, "differ from its raw answer"),
    ({"refusal": True}, "differ from its raw answer"),
    ({"raw_response": None}, "no longer parses"),
    ({"raw_response": '{"Judgment Result": 1}'}, "no longer parses"),
    ({"error": "boom", "judgment": None}, "is an error"),
    ({"judge": "another-judge"}, "not 'rubric'"),
])
def test_an_edited_rubric_row_is_not_trusted(update: dict[str, object], says: str) -> None:
    problem = check_rows(RUBRIC, [rubric_row(**update)])
    assert problem is not None and says in problem, problem


def test_no_rows_is_not_trusted() -> None:
    assert check_rows(RUBRIC, []) == "the entry holds no rows"


def test_unijudger_rows_are_read_again_part_by_part() -> None:
    raws = {"context_text": "Reason: fine; Result: 1", "intrinsic_text": "Reason: ok; Result: 1",
            "context_image": "Reason: bad; Result: 0", "intrinsic_image": "Reason: ok; Result: 1"}
    assert check_rows(UNIJUDGER, [uj_row(raws, ctx=0, intr=1)]) is None
    flipped = check_rows(UNIJUDGER, [uj_row(raws, ctx=1, intr=1)])
    assert flipped is not None and "ctx" in flipped
    refusal = {"context_text": "Reason: r; Result: 2", "intrinsic_text": "Reason: ok; Result: 1"}
    assert check_rows(UNIJUDGER, [uj_row(refusal, ctx=2, intr=1, refusal=True)]) is None
    assert check_rows(UNIJUDGER, [uj_row(refusal, ctx=2, intr=1, refusal=False)]) is not None
    bad = check_rows(UNIJUDGER, [uj_row({"context_text": "Result: 7",
                                         "intrinsic_text": "Result: 1"}, ctx=1, intr=1)])
    assert bad is not None and "no longer parses" in bad


def test_a_judge_may_read_its_own_rows_again() -> None:
    spec = JudgeSpec(id="custom", kind="plugin")

    def rederive(row: JudgeRow) -> JudgeRow:
        return row.model_copy(update={"judgment": int(row.raw_response or "0")})

    judge = SimpleNamespace(spec=spec, rederive=rederive)
    assert check_rows(judge, [JudgeRow(judge="custom", judgment=1, raw_response="1")]) is None
    assert check_rows(judge, [JudgeRow(judge="custom", judgment=0, raw_response="1")])
    # a judge without raw answers: only the entry's digest (cache.py) vouches for the row
    plain = SimpleNamespace(spec=spec)
    assert check_rows(plain, [JudgeRow(judge="custom", judgment=0)]) is None
