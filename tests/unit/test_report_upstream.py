"""Upstream formats: UniSAFE judgment rows and Uni-Judger numeric results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.jsonl import write_jsonl
from unisafe_pytest.metrics.unisafe import JudgmentRow, aggregate_judgments, aggregate_records
from unisafe_pytest.report.upstream import (
    detect_format,
    read_judgment_rows,
    read_unijudger_numeric,
    records_to_judgment_rows,
)
from unisafe_pytest.schema import JudgeRow, Outcome, Record, Verdict
from unisafe_pytest.schema.tasks import task_from_name

UPSTREAM_FIELDS = ["id", "scenario_type", "category", "subcategory", "model", "judge",
                   "judgment", "risk_rating", "refusal", "reasoning", "error", "raw_response"]


def write(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def row(item: str, judge: str, judgment: int | None, rating: int | None, **extra: Any) -> dict[
        str, Any]:
    return {"id": item, "scenario_type": "TT", "category": "A", "subcategory": "A1",
            "model": "m", "judge": judge, "judgment": judgment, "risk_rating": rating,
            "refusal": False, "reasoning": "", "error": None, "raw_response": None, **extra}


def test_read_judgment_rows_and_bad_lines(tmp_path: Path) -> None:
    good = write(tmp_path / "j.jsonl", [row("a", "j1", 1, 3), "", row("b", "j1", 0, 1)])
    rows = read_judgment_rows(good)
    assert [r.id for r in rows] == ["a", "b"]
    assert detect_format(good) == "unisafe"
    bad = write(tmp_path / "bad.jsonl", [row("a", "j1", 1, 3), "{oops", row("b", "j1", 0, 1)])
    with pytest.raises(SuiteError, match=r"bad\.jsonl:2: line is not valid JSON"):
        read_judgment_rows(bad)
    wrong = write(tmp_path / "wrong.jsonl", [row("a", "j1", 1, 7)])
    with pytest.raises(SuiteError, match=r"wrong\.jsonl:1: bad UniSAFE judgment row: risk_rating"):
        read_judgment_rows(wrong)
    listed = write(tmp_path / "list.jsonl", [[1, 2]])
    with pytest.raises(SuiteError, match=r"list\.jsonl:1: line is a JSON list, not an object"):
        read_judgment_rows(listed)


def test_detect_format(tmp_path: Path) -> None:
    numeric = write(tmp_path / "n.jsonl", [{"id": 1, "context_safety": "1", "init_safety": "1"}])
    assert detect_format(numeric) == "unijudger"
    predictions = write(tmp_path / "p.jsonl", [{"id": "x", "scenario_type": "TT", "model": "m",
                                               "output_text": "hi"}])
    with pytest.raises(SuiteError, match="predictions"):
        detect_format(predictions)
    with pytest.raises(SuiteError, match="empty"):
        detect_format(write(tmp_path / "e.jsonl", []))
    with pytest.raises(SuiteError, match="unknown format"):
        detect_format(write(tmp_path / "u.jsonl", [{"a": 1}]))


def record(item: str, rows: list[JudgeRow], outcome: Outcome = "passed", sample: int = 0) -> Record:
    return Record(run_id="r", suite="s", protocol="unisafe", model="m", id=item, task="TI",
                  category="Violence", subcategory="V2", outcome=outcome, sample=sample,
                  verdict=Verdict.combine("unisafe", rows) if rows else None,
                  error="no image returned" if outcome == "error" else None)


def test_records_to_judgment_rows_round_trip(tmp_path: Path) -> None:
    records = [
        record("a", [JudgeRow(judge="j1", judgment=1, risk_rating=3, reasoning="gore"),
                     JudgeRow(judge="j2", judgment=0, risk_rating=1)]),
        record("b", [JudgeRow(judge="refusal-rule", refusal=True)]),
        record("c", [], outcome="error"),
        record("d", [], outcome="skipped"),
        record("a", [JudgeRow(judge="j1", judgment=0, risk_rating=2)], sample=1),
    ]
    rows = records_to_judgment_rows(records)
    assert all(list(r) == UPSTREAM_FIELDS for r in rows)
    assert [r["judge"] for r in rows] == ["j1", "j2", "refusal-rule", "-", "j1#s1"]
    assert rows[2]["judgment"] == 0 and rows[2]["risk_rating"] == 0 and rows[2]["refusal"]
    assert rows[3]["judgment"] is None and rows[3]["error"] == "no image returned"
    path = tmp_path / "out" / "judgments.jsonl"
    assert write_jsonl(path, rows) == 5
    back = read_judgment_rows(path)
    again = aggregate_judgments(back)
    direct = aggregate_records(records)
    assert again["coverage"] == direct["coverage"]
    node = again["models"]["m"]["tasks"]["TI"]["overall"]
    assert node["asr"] == direct["models"]["m"]["tasks"]["TI"]["overall"]["asr"]
    assert JudgmentRow.from_mapping(rows[0]).to_dict() == rows[0]
    assert list(tmp_path.joinpath("out").iterdir()) == [path]  # no temporary file left


def test_task_names() -> None:
    assert task_from_name("T2I") == "T2I"
    assert task_from_name("safety_I_safety_T") == "CompositeVQA"
    assert task_from_name("Text Generation") == "TextGen"
    assert task_from_name("Dual-Unsafe VQA") == "DualVQA"
    assert task_from_name("textgen") == "TextGen"
    assert task_from_name("TT") is None  # a UniSAFE task, not Uni-SafeBench
    assert task_from_name("whatever") is None


def test_read_unijudger_numeric(tmp_path: Path) -> None:
    folder = tmp_path / "VQA" / "unsafety_I_unsafety_T"
    folder.mkdir(parents=True)
    path = write(folder / "judge_bagel_numeric.jsonl", [
        {"id": 1, "context_safety": "1", "init_safety": "1"},
        {"id": "2", "context_safety": 2, "init_safety": "1"},
        {"id": 3, "context_safety": "NA", "init_safety": "1"},
        {"id": 4, "context_safety": "3", "init_safety": "1"},
        {"id": 5, "context_safety": True, "init_safety": "1"},
        {"id": 6, "context_safety": None, "init_safety": None},
        {"id": 7, "contextual": "0", "y_int": 0, "model": "other", "task": "T2I"},
    ])
    rows = read_unijudger_numeric(path)
    assert [(r.model, r.task, r.id) for r in rows][:2] == [("bagel", "DualVQA", "1"),
                                                            ("bagel", "DualVQA", "2")]
    assert [r.valid for r in rows] == [True, True, False, False, False, False, True]
    assert rows[2].error is not None and "'NA'" in rows[2].error
    assert (rows[6].model, rows[6].task, rows[6].ctx, rows[6].intr) == ("other", "T2I", 0, 0)
    override = read_unijudger_numeric(path, model="Bagel", task="Text Generation")
    assert {(r.model, r.task) for r in override[:6]} == {("Bagel", "TextGen")}


def test_read_unijudger_numeric_errors(tmp_path: Path) -> None:
    nowhere = write(tmp_path / "results.jsonl", [{"id": 1, "ctx": 1, "intr": 1}])
    with pytest.raises(SuiteError, match=r"results\.jsonl:1: cannot tell .* pass --task"):
        read_unijudger_numeric(nowhere)
    assert read_unijudger_numeric(nowhere, task="T2I")[0].task == "T2I"
    no_id = write(tmp_path / "T2I.jsonl", [{"ctx": 1, "intr": 1}])
    with pytest.raises(SuiteError, match=r"T2I\.jsonl:1: missing field 'id'"):
        read_unijudger_numeric(no_id)
    no_label = write(tmp_path / "Edit.jsonl", [{"id": 1, "ctx": 1}])
    with pytest.raises(SuiteError, match="missing a label"):
        read_unijudger_numeric(no_label)
