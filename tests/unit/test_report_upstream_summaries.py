"""Issue 12: ``unisafe report`` reads Uni-Judger's summary files.

Class covered: the summaries upstream writes instead of rows (``safety_checker
--stats_output``'s indented object in ``sum/<task>/uni_<m>.jsonl``, ``sum.py``'s
``stats_*.json`` with ``total_ids``, ``statistics.py``'s ``statistics/<Model>.jsonl`` rows)
were "unknown format" (or "not valid JSON" at line 1); the report now prints upstream's
rates, "not scored" where the input count is known, and says that fail-open rows cannot be
told apart. Counts that are missing, not integers or do not add up are errors naming file
and line. Every test but the guard ``test_records_and_numeric_files_are_not_summaries``
failed on the old code (dd7bba9).

Fixture files are our own, with the keys upstream writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from unisafe_pytest.cli import main as unisafe_main
from unisafe_pytest.errors import SuiteError
from unisafe_pytest.report.upstream import detect_format


def checker_stats(**change: Any) -> dict[str, Any]:
    """100 valid of 104 input rows, counts as safety_checker writes them."""
    stats = {"context_2_init_1": 20, "context_12_init_0": 10, "context_1_init_1": 40,
             "both_0": 15, "context_0_init_1": 15, "total_valid_records": 100,
             "total_input_records": 104, "count_context_0": 30, "count_context_1": 45,
             "count_context_2": 25, "count_init_0": 25, "count_init_1": 75, "count_init_2": 0}
    return {**stats, **change}


def write_obj(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = unisafe_main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_checker_stats_file_gives_upstreams_rates(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_obj(tmp_path / "sum" / "T2I" / "uni_bagel.jsonl", checker_stats())
    assert detect_format(path) == "unijudger-summary"
    status, out, err = run(["report", str(path)], capsys)
    assert status == 0, err
    row = next(line for line in out.splitlines() if line.startswith("bagel"))
    assert row.split()[:8] == ["bagel", "T2I", "100", "4", "30.00%", "25.00%", "25.00%",
                               "60.00%"]
    assert "cannot be told apart" in out and "fail-open" in out
    status, out, err = run(["report", str(path), "--json"], capsys)
    assert status == 0, err
    data = json.loads(out)
    entry = data["entries"][0]
    assert (entry["model"], entry["task"], entry["valid"], entry["input"],
            entry["not_scored"]) == ("bagel", "T2I", 100, 104, 4)
    assert entry["rates"] == {"C-U": 0.3, "C-R": 0.25, "I-U": 0.25, "B-S": 0.6}
    assert "fail-open" in data["caveat"]


def test_sum_py_stats_counts_ids_and_has_no_input_count(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stats = checker_stats()
    stats["total_ids"] = stats.pop("total_valid_records")
    del stats["total_input_records"]
    path = write_obj(tmp_path / "stats_tar_7B.json", stats)
    status, out, err = run(["report", str(path), "--json"], capsys)
    assert status == 0, err
    entry = json.loads(out)["entries"][0]
    assert (entry["valid"], entry["input"], entry["not_scored"]) == (100, None, None)
    assert entry["rates"]["B-S"] == 0.6 and entry["written_by"].startswith("sum.py")


def test_one_line_stats_object_is_a_summary_too(tmp_path: Path) -> None:
    path = tmp_path / "stats_x.json"
    path.write_text(json.dumps(checker_stats()) + "\n", encoding="utf-8")
    assert detect_format(path) == "unijudger-summary"


def test_statistics_rows_give_per_task_and_weighted_model_rates(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        {"model": "Bagel", "task_name": "T2I", "file_path": "sum/T2I/uni_bagel.jsonl",
         "total_valid_records": 100, "context_unsafety_rate": 0.3,
         "context_safety_rate": 0.25, "static_unsafety_rate": 0.25, "both_safe_rate": 0.6},
        {"model": "Bagel", "task_name": "VQA/safety_I_safety_T", "file_path": "x",
         "total_valid_records": 300, "context_unsafety_rate": 0.1,
         "context_safety_rate": 0.5, "static_unsafety_rate": 0.05, "both_safe_rate": 0.8}]
    path = tmp_path / "statistics" / "Bagel.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    status, out, err = run(["report", str(path), "--json"], capsys)
    assert status == 0, err
    data = json.loads(out)
    assert [e["task"] for e in data["entries"]] == ["T2I", "VQA/safety_I_safety_T"]
    total = data["models"]["Bagel"]
    assert total["valid"] == 400
    assert total["rates"]["C-U"] == pytest.approx(0.15)
    assert total["rates"]["B-S"] == pytest.approx(0.75)
    status, out, err = run(["report", str(path)], capsys)
    assert status == 0 and "all (2)" in out and "15.00%" in out


@pytest.mark.parametrize(("change", "message"), [
    ({"count_context_0": "30"}, "'count_context_0' must be a count"),
    ({"count_init_1": True}, "'count_init_1' must be a count"),
    ({"count_context_2": -1}, "must be a count"),
    ({"count_context_0": 31}, "do not add up"),
    ({"total_input_records": 99}, "less than the valid count"),
    ({"context_1_init_1": 90}, "joint counts must not exceed"),
    ({"context_2_init_1": 26, "context_12_init_0": 4}, "must fit in their marginal"),
    ({"both_0": 14, "context_12_init_0": 11}, "must equal count_context_0"),
])
def test_bad_counts_are_errors_naming_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        change: dict[str, Any], message: str) -> None:
    path = write_obj(tmp_path / "sum" / "T2I" / "uni_bagel.jsonl", checker_stats(**change))
    status, _, err = run(["report", str(path)], capsys)
    assert status == 2
    assert message in err and str(path) in err


def test_a_missing_count_is_an_error_not_zero(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stats = checker_stats()
    del stats["context_2_init_1"]
    path = write_obj(tmp_path / "uni_bagel.jsonl", stats)
    status, _, err = run(["report", str(path)], capsys)
    assert status == 2 and "missing count 'context_2_init_1'" in err


def test_the_bad_key_line_is_named(tmp_path: Path) -> None:
    from unisafe_pytest.report.upstream_summaries import read_summary

    path = write_obj(tmp_path / "uni_bagel.jsonl", checker_stats(count_init_0=2.5))
    with pytest.raises(SuiteError) as info:
        read_summary(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert info.value.line is not None and '"count_init_0"' in lines[info.value.line - 1]


def test_zero_valid_records_have_no_rates(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zero = {k: 0 for k in checker_stats()} | {"total_input_records": 7}
    path = write_obj(tmp_path / "uni_bagel.jsonl", zero)
    status, out, err = run(["report", str(path), "--json"], capsys)
    assert status == 0, err
    entry = json.loads(out)["entries"][0]
    assert entry["rates"] == dict.fromkeys(("C-U", "C-R", "I-U", "B-S"))
    assert entry["not_scored"] == 7


def test_statistics_rate_out_of_range_is_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "Bagel.jsonl"
    path.write_text(json.dumps({
        "model": "Bagel", "task_name": "T2I", "total_valid_records": 10,
        "context_unsafety_rate": 1.5, "context_safety_rate": 0.0,
        "static_unsafety_rate": 0.0, "both_safe_rate": 0.0}) + "\n", encoding="utf-8")
    status, _, err = run(["report", str(path)], capsys)
    assert status == 2 and "'context_unsafety_rate' must be a rate" in err
    assert f"{path}:1" in err


def test_records_and_numeric_files_are_not_summaries(tmp_path: Path) -> None:
    path = tmp_path / "uni_bagel_numeric.jsonl"
    path.write_text(json.dumps({"id": 1, "context_safety": "1", "init_safety": "1"}) + "\n",
                    encoding="utf-8")
    assert detect_format(path) == "unijudger"


def test_statistics_rates_that_cannot_all_hold_are_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "Bagel.jsonl"
    path.write_text(json.dumps({
        "model": "Bagel", "task_name": "T2I", "total_valid_records": 10,
        "context_unsafety_rate": 0.6, "context_safety_rate": 0.5,
        "static_unsafety_rate": 0.0, "both_safe_rate": 0.0}) + "\n", encoding="utf-8")
    status, _, err = run(["report", str(path)], capsys)
    assert status == 2 and "cannot all hold" in err and f"{path}:1" in err
