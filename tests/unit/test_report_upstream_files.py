"""Issue 12: ``unisafe report`` reads the files the upstream toolkits write, fail-closed.

Classes covered (every test but the guard ``test_a_false_risk_rating_is_no_rating`` failed
on the old code, dd7bba9):

* UniSAFE judgment rows with ``"judgment": true`` (the toolkit keeps a judge's ``true``; its
  reader accepts it as 1) were rejected;
* Uni-Judger's detail file (answer texts) and the detail file beside a ``*_numeric.jsonl``:
  a row whose judge call failed (``Error when calling the model: ...``) upstream scores from
  the error message's digits; here it is N_error and the report says how many rows upstream
  would have scored;
* model names as upstream's file names give them (``uni_bagel_numeric.jsonl`` -> bagel);
* Uni-SafeBench result rows given to ``report`` get an error saying to judge them first.

Fixture files are our own, shaped like the toolkits' files (same fields, names, layout).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from unisafe_pytest.cli import main as unisafe_main
from unisafe_pytest.errors import SuiteError
from unisafe_pytest.report.upstream import detect_format, read_judgment_rows, read_unijudger_numeric


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def judgment(id: str, j: Any, r: Any, **extra: Any) -> dict[str, Any]:
    return {"id": id, "scenario_type": "TT", "category": "A", "subcategory": "A1",
            "model": "m", "judge": "g", "judgment": j, "risk_rating": r, "refusal": False,
            "reasoning": "", "error": None, "raw_response": None, **extra}


def test_judgment_true_reads_as_upstream_reads_it(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "judgments.jsonl", [
        judgment("a", True, 3), judgment("b", False, 1), judgment("c", True, True)])
    rows = read_judgment_rows(path)
    assert [(r.judgment, r.risk_rating) for r in rows] == [(1, 3), (0, 1), (1, 1)]
    assert unisafe_main(["report", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)


def test_a_false_risk_rating_is_no_rating(tmp_path: Path) -> None:
    path = write(tmp_path / "judgments.jsonl", [judgment("a", 0, False)])
    with pytest.raises(SuiteError, match="risk_rating"):
        read_judgment_rows(path)


def eval_folder(root: Path) -> Path:
    """eval/<task>/uni_<model>.jsonl (answer texts) and its _numeric.jsonl, as upstream."""
    task = root / "eval" / "Text Generation"
    write(task / "uni_bagel.jsonl", [
        {"id": 1, "context_safety": "Reason: fine. Result: 1", "init_safety": "Result: 1"},
        {"id": 2, "context_safety": "Error when calling the model: Error code: 429",
         "init_safety": "Error when calling the model: Error code: 400"},
        {"id": 3, "context_safety": "Reason: harmful. Result: 0", "init_safety": "Result: 0"}])
    return write(task / "uni_bagel_numeric.jsonl", [
        {"id": 1, "context_safety": "1", "init_safety": "1"},
        {"id": 2, "context_safety": "2", "init_safety": "0"},  # digits of the errors
        {"id": 3, "context_safety": "0", "init_safety": "0"}])


def test_numeric_rows_scored_from_failed_calls_are_errors(tmp_path: Path) -> None:
    rows = read_unijudger_numeric(eval_folder(tmp_path))
    assert [r.model for r in rows] == ["bagel"] * 3
    assert [(r.ctx, r.intr) for r in rows if r.error is None] == [(1, 1), (0, 0)]
    failed = [r for r in rows if r.error]
    assert [r.id for r in failed] == ["2"] and "would have scored" in (failed[0].error or "")


def test_the_detail_file_is_read_with_upstreams_reader(tmp_path: Path) -> None:
    eval_folder(tmp_path)
    detail = tmp_path / "eval" / "Text Generation" / "uni_bagel.jsonl"
    assert detect_format(detail) == "unijudger"
    rows = read_unijudger_numeric(detail)
    assert [(r.id, r.ctx, r.intr) for r in rows if r.error is None] == [
        ("1", 1, 1), ("3", 0, 0)]
    assert sum("would have scored" in (r.error or "") for r in rows) == 1


def test_report_says_how_many_rows_upstream_would_have_scored(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    numeric = eval_folder(tmp_path)
    assert unisafe_main(["report", str(numeric)]) == 0
    out = capsys.readouterr().out
    assert "upstream would have scored 1 of these rows" in out
    assert unisafe_main(["report", str(numeric), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["upstream_would_have_scored"] == 1
    text = data["models"]["bagel"]["tasks"]["TextGen"]
    assert (text["n_total"], text["n_error"]) == (3, 1)


def test_result_rows_given_to_report_say_to_judge_them_first(tmp_path: Path) -> None:
    path = write(tmp_path / "result" / "T2I" / "uni_bagel.jsonl", [
        {"id": 1, "prompt": "p", "generated_text": "", "output_image": "1.png",
         "reject_image": False}])
    with pytest.raises(SuiteError, match="judge them first"):
        detect_format(path)
