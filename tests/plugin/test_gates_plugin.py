"""Gates decide the exit status at the end of the run; bad gate values fail before collection."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MODEL_ARGS, instance


def cases(unsafe: int, safe: int, **extra: str) -> list[dict[str, object]]:
    return ([instance(f"u{k}", behaviour="unsafe") for k in range(unsafe)]
            + [instance(f"s{k}") for k in range(safe)]
            + [instance(k, behaviour=v) for k, v in extra.items()])


def test_gate_only_lets_unsafe_instances_report_without_failing(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    suite("cases.jsonl", cases(2, 18))
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl",
                             "--unisafe-max-asr=0.3", "--unisafe-gate-only")
    result.assert_outcomes(passed=18, failed=2)  # the outcomes stay what they are
    result.stdout.fnmatch_lines(["max-asr ok: fake-model overall ASR 0.100 [[]95% CI *, N=20]*",
                                 "unisafe gates: all 1 passed"])
    assert result.ret == 0
    without = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl",
                              "--unisafe-max-asr=0.3")
    assert without.ret == 1  # without --unisafe-gate-only a failed test still fails the run


def test_a_failed_gate_fails_the_run(fakes: pytest.Pytester,
                                     suite: Callable[..., Path]) -> None:
    suite("cases.jsonl", cases(15, 5))
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl",
                             "--unisafe-max-asr=TT=0.2", "--unisafe-gate-only")
    result.stdout.fnmatch_lines(["max-asr FAILED: fake-model TT ASR 0.750*limit 0.2*",
                                 "unisafe gates: 1 of 1 FAILED"])
    assert result.ret == 1
    (run,) = (fakes.path / ".unisafe" / "runs").iterdir()
    gates = json.loads((run / "gates.json").read_text())
    assert gates[0]["passed"] is False and gates[0]["interval"][0] > 0.2
    assert "max-asr FAILED" in (run / "report.html").read_text()


def test_a_gate_fails_a_run_whose_tests_all_pass(fakes: pytest.Pytester,
                                                 suite: Callable[..., Path]) -> None:
    suite("cases.jsonl", cases(0, 3))
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl",
                             "--unisafe-max-asr=TI=0.1")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["max-asr TI<=0.1: no such task in the run"])
    assert result.ret == 1


def test_gate_only_still_fails_on_errors(fakes: pytest.Pytester,
                                         suite: Callable[..., Path]) -> None:
    suite("cases.jsonl", cases(1, 10, down="model-error"))
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl", "--unisafe-gate-only",
                             "--unisafe-max-asr=0.5")
    result.assert_outcomes(passed=10, failed=1, errors=1)
    assert result.ret == 1


def test_baseline_regression(fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("cases.jsonl", cases(0, 30))
    fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl", "--unisafe-report-dir=base")
    suite("cases.jsonl", cases(20, 10))
    args = (*MODEL_ARGS, "--unisafe-suite=cases.jsonl", "--unisafe-gate-only",
            "--unisafe-baseline=base/summary.json")
    result = fakes.runpytest(*args, "--unisafe-allowed-regression=0.05")
    result.stdout.fnmatch_lines(["baseline FAILED: fake-model TT ASR 0.667*vs baseline 0.000 "
                                 "+ allowed 0.05 = 0.050"])
    assert result.ret == 1
    result = fakes.runpytest(*args, "--unisafe-allowed-regression=0.9")
    assert result.ret == 0


@pytest.mark.parametrize(("option", "message"), [
    ("--unisafe-max-asr=1.5", "expected a number in [[]0, 1[]], got '1.5'"),
    ("--unisafe-max-asr=TI:0.1", "*expected a rate for the overall gate*got 'TI:0.1'*"),
    ("--unisafe-max-asr=TI=0.1,TT", "*'TT' is not TASK=RATE*"),
    ("--unisafe-baseline=nope.json", "*cannot read the baseline*nope.json*does not exist*"),
    ("--unisafe-shard=3/2", "*expected i/n with 1 <= i <= n*"),
    ("--unisafe-reducer=best", "*invalid choice: 'best'*"),
])
def test_bad_values_fail_before_collection(fakes: pytest.Pytester, option: str,
                                           message: str) -> None:
    result = fakes.runpytest(*MODEL_ARGS, option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


@pytest.mark.slow
def test_gates_decide_the_exit_status_under_xdist(fakes: pytest.Pytester,
                                                  suite: Callable[..., Path]) -> None:
    suite("cases.jsonl", cases(2, 18))
    args = (*MODEL_ARGS, "--unisafe-suite=cases.jsonl", "-n", "2", "--unisafe-gate-only")
    passing = fakes.runpytest_subprocess(*args, "--unisafe-max-asr=0.3")
    passing.assert_outcomes(passed=18, failed=2)
    assert passing.ret == 0
    failing = fakes.runpytest_subprocess(*args, "--unisafe-max-asr=overall=0.3,TT=0.0",
                                         "--unisafe-report-dir=strict")
    assert failing.ret == 1
    assert not json.loads((fakes.path / "strict" / "gates.json").read_text())[1]["passed"]


def test_report_html_is_written_unless_turned_off(fakes: pytest.Pytester,
                                                  suite: Callable[..., Path]) -> None:
    suite("cases.jsonl", cases(1, 1))
    fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl", "--unisafe-report-dir=on")
    fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl", "--unisafe-report-dir=off",
                    "--unisafe-html=off")
    assert (fakes.path / "on" / "report.html").is_file()
    assert not (fakes.path / "on" / "gates.json").exists()  # no gate, no file
    assert (fakes.path / "off" / "summary.json").is_file()
    assert not (fakes.path / "off" / "report.html").exists()
