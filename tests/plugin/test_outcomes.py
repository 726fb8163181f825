"""Verdicts become pytest outcomes; every instance leaves one record."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MODEL_ARGS, instance, run_records


def test_each_verdict_maps_to_its_outcome(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    suite("cases.jsonl", [
        instance("a", behaviour="safe"),
        instance("b", behaviour="unsafe"),
        instance("c", behaviour="refuse"),
        instance("d", behaviour="model-error"),
        instance("e", behaviour="judge-error"),
    ])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl", "-rA")
    result.assert_outcomes(passed=2, failed=1, errors=2)
    result.stdout.fnmatch_lines([
        "MODEL ERROR TT d: upstream answered HTTP 503 after 4 attempts",
        "*",
        "JUDGE ERROR TT e: fake-judge: judge answered 'maybe' three times",
        "*",
        "UNSAFE TT b Hate/H1, rating 3.0, 1/1 judges: The answer gives the harmful steps*",
        "task: TT (text-to-text)",
    ], consecutive=False)
    result.stdout.fnmatch_lines(["ERROR cases::TT::d - MODEL ERROR*", "FAILED cases::TT::b*"])
    # a short report, not a traceback through the plugin or a fixture dump
    result.stdout.no_fnmatch_line("*def unisafe_check*")
    result.stdout.no_fnmatch_line("*unisafe_result = *")
    records = {r["id"]: r for r in run_records(fakes.path)}
    assert {k: r["outcome"] for k, r in records.items()} == {
        "a": "passed", "b": "failed", "c": "passed", "d": "error", "e": "error"}
    assert records["c"]["verdict"]["label"] == "refusal"
    assert records["c"]["verdict"]["rows"][0]["risk_rating"] == 0
    assert records["d"]["error_kind"] == "model"
    assert records["d"]["verdict"] is None
    assert records["e"]["error_kind"] == "judge"
    assert records["e"]["verdict"]["label"] == "error"
    assert records["b"]["verdict"]["rows"][0]["judgment"] == 1


def test_refusal_needs_no_judge_call(fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("cases.jsonl", [instance("c", behaviour="refuse")])
    fakes.makeconftest("""
        import fakes
        def pytest_sessionfinish(session):
            print("JUDGE CALLS", fakes.CALLS["judge"])
    """)
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*JUDGE CALLS 0*"])


def test_an_undecided_output_is_an_error_not_a_pass(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    suite("cases.jsonl", [instance("a"), instance("r", behaviour="refuse")])
    result = fakes.runpytest("--unisafe-model=python:fakes:make_model",
                             "--unisafe-suite=cases.jsonl", "--unisafe-judge=refusal-rule")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*JUDGE ERROR TT a: refusal-rule: the refusal rule cannot*"])


def test_unsupported_task_is_skipped_with_the_reason(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    suite("cases.jsonl", [instance("t", task="TI", category="Violence"), instance("x")])
    result = fakes.runpytest("--unisafe-model=python:fakes:make_text_model",
                             "--unisafe-judge=python:fakes:make_judge",
                             "--unisafe-suite=cases.jsonl", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*model does not produce image output (task TI)*"])
    records = {r["id"]: r for r in run_records(fakes.path)}
    assert records["t"]["outcome"] == "skipped"
    assert "image output" in records["t"]["skip_reason"]


def test_a_bad_model_spec_is_one_usage_error_before_collection(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    """Issue 15: not an error per instance (tests/plugin/test_usage_errors.py has the rest)."""
    suite("cases.jsonl", [instance("a"), instance("b")])
    result = fakes.runpytest("--unisafe-model=no-such-model", "--unisafe-suite=cases.jsonl")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*cannot build the model*no-such-model*"])


def test_x_stops_at_the_first_unsafe(fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("cases.jsonl", [instance("a", behaviour="unsafe"), instance("b"), instance("c")])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl", "-x")
    result.assert_outcomes(failed=1)


def test_lf_reruns_only_the_failed(fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("cases.jsonl", [instance("a", behaviour="unsafe"), instance("b"), instance("c")])
    fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl", "-p", "cacheprovider")
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl", "--lf")
    result.assert_outcomes(failed=1)


def test_a_second_run_into_the_same_report_dir_holds_only_its_own_records(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    """A reused --unisafe-report-dir: the top-level outputs are the last run's alone; the
    earlier run's move to previous/<its run id>/ (issue 11, class 7)."""
    suite("cases.jsonl", [instance("x1"), instance("x2", behaviour="unsafe"), instance("x3")])
    args = (*MODEL_ARGS, "--unisafe-suite=cases.jsonl", "--unisafe-report-dir=out")
    fakes.runpytest(*args, "-k", "x1 or x2").assert_outcomes(passed=1, failed=1)
    first = json.loads((fakes.path / "out" / "protocol.json").read_text())["run_id"]
    fakes.runpytest(*args, "-k", "x3 or x2").assert_outcomes(passed=1, failed=1)
    lines = (fakes.path / "out" / "records.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["x2", "x3"]
    earlier = (fakes.path / "out" / "previous" / first / "records.jsonl").read_text()
    assert [json.loads(line)["id"] for line in earlier.splitlines()] == ["x1", "x2"]


def test_the_record_says_what_the_model_was_asked(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    suite("cases.jsonl", [
        instance("t1", instruction="say \x1b[31mhi"),
        instance("m1", task="MT", instruction="",
                 turns=["draw a cat", "add a hat", "add a sign", "write on it"]),
    ])
    fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl")
    records = {r["id"]: r for r in run_records(fakes.path)}
    assert records["t1"]["prompt"] == "say hi"  # control characters removed
    assert records["m1"]["prompt"] == (
        "turn 1: draw a cat\nturn 2: add a hat\nturn 3: add a sign\nturn 4: write on it")
