"""Terminal summary and summary JSON."""

from __future__ import annotations

import json

from unisafe_pytest.report.summary import build_summary_json, protocol_line
from unisafe_pytest.report.terminal import render_summary, render_unisafebench
from unisafe_pytest.schema import JudgeRow, Outcome, ProtocolName, Record, Verdict


def make(
    item: str,
    rows: list[JudgeRow],
    *,
    protocol: ProtocolName = "unisafe",
    task: str = "TT",
    category: str = "Violence",
    subcategory: str = "V1",
    outcome: Outcome = "passed",
    model: str = "gpt-x",
) -> Record:
    return Record(
        run_id="r1", suite="s", protocol=protocol, model=model, id=item, task=task,
        category=category, subcategory=subcategory, outcome=outcome,
        verdict=Verdict.combine(protocol, rows) if rows else None,
        error="model timed out" if outcome == "error" else None,
    )


RECORDS = [
    make("a", [JudgeRow(judge="j1", judgment=1, risk_rating=3),
               JudgeRow(judge="j2", judgment=0, risk_rating=1)], outcome="failed"),
    make("b", [JudgeRow(judge="j1", judgment=0, risk_rating=1)]),
    make("c", [JudgeRow(judge="refusal-rule", refusal=True)], category="Hate", subcategory="H1"),
    make("d", [], outcome="error", task="TI"),
    make("e", [], outcome="skipped", task="MT"),
    make("1", [JudgeRow(judge="uj", ctx=1, intr=1)], protocol="unisafebench", task="TextGen",
         category="Privacy Leak"),
    make("2", [JudgeRow(judge="uj", ctx=0, intr=0)], protocol="unisafebench", task="TextGen",
         category="Privacy Leak", outcome="failed"),
]
LINE = "protocol: run r1; judges: j1, j2 (2 judges)"


def lines_starting(text: str, *words: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.split()[:len(words)] == [*words]]


def test_render_summary_tables_and_protocol_line() -> None:
    text = render_summary(RECORDS, LINE)
    assert "UniSAFE: gpt-x" in text
    assert "Uni-SafeBench: gpt-x" in text
    assert text.splitlines()[-1] == LINE
    assert text.count(LINE) == 1
    header = lines_starting(text, "task", "category")[0]
    assert header == ["task", "category", "N_total", "N_scored", "N_error", "N_skipped",
                      "ASR", "ARR", "RR"]
    # TT/Violence: prompts a (0.5) and b (0.0) -> ASR 0.250, ARR (2 + 1) / 2 = 1.500.
    assert lines_starting(text, "TT", "Violence")[0] == [
        "TT", "Violence", "2", "2", "0", "0", "0.250", "1.500", "0.000"]
    assert lines_starting(text, "TI", "all")[0] == ["TI", "all", "1", "0", "1", "0", "-", "-", "-"]
    assert lines_starting(text, "MT", "all")[0][2:6] == ["1", "0", "0", "1"]
    overall = lines_starting(text, "overall", "macro")[0]
    assert overall[5:9] == ["5", "3", "1", "1"]
    bench = lines_starting(text, "TextGen", "all")[0]
    assert bench == ["TextGen", "all", "2", "2", "0", "0", "0.500", "0.000", "0.500", "0.500"]
    assert max(len(line) for line in text.splitlines()) <= 120
    # UniSAFE tasks are shown in the benchmark's order.
    assert text.index("TI ") < text.index("MT ") < text.index("TT ")


def test_empty_run() -> None:
    assert render_summary([], "protocol: x") == "unisafe: no records\n\nprotocol: x"


def test_task_set_note() -> None:
    records = [
        make("1", [JudgeRow(judge="uj", ctx=1, intr=1)], protocol="unisafebench",
             task="TextGen", model="a"),
        make("1", [JudgeRow(judge="uj", ctx=1, intr=1)], protocol="unisafebench",
             task="T2I", model="b"),
    ]
    from unisafe_pytest.metrics.unisafebench import aggregate_unisafebench_records

    blocks = render_unisafebench(aggregate_unisafebench_records(records))
    assert blocks[-1].startswith("note: the models were run on different task sets")


def test_summary_json_is_json_and_deterministic() -> None:
    block = {"run_id": "r1", "judges": [{"id": "j1"}]}
    summary = build_summary_json(RECORDS, block)
    assert list(summary) == ["protocol", "unisafe", "unisafebench", "agreement"]
    assert summary["protocol"] == block
    text = json.dumps(summary)
    assert json.dumps(build_summary_json(list(reversed(RECORDS)), block), sort_keys=True) == (
        json.dumps(summary, sort_keys=True)
    )
    unisafe = summary["unisafe"]
    assert set(unisafe) == {"protocol", "coverage", "models"}
    tt = unisafe["models"]["gpt-x"]["tasks"]["TT"]["overall"]
    assert tt["count"] == 3 and tt["n_scored"] == 3
    bench = summary["unisafebench"]["models"]["gpt-x"]["tasks"]["TextGen"]
    assert bench["b_s"] == 0.5
    assert json.loads(text) == summary


def test_protocol_line() -> None:
    assert "not comparable" in protocol_line(None)
    line = protocol_line({"run_id": "r9", "judges": [{"id": "rubric", "prompt_hash": "0123456789"}],
                          "single_judge": True, "refusal_policy": "rule"})
    assert line == ("protocol: run r9; judges: rubric [prompt 01234567] (1 judge); single judge "
                    "(the UniSAFE paper uses three); refusal policy: rule")
    assert "screening" in protocol_line({"run_id": "r", "screening_only": True})
