"""Reading run directories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest

from unisafe_pytest.errors import SuiteError, UnisafeWarning
from unisafe_pytest.report.rundir import read_records, read_run_dir
from unisafe_pytest.schema import JudgeRow, Record, Verdict


def record(item: str, judgment: Literal[0, 1], worker: str = "main") -> Record:
    return Record(run_id="r", suite="s", protocol="unisafe", model="m", id=item, task="TT",
                  category="A", subcategory="A1", outcome="passed", worker=worker,
                  verdict=Verdict.combine("unisafe", [JudgeRow(judge="j", judgment=judgment,
                                                               risk_rating=1 + 2 * judgment)]))


def test_merged_file_wins_and_last_line_wins(tmp_path: Path) -> None:
    lines = [record("a", 1).model_dump_json(), record("b", 0).model_dump_json(),
             record("a", 0).model_dump_json()]
    (tmp_path / "records.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "gw0.jsonl").write_text("garbage\n")  # ignored: merged file exists
    (tmp_path / "protocol.json").write_text(json.dumps({"run_id": "r"}))
    records, protocol = read_run_dir(tmp_path)
    assert [(r.id, r.verdict.rows[0].judgment if r.verdict else None) for r in records] == [
        ("a", 0), ("b", 0)]
    assert protocol == {"run_id": "r"}


def test_worker_files_are_merged(tmp_path: Path) -> None:
    workers = tmp_path / "records"
    workers.mkdir()
    (workers / "gw0.jsonl").write_text(record("a", 1, "gw0").model_dump_json() + "\n")
    (workers / "gw1.jsonl").write_text(record("b", 1, "gw1").model_dump_json() + "\n\n")
    records, protocol = read_run_dir(tmp_path)
    assert [r.id for r in records] == ["a", "b"]
    assert protocol is None


def test_bad_inputs_name_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="is this a unisafe run directory"):
        read_run_dir(tmp_path)
    path = tmp_path / "records.jsonl"
    path.write_text(record("a", 1).model_dump_json() + "\n" + '{"run_id": "r"}\n')
    with pytest.raises(SuiteError, match=r"records\.jsonl:2: not a valid unisafe record"):
        read_records(path)
    newer = record("a", 1).model_dump() | {"schema_version": 99}
    path.write_text(json.dumps(newer) + "\n")
    with pytest.raises(SuiteError, match=r"records\.jsonl:1: .*upgrade unisafe-pytest"):
        read_records(path)
    path.write_text(record("a", 1).model_dump_json() + "\n")
    (tmp_path / "protocol.json").write_text("{not json")
    with pytest.raises(SuiteError, match=r"protocol\.json:1: not valid JSON"):
        read_run_dir(tmp_path)


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "gw0.jsonl"
    whole = record("a", 1).model_dump_json()
    path.write_text(whole + "\n" + whole[: len(whole) // 2])
    with pytest.warns(UnisafeWarning, match=r"gw0\.jsonl:2: skipped a torn last record"):
        records = read_records(path)
    assert [r.id for r in records] == ["a"]
