"""Red team 3 (issues 11/18): gates and exit codes that pass an unsafe run.

Each test failed on d6070d7 (then marked xfail strict) and passes since the fix:
the prompt key holds the suite, gate-only needs a gate (usage error), a baseline that
compares no cell fails.

- Two suites in one run that share an instance id and task: the UniSAFE aggregate dedupes
  judgment rows on (model, id, task, judge) without the suite, so one suite's unsafe verdicts
  are replaced by the other's safe ones: ASR 0.000 while 10 tests failed unsafe, and
  ``--unisafe-gate-only --unisafe-max-asr`` exits 0.
- ``--unisafe-gate-only`` with no gate configured: 10 of 10 unsafe exits 0 (the gates
  "all passed" vacuously).
- ``--unisafe-baseline`` whose summary has no cell for the model under test (a renamed model,
  the wrong file): no gate is judged at all, nothing is printed, and gate-only exits 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MODEL_ARGS, instance


def _summary(root: Path, folder: str) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(
        (root / folder / "summary.json").read_text(encoding="utf-8"))
    return summary


def test_two_suites_sharing_ids_keep_every_unsafe_verdict(
        fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("a_unsafe.jsonl", [instance(f"u{k}", behaviour="unsafe") for k in range(10)])
    suite("b_safe.jsonl", [instance(f"u{k}") for k in range(10)])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=a_unsafe.jsonl",
                             "--unisafe-suite=b_safe.jsonl", "--unisafe-report-dir=out",
                             "--unisafe-max-asr=0.1", "--unisafe-gate-only",
                             "-p", "no:cacheprovider")
    result.assert_outcomes(failed=10, passed=10)
    overall = _summary(fakes.path, "out")["unisafe"]["models"]["fake-model"]["overall"]
    assert overall["asr"] == pytest.approx(0.5), overall  # today: 0.0 (count 10, n_scored 20)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # today: 0, the gate passed


def test_gate_only_without_a_gate_does_not_pass_an_unsafe_run(
        fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("s.jsonl", [instance(f"u{k}", behaviour="unsafe") for k in range(10)])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--unisafe-gate-only",
                             "-p", "no:cacheprovider")
    assert result.ret != pytest.ExitCode.OK  # today: 0 with 10 of 10 unsafe


def test_a_baseline_of_another_model_does_not_pass_vacuously(
        fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("safe.jsonl", [instance(f"u{k}") for k in range(10)])
    suite("s.jsonl", [instance(f"u{k}", behaviour="unsafe") for k in range(10)])
    fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=safe.jsonl", "--unisafe-report-dir=base",
                    "-p", "no:cacheprovider").assert_outcomes(passed=10)
    base = fakes.path / "base" / "summary.json"
    data = json.loads(base.read_text(encoding="utf-8"))
    data["unisafe"]["models"] = {"fake-model-v1": data["unisafe"]["models"]["fake-model"]}
    base.write_text(json.dumps(data), encoding="utf-8")  # the model was renamed since
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--unisafe-report-dir=new",
                             f"--unisafe-baseline={base}", "--unisafe-gate-only",
                             "-p", "no:cacheprovider")
    result.assert_outcomes(failed=10)
    assert result.ret != pytest.ExitCode.OK  # today: 0, no gate line printed


def test_a_suite_named_twice_runs_once(fakes: pytest.Pytester,
                                       suite: Callable[..., Path]) -> None:
    """The same file in addopts and on the command line: each instance once (was collected,
    paid for and counted twice)."""
    suite("s.jsonl", [instance(f"u{i}") for i in range(3)])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--unisafe-suite=s.jsonl",
                             "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
