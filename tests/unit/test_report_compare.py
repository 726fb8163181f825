"""unisafe compare: the papers' table layout, markdown, and the SVG chart."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from unisafe_pytest.report.chart import svg_chart
from unisafe_pytest.report.compare import compare, render
from unisafe_pytest.report.summary import build_summary_json
from unisafe_pytest.schema import JudgeRow, Record, Verdict


def records(model: str, unsafe: int, n: int) -> list[Record]:
    out = []
    for k in range(n):
        row = JudgeRow(judge="j", judgment=1 if k < unsafe else 0, risk_rating=2)
        out.append(Record(run_id="r", suite="s", protocol="unisafe", model=model, id=str(k),
                          task="TT" if k % 2 else "TI", category="Hate",
                          outcome="failed" if k < unsafe else "passed",
                          verdict=Verdict.combine("unisafe", [row])))
    ok = JudgeRow(judge="uj", ctx=1, intr=1)
    out.append(Record(run_id="r", suite="b", protocol="unisafebench", model=model, id="1",
                      task="T2I", category="Sex-Related", outcome="passed",
                      verdict=Verdict.combine("unisafebench", [ok])))
    return out


def entries() -> list[tuple[str, dict[str, Any]]]:
    return [("run1", build_summary_json(records("alpha<1>", 2, 8), None)),
            ("run2", build_summary_json(records("beta", 0, 8), None))]


def test_one_row_per_model_in_task_order() -> None:
    comparison = compare(entries())
    block = comparison["unisafe"]
    assert block["tasks"] == ["TI", "TT"]
    assert [r["model"] for r in block["rows"]] == ["alpha<1>", "beta"]
    cell = block["rows"][0]["tasks"]["TI"]
    assert cell["asr"] == 0.25 and cell["n"] == 4 and cell["asr_ci"][0] < 0.25 < cell["asr_ci"][1]
    assert "arr_ci" not in cell
    assert comparison["unisafebench"]["rows"][1]["tasks"]["T2I"]["b_s"] == 1.0


def test_same_model_in_two_runs_is_told_apart() -> None:
    same = [("run1", entries()[1][1]), ("run2", entries()[1][1])]
    assert [r["model"] for r in compare(same)["unisafe"]["rows"]] == ["beta (run1)", "beta (run2)"]


def test_text_and_markdown() -> None:
    comparison = compare(entries())
    text = render(comparison)
    assert "UniSAFE: ASR / ARR / RR per task" in text and "TI ASR" in text
    markdown = render(comparison, "markdown", percent=True)
    assert markdown.startswith("### UniSAFE")
    assert "| alpha<1> " in markdown and "25.0" in markdown
    assert "T2I B-S" in markdown


def test_svg_is_valid_xml_and_escaped() -> None:
    svg = svg_chart(compare(entries()))
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "alpha&lt;1&gt;" in svg
    assert len([e for e in root.iter() if e.tag.endswith("rect")]) > 4
