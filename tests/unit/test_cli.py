"""The ``unisafe`` command, run in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from unisafe_pytest.cli import main
from unisafe_pytest.metrics.unisafe import JudgmentRow, aggregate_judgments
from unisafe_pytest.schema import JudgeRow, Outcome, ProtocolName, Record, Verdict


def make(item: str, rows: list[JudgeRow], *, protocol: ProtocolName = "unisafe",
         task: str = "TT", outcome: Outcome = "passed") -> Record:
    return Record(run_id="r1", suite="s", protocol=protocol, model="gpt-x", id=item, task=task,
                  category="Violence", subcategory="V1", outcome=outcome,
                  verdict=Verdict.combine(protocol, rows) if rows else None,
                  error="timeout" if outcome == "error" else None)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / "records").mkdir(parents=True)
    records = [
        make("a", [JudgeRow(judge="j1", judgment=1, risk_rating=3)], outcome="failed"),
        make("b", [JudgeRow(judge="refusal-rule", refusal=True)]),
        make("c", [], outcome="error"),
        make("1", [JudgeRow(judge="uj", ctx=1, intr=1)], protocol="unisafebench",
             task="TextGen"),
    ]
    (run / "records" / "gw0.jsonl").write_text(
        "".join(r.model_dump_json() + "\n" for r in records))
    (run / "protocol.json").write_text(json.dumps(
        {"run_id": "r1", "judges": [{"id": "j1"}], "single_judge": True}))
    return run


def judgment_file(tmp_path: Path) -> Path:
    rows: list[dict[str, Any]] = []
    for item, sub, judge, judgment, rating, refusal in [
        ("a", "A1", "j1", 1, 3, False), ("a", "A1", "j2", 0, 1, False),
        ("b", "A1", "j1", 0, 1, False), ("c", "A2", "j1", 1, 2, False),
        ("d", "B1", "rule", 0, 0, True),
    ]:
        rows.append({"id": item, "scenario_type": "TT", "category": sub[0], "subcategory": sub,
                     "model": "m", "judge": judge, "judgment": judgment,
                     "risk_rating": rating, "refusal": refusal, "reasoning": "",
                     "error": None, "raw_response": None})
    rows.append({**rows[0], "id": "e", "judgment": None, "risk_rating": None, "error": "x"})
    path = tmp_path / "judgments.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_report_run_dir(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "UniSAFE: gpt-x" in out and "Uni-SafeBench: gpt-x" in out
    assert out.rstrip().splitlines()[-1].startswith("protocol: run r1; judges: j1 (1 judge)")


def test_report_run_dir_json(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(run_dir), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert list(summary) == ["protocol", "unisafe", "unisafebench", "agreement"]
    overall = summary["unisafe"]["models"]["gpt-x"]["overall"]
    assert (overall["asr"], overall["refusal_rate"], overall["n_error"]) == (0.5, 0.5, 1)
    assert summary["unisafebench"]["models"]["gpt-x"]["overall"]["b_s"] == 1.0


def test_report_upstream_judgments_json_equals_the_aggregate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = judgment_file(tmp_path)
    assert main(["report", str(path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    rows = [JudgmentRow.from_mapping(json.loads(line)) for line in path.read_text().splitlines()]
    assert printed == aggregate_judgments(rows)
    assert printed["models"]["m"]["tasks"]["TT"]["overall"]["asr"] == 0.3125
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "judges: j1, j2, rule" in out
    assert "0.312" in out


def test_report_unijudger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "T2I" / "judge_bagel_numeric.jsonl"
    path.parent.mkdir()
    path.write_text(json.dumps({"id": 1, "context_safety": "1", "init_safety": "1"}) + "\n"
                    + json.dumps({"id": 2, "context_safety": "NA", "init_safety": "1"}) + "\n")
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Uni-SafeBench: bagel" in out
    t2i = next(line.split()[:6] for line in out.splitlines() if line.startswith("T2I"))
    assert t2i == ["T2I", "all", "2", "1", "1", "0"]
    assert main(["report", str(path), "--json", "--model", "Bagel"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["models"]["Bagel"]["overall"]["n_error"] == 1


def test_export_judgments(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "exported.jsonl"
    assert main(["export-judgments", str(run_dir), "-o", str(out)]) == 0
    assert "wrote 3 judgment row(s)" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["judge"] for r in rows] == ["j1", "refusal-rule", "-"]
    assert main(["report", str(out), "--json"]) == 0
    upstream = json.loads(capsys.readouterr().out)
    assert main(["report", str(run_dir), "--json"]) == 0
    ours = json.loads(capsys.readouterr().out)["unisafe"]
    assert upstream["coverage"] == ours["coverage"]
    assert upstream["models"]["gpt-x"]["overall"]["asr"] == ours["models"]["gpt-x"]["overall"][
        "asr"]


def test_bad_inputs_exit_2(tmp_path: Path, run_dir: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "a", "scenario_type": "TT", "judge": "j"}) + "\n")
    assert main(["report", str(bad)]) == 2
    assert "bad.jsonl:1: bad UniSAFE judgment row: missing field(s)" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    assert main(["report", str(run_dir), str(judgment_file(tmp_path))]) == 2
    assert "cannot mix input kinds" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    assert "is this a unisafe run directory" in capsys.readouterr().err
    assert main(["report"]) == 2
    assert main(["report", "--format", "xml", str(bad)]) == 2
    assert main(["--help"]) == 0
    capsys.readouterr()


def test_cli_does_not_import_pytest() -> None:
    code = ("import sys, unisafe_pytest.metrics.unisafe, unisafe_pytest.report.terminal, "
            "unisafe_pytest.cli; assert 'pytest' not in sys.modules, 'pytest imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
