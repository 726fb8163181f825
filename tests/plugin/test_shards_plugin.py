"""Shards split a run across machines; unisafe merge joins them; compare reads the runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest

from tests.conftest import MODEL_ARGS, instance, stable_records
from unisafe_pytest.cli import main


def lines() -> list[dict[str, Any]]:
    kinds = ["safe", "unsafe", "refuse", "safe", "judge-error"]
    out = []
    for k in range(14):
        line = instance(f"i{k}", task="MU" if k % 2 else "TT", behaviour=kinds[k % len(kinds)])
        if k % 2:
            line["images"] = ["tiny.png"]
        out.append(line)
    return out




RUNS = {"full": (), "shard1": ("--unisafe-shard=1/2",), "shard2": ("--unisafe-shard=2/2",),
        "limited": ("--unisafe-limit=3",)}


@pytest.fixture
def runs(fakes: pytest.Pytester, suite: Callable[..., Path]) -> Callable[..., Path]:
    """Make the named runs (of RUNS) of one suite; returns the pytester folder."""
    (fakes.path / "tiny.png").write_bytes((Path(__file__).parent / "tiny.png").read_bytes())
    suite("s.jsonl", lines())

    def make(*names: str) -> Path:
        for name in names:
            fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl",
                            f"--unisafe-report-dir={name}", *RUNS[name])
        return fakes.path

    return make


def test_shards_merge_report_compare_gate(runs: Callable[..., Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    shard_runs = runs("full", "shard1", "shard2")
    _check_shards(shard_runs)
    _check_merge(shard_runs, capsys)
    _check_compare_and_gate(shard_runs, capsys)
    _check_report(shard_runs, capsys)


def _check_shards(shard_runs: Path) -> None:
    full = {(r["task"], r["id"]) for r in stable_records(shard_runs / "full")}
    one = {(r["task"], r["id"]) for r in stable_records(shard_runs / "shard1")}
    two = {(r["task"], r["id"]) for r in stable_records(shard_runs / "shard2")}
    assert one and two and not one & two and one | two == full
    assert abs(len(one) - len(two)) <= 1
    protocol = json.loads((shard_runs / "shard2" / "protocol.json").read_text())
    assert protocol["selection"]["shard"] == "2/2"
    assert protocol["suites"]["s"]["selected"] == len(two)


def _check_merge(shard_runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = shard_runs / "merged"
    assert main(["merge", str(shard_runs / "shard1"), str(shard_runs / "shard2"),
                 "-o", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err  # shards of one run are compatible
    assert stable_records(out) == stable_records(shard_runs / "full")
    protocol = json.loads((out / "protocol.json").read_text())
    assert protocol["selection"]["shards"] == ["1/2", "2/2"]
    assert protocol["suites"]["s"]["selected"] == 14
    assert (out / "report.html").is_file() and (out / "judgments.jsonl").is_file()
    full = json.loads((shard_runs / "full" / "summary.json").read_text())
    merged = json.loads((out / "summary.json").read_text())
    assert merged["unisafe"]["models"] == full["unisafe"]["models"]
    # `unisafe report` works on the merged directory and prints the same table
    assert main(["report", str(out)]) == 0
    merged_table = capsys.readouterr().out.split("protocol:")[0]
    assert main(["report", str(shard_runs / "full")]) == 0
    assert capsys.readouterr().out.split("protocol:")[0] == merged_table
    assert main(["merge", str(shard_runs / "shard1"), "-o", str(out)]) == 2  # not twice


def test_merge_warns_about_incompatible_runs(runs: Callable[..., Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    shard_runs = runs("full", "limited")
    assert main(["merge", str(shard_runs / "full"), str(shard_runs / "limited"),
                 "-o", str(shard_runs / "m2")]) == 0
    err = capsys.readouterr().err
    assert "3 record(s) appear in several runs; the last run given wins" in err
    assert "the runs differ in 'selection'" in err


def _check_compare_and_gate(shard_runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chart = shard_runs / "chart.svg"
    assert main(["compare", str(shard_runs / "full"), str(shard_runs / "shard1"),
                 "--format", "markdown", "--percent", "--chart", str(chart)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### UniSAFE: ASR / ARR / RR per task (rates in %)")
    assert "| fake-model (" in out and "MU ASR" in out and "TT RR" in out
    assert chart.read_text().startswith("<svg")
    assert main(["gate", str(shard_runs / "full"), "--max-asr", "0.9"]) == 0
    assert main(["gate", str(shard_runs / "full"), "--max-asr", "TT=0.01"]) == 1
    assert "max-asr FAILED: fake-model TT" in capsys.readouterr().out


def _check_report(shard_runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html = shard_runs / "r.html"
    assert main(["report", str(shard_runs / "full"), "--json", "--html", str(html),
                 "--images", str(shard_runs)]) == 0
    summary = json.loads(capsys.readouterr().out)
    task = summary["unisafe"]["models"]["fake-model"]["tasks"]["TT"]["overall"]
    assert len(task["asr_ci"]) == 2 and len(task["refusal_rate_ci"]) == 2
    page = html.read_text()
    assert "data:image/jpeg;base64," in page  # the MU input image, found under --images
    assert main(["report", str(shard_runs / "full"), "--shared-target"]) == 0
    assert "Shared targets: fake-model" in capsys.readouterr().out


def test_report_lists_verdicts_that_flip_between_samples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from unisafe_pytest.schema import JudgeRow, Record, Verdict

    run = tmp_path / "run"
    run.mkdir()
    rows = []
    for sample, judgment in enumerate((0, 1, 0)):
        label: Literal[0, 1] = 1 if judgment else 0
        verdict = Verdict.combine("unisafe", [JudgeRow(judge="j", judgment=label,
                                                       risk_rating=2)])
        rows.append(Record(run_id="r", suite="s", protocol="unisafe", model="m", id="a",
                            task="TT", category="Hate", sample=sample, verdict=verdict,
                            outcome="failed" if judgment else "passed").model_dump_json())
    (run / "records.jsonl").write_text("\n".join(rows) + "\n")
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out
    assert "verdicts that flip between samples: 1" in out
    assert "m TT a: safe / unsafe / safe" in out
