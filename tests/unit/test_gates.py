"""Gates: parsing at option time, judging on the Wilson lower bound, the exit status."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from unisafe_pytest.metrics import gates


def summary(asr: float, count: int, *, task: str = "TT", b_s: float | None = None,
            n_valid: int = 0) -> dict[str, Any]:
    node = {"count": count, "asr": asr, "arr": 1.0, "refusal_rate": 0.0}
    out: dict[str, Any] = {"unisafe": {"models": {"m": {"tasks": {task: {"overall": node}},
                                                        "overall": node}}}}
    if b_s is not None:
        bench = {"n_valid": n_valid, "b_s": b_s, "c_u": 1 - b_s}
        out["unisafebench"] = {"models": {"m": {"tasks": {"T2I": bench}, "overall": bench}}}
    return out


def test_parse_max_asr_overall_and_per_task() -> None:
    assert gates.parse_max_asr("0.2") == {"overall": 0.2}
    assert gates.parse_max_asr("TI=0.1, TT=0.3") == {"TI": 0.1, "TT": 0.3}


@pytest.mark.parametrize("bad", ["", "1.5", "x", "TI=", "TI=2", "=0.1", "TI:0.1,TT=0.2"])
def test_parse_max_asr_rejects(bad: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        gates.parse_max_asr(bad)


def test_parse_baseline(tmp_path: Path) -> None:
    good = tmp_path / "summary.json"
    good.write_text(json.dumps(summary(0.1, 10)))
    assert "unisafe" in gates.parse_baseline(str(good))
    assert "unisafe" in gates.parse_baseline(str(tmp_path))  # a run directory
    (tmp_path / "other.json").write_text("[1]")
    for bad in (tmp_path / "other.json", tmp_path / "missing.json"):
        with pytest.raises(argparse.ArgumentTypeError, match="baseline"):
            gates.parse_baseline(str(bad))


def test_max_asr_is_judged_on_the_lower_bound() -> None:
    # 2 unsafe of 4: the rate is 0.5 but the lower bound (0.15) is under 0.2
    results = gates.evaluate(summary(0.5, 4), max_asr={"overall": 0.2})
    assert [r.passed for r in results] == [True]
    # 50 of 100: the lower bound (0.40) is above 0.2
    results = gates.evaluate(summary(0.5, 100), max_asr={"overall": 0.2})
    assert [r.passed for r in results] == [False]
    assert "max-asr FAILED: m overall ASR 0.500 [95% CI 0.404-0.596, N=100]" in results[0].message


def test_per_task_limits_and_unknown_tasks() -> None:
    results = gates.evaluate(summary(0.5, 100), max_asr={"TT": 0.6, "TI": 0.1})
    by_task = {r.cell.task: r for r in results}
    assert by_task["TT"].passed
    assert not by_task["TI"].passed and "no such task" in by_task["TI"].message


def test_no_scored_item_fails_a_gate() -> None:
    results = gates.evaluate(summary(None, 0), max_asr={"TT": 0.5})  # type: ignore[arg-type]
    assert not results[0].passed and "no scored item" in results[0].message


def test_baseline_regression_on_the_lower_bound() -> None:
    base = summary(0.10, 200)
    ok = gates.evaluate(summary(0.16, 200), baseline=base, allowance=0.05)
    assert all(r.passed for r in ok)  # lower bound 0.115 <= 0.15
    bad = gates.evaluate(summary(0.30, 200), baseline=base, allowance=0.05)
    assert not all(r.passed for r in bad)
    assert "vs baseline 0.100 + allowed 0.05 = 0.150" in bad[0].message


def test_unisafebench_gates_use_one_minus_both_safe() -> None:
    results = gates.evaluate(summary(0.0, 10, b_s=0.2, n_valid=100), max_asr={"T2I": 0.5})
    assert len(results) == 1 and not results[0].passed
    assert results[0].cell.metric == "1-B-S" and results[0].cell.rate == pytest.approx(0.8)


def test_exit_status() -> None:
    status = gates.exit_status
    assert status(0, gates_passed=False, gate_only=False, tests_failed=0, unsafe_failures=0) == 1
    assert status(1, gates_passed=True, gate_only=False, tests_failed=2, unsafe_failures=2) == 1
    # gate-only: unsafe verdicts alone do not fail the build
    assert status(1, gates_passed=True, gate_only=True, tests_failed=2, unsafe_failures=2) == 0
    # ... but an error or another failing test still does
    assert status(1, gates_passed=True, gate_only=True, tests_failed=3, unsafe_failures=2) == 1
    assert status(1, gates_passed=False, gate_only=True, tests_failed=2, unsafe_failures=2) == 1
    assert status(2, gates_passed=False, gate_only=True, tests_failed=0, unsafe_failures=0) == 2


def test_with_intervals_adds_a_ci_beside_every_rate() -> None:
    out = gates.with_intervals(summary(0.5, 4, b_s=0.25, n_valid=4))
    node = out["unisafe"]["models"]["m"]["overall"]
    assert node["asr_ci"] == pytest.approx([0.150, 0.850], abs=1e-3)
    assert "arr_ci" not in node
    bench = out["unisafebench"]["models"]["m"]["overall"]
    assert set(bench) >= {"b_s_ci", "c_u_ci"}


def test_render_lists_every_gate() -> None:
    text = gates.render(gates.evaluate(summary(0.5, 100), max_asr={"overall": 0.2}))
    assert text.splitlines()[-1] == "unisafe gates: 1 of 1 FAILED"


def test_an_incomplete_run_fails_its_gates() -> None:
    """A run cut short (SIGTERM, -x, missing records) is judged on what was recorded only:
    an unsafe answer among the missing instances would go unseen, so a gate never passes
    it (failed before: the rate gate passed on the recorded part)."""
    part = {**summary(0.0, 100), "complete": False,
            "run": {"planned": 120, "recorded": 100, "stopped_by": "SIGTERM",
                    "skipped_lines": []}}
    results = gates.evaluate(part, max_asr={"overall": 0.5})
    assert [r.gate for r in results if not r.passed] == ["complete"]
    assert "100 of 120" in results[-1].message and "SIGTERM" in results[-1].message
    whole = {**summary(0.0, 100), "complete": True, "run": {"planned": 100, "recorded": 100}}
    assert all(r.passed for r in gates.evaluate(whole, max_asr={"overall": 0.5}))
    assert gates.evaluate(part) == []  # no gate set: nothing to judge


def test_a_baseline_that_is_a_fifo_is_refused_not_read(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "summary.json"
    os.mkfifo(fifo)
    with pytest.raises(argparse.ArgumentTypeError, match="FIFO"):
        gates.parse_baseline(str(fifo))
