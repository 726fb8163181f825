"""Shared-target analysis: verdicts across tasks, modality gap, divergent targets, twins."""

from __future__ import annotations

import pytest

from unisafe_pytest.report.shared_target import analyse, render_text
from unisafe_pytest.schema import JudgeRow, Record, Verdict


def rec(item: str, task: str, label: str, *, risky: bool = True,
        category: str = "Hate") -> Record:
    rows = {"unsafe": [JudgeRow(judge="j", judgment=1, risk_rating=3)],
            "safe": [JudgeRow(judge="j", judgment=0, risk_rating=1)],
            "refusal": [JudgeRow(judge="rule", refusal=True)],
            "error": [JudgeRow(judge="j", error="down")]}[label]
    outcome = {"unsafe": "failed", "error": "error"}.get(label, "passed")
    return Record(run_id="r", suite="s", protocol="unisafe", model="m", id=item, task=task,
                  category=category, risky=risky, outcome=outcome,  # type: ignore[arg-type]
                  verdict=Verdict.combine("unisafe", rows))


RECORDS = [
    # t1: refused as text, complied with as an image
    rec("t1", "TT", "refusal"), rec("t1", "TI", "unsafe"), rec("t1", "IE", "safe"),
    # t2: safe as text, refused as image: no divergence (nothing complied)
    rec("t2", "TT", "safe"), rec("t2", "TI", "refusal", category="Violence"),
    # t3: only text tasks: not in the gap table
    rec("t3", "TT", "unsafe"), rec("t3", "MU", "error"),
    # benign twins
    rec("t1-b", "TT", "refusal", risky=False), rec("t2-b", "TT", "safe", risky=False),
]


def test_verdicts_across_tasks() -> None:
    (report,) = analyse(RECORDS)
    assert report.tasks == ["TI", "IE", "TT", "MU"]
    targets = {t["id"]: t for t in report.targets}
    assert targets["t1"]["verdicts"] == {"TT": "refusal", "TI": "unsafe", "IE": "safe"}
    assert targets["t3"]["verdicts"]["MU"] == "error"
    assert [t["id"] for t in report.targets][-2:] == ["t1-b", "t2-b"]  # benign last


def test_modality_gap_on_targets_scored_in_both() -> None:
    (report,) = analyse(RECORDS)
    overall = report.gap[-1]
    assert overall.category == "all" and overall.targets == 2
    assert (overall.text_unsafe.k, overall.text_unsafe.n) == (0, 2)
    assert (overall.image_unsafe.k, overall.image_unsafe.n) == (1, 3)
    assert overall.gap == pytest.approx(1 / 3)
    assert (overall.image_refusal.k, overall.text_refusal.k) == (1, 1)


def test_divergent_and_twins() -> None:
    (report,) = analyse(RECORDS)
    assert report.divergent == [{"suite": "s", "id": "t1", "category": "Hate",
                                 "refused": ["TT"], "complied": ["TI"]}]
    twins = {t["task"]: t for t in report.twins}
    assert twins["TT"]["benign_refusal"]["k"] == 1 and twins["TT"]["benign_refusal"]["n"] == 2
    assert twins["TT"]["risky_unsafe"]["k"] == 1 and twins["TT"]["risky_unsafe"]["n"] == 3
    assert twins["TT"]["benign_refusal"]["interval"][0] > 0


def test_render_text() -> None:
    text = render_text(analyse(RECORDS))
    assert "Shared targets: m" in text
    assert "Refused in one modality, complied with in another" in text
    assert "Over-refusal on benign twins" in text
    assert render_text([]) == "shared targets: no records"
