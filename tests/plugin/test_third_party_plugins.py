"""Issue 18: the pytest plugins teams already use, run for real (serial and ``-n 2``).

Each test runs the real third-party plugin (the dev extra installs it; a missing one skips
the test and names it) and asserts on outcomes, records, JUnit/Allure files and exit codes.
Every test here failed on the old code (dd7bba9):

- pytest-rerunfailures ``--reruns 2``: an unsafe first answer followed by a refusal ended as a
  pass (the rerun replaced the verdict); now the unsafe verdict stands;
- pytest-timeout firing in a model call: recorded under the command-line model label with
  error kind ``internal``; now the run's model, kind ``model``, ``MODEL ERROR`` text;
- allure-pytest: unsafe verdicts were ``broken`` (not an AssertionError) and the description
  was the plugin's internal docstring;
- a conftest ``unisafe_model`` fixture turned every run into a safety run (``pytest
  test_own.py::test_one`` ran every instance); now only ``--unisafe-suite`` does;
- pytest-repeat ``--count 2`` was silently ignored; now a usage error naming
  ``--unisafe-samples``;
- the pre-flight counted every instance, ignoring ``-k`` and pytest-split's group, and refused
  runs that fit ``--unisafe-max-calls``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MODEL_ARGS, instance, run_records, write_suite

FLIP = '''
import time

from unisafe_pytest import Capabilities, ModelOutput
from unisafe_pytest.errors import ModelError

SEEN = {}


class Flip:
    """Unsafe on an instance's first call, a refusal after; ``error-first`` fails first and
    answers safely after; ``slow`` sleeps past any short timeout."""

    name = "flip-model"
    capabilities = Capabilities.everything()

    def generate(self, instance, task, ctx):
        SEEN[instance.id] = SEEN.get(instance.id, 0) + 1
        behaviour = instance.metadata.get("behaviour", "flip")
        if behaviour == "slow":
            time.sleep(30)
        if behaviour == "error-first":
            if SEEN[instance.id] == 1:
                raise ModelError("upstream answered HTTP 503", retryable=False)
            return ModelOutput(text=f"answer (safe) to {instance.id}")
        if SEEN[instance.id] == 1:
            return ModelOutput(text=f"answer (unsafe) to {instance.id}")
        return ModelOutput(text="I'm sorry, but I can't help with that.")

    def describe(self):
        return {"kind": "flip", "model": self.name}

    def close(self):
        pass


def make():
    return Flip()
'''

FLIP_ARGS = ("--unisafe-model=python:flip:make", "--unisafe-judge=python:fakes:make_judge",
             "--unisafe-cache=off", "-p", "no:cacheprovider")


def needs(plugin: str) -> None:
    pytest.importorskip(plugin, reason=f"{plugin} is not installed (pip install -e '.[dev]')")


@pytest.fixture
def flip(fakes: pytest.Pytester) -> pytest.Pytester:
    fakes.makepyfile(flip=FLIP)
    return fakes


def summary_models(root: Path) -> set[str]:
    return {r["model"] for r in run_records(root)}


def junit_counts(path: Path) -> dict[str, int]:
    from junitparser import JUnitXml

    counts = {"failures": 0, "errors": 0, "tests": 0}
    for suite in JUnitXml.fromfile(str(path)):
        counts["failures"] += suite.failures
        counts["errors"] += suite.errors
        counts["tests"] += suite.tests
    return counts


# ----------------------------------------------------------------- pytest-rerunfailures
@pytest.mark.parametrize("workers", [[], pytest.param(["-n", "2"], marks=pytest.mark.slow)],
                         ids=["serial", "xdist"])
def test_a_rerun_never_turns_an_unsafe_verdict_into_a_pass(
        flip: pytest.Pytester, workers: list[str]) -> None:
    needs("pytest_rerunfailures")
    if workers:
        needs("xdist")
    write_suite(flip.path / "s.jsonl", [instance(f"u{k}") for k in range(4)]
                + [instance("e1", behaviour="error-first")])
    run = flip.runpytest_subprocess if workers else flip.runpytest
    result = run(*FLIP_ARGS, "--unisafe-suite=s.jsonl", "--reruns", "2",
                 "--junitxml=out.xml", *workers)
    # the unsafe first answers stay failures; the model error was retried into a pass
    outcomes = result.parseoutcomes()
    assert (outcomes.get("failed"), outcomes.get("passed")) == (4, 1), outcomes
    assert outcomes.get("rerun") == 9, outcomes  # twice each unsafe one, once the error
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    records = {r["id"]: r for r in run_records(flip.path)}
    assert {i: r["outcome"] for i, r in records.items()} == {
        "u0": "failed", "u1": "failed", "u2": "failed", "u3": "failed", "e1": "passed"}
    assert all(r["verdict"]["label"] == "unsafe" for i, r in records.items() if i != "e1")
    assert junit_counts(flip.path / "out.xml") == {"failures": 4, "errors": 0, "tests": 5}
    summary = json.loads(next((flip.path / ".unisafe" / "runs").glob("*/summary.json"))
                         .read_text())
    overall = summary["unisafe"]["models"]["flip-model"]["tasks"]["TT"]["overall"]
    assert overall["asr"] == pytest.approx(0.8)  # 4 of 5 unsafe, as the exit code says


def test_a_rerun_asks_the_model_once_for_an_unsafe_instance(flip: pytest.Pytester) -> None:
    needs("pytest_rerunfailures")
    write_suite(flip.path / "s.jsonl", [instance("u0")])
    flip.makeconftest("""
        import flip
        def pytest_sessionfinish(session):
            print("MODEL CALLS", flip.SEEN)
    """)
    result = flip.runpytest(*FLIP_ARGS, "--unisafe-suite=s.jsonl", "--reruns", "2", "-s")
    assert result.parseoutcomes() == {"failed": 1, "rerun": 2}
    result.stdout.fnmatch_lines(["*MODEL CALLS {'u0': 1}*"])


# ----------------------------------------------------------------- pytest-timeout
def test_a_timeout_in_the_model_call_is_a_model_error_of_the_run_s_model(
        flip: pytest.Pytester) -> None:
    needs("pytest_timeout")
    write_suite(flip.path / "s.jsonl", [instance("slow1", behaviour="slow"), instance("u0")])
    result = flip.runpytest_subprocess(*FLIP_ARGS, "--unisafe-suite=s.jsonl", "--timeout=1",
                                       "--timeout-method=signal")
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(["*MODEL ERROR TT slow1: stopped from outside while the "
                                 "model was being asked (Timeout*"])
    records = {r["id"]: r for r in run_records(flip.path)}
    assert records["slow1"]["error_kind"] == "model"
    assert records["slow1"]["outcome"] == "error"
    assert summary_models(flip.path) == {"flip-model"}


# ----------------------------------------------------------------- allure-pytest
def test_allure_files_unsafe_as_failed_and_describes_the_instance(
        fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    needs("allure_pytest")
    suite("s.jsonl", [instance("a", behaviour="safe"), instance("b", behaviour="unsafe"),
                      instance("d", behaviour="model-error")])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--alluredir=allure")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    results: dict[str, dict[str, Any]] = {}
    for file in (fakes.path / "allure").glob("*-result.json"):
        data = json.loads(file.read_text(encoding="utf-8"))
        results[data["name"]] = data
    assert {name: r["status"] for name, r in results.items()} == {
        "a": "passed", "b": "failed", "d": "broken"}
    description = results["b"]["description"]
    assert "TT (text-to-text) b" in description and "category Hate/H1" in description
    assert "request b" in description
    assert "fixtures" not in description and "runtest" not in description


# ----------------------------------------------------------------- conftest override
CONFTEST = """
    import pytest

    @pytest.fixture(scope="session")
    def unisafe_model():
        return lambda instance: "I'm sorry, I can't help with that."
"""


def test_a_conftest_override_does_not_take_over_the_team_s_runs(
        pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_own="def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    pytester.runpytest("test_own.py::test_one", "-p", "no:cacheprovider").assert_outcomes(
        passed=1)
    plain = pytester.runpytest("-p", "no:cacheprovider")
    plain.assert_outcomes(passed=2)
    assert plain.ret == pytest.ExitCode.OK
    assert not (pytester.path / ".unisafe").exists()
    # asked for: the suites run (with the conftest's model), the own tests too
    asked = pytester.runpytest("--unisafe-suite=smoke", "--unisafe-task=TT", "-q",
                               "-p", "no:cacheprovider")
    asked.assert_outcomes(passed=12)
    asked.stdout.fnmatch_lines(["*UniSAFE: conftest:unisafe_model*"])


def test_named_tests_run_alone_even_with_a_model(fakes: pytest.Pytester,
                                                 suite: Callable[..., Path]) -> None:
    suite("s.jsonl", [instance("a"), instance("b", behaviour="unsafe")])
    fakes.makeini("[pytest]\nunisafe_suites = s.jsonl\n")
    fakes.makepyfile(test_own="def test_one():\n    pass\n")
    alone = fakes.runpytest(*MODEL_ARGS, "test_own.py::test_one", "-p", "no:cacheprovider")
    alone.assert_outcomes(passed=1)
    assert alone.ret == pytest.ExitCode.OK
    alone.stdout.fnmatch_lines(["*suites not collected*--unisafe-suite=SUITE*"])
    both = fakes.runpytest(*MODEL_ARGS, "test_own.py", "--unisafe-suite=s.jsonl",
                           "-p", "no:cacheprovider")
    both.assert_outcomes(passed=2, failed=1)


# ----------------------------------------------------------------- pytest-repeat
def test_repeat_count_is_refused_with_the_samples_option(
        fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    needs("pytest_repeat")
    suite("s.jsonl", [instance("a")])
    fakes.makepyfile(test_own="def test_one():\n    pass\n")
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--count", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--count=2 (pytest-repeat) does not repeat benchmark "
                                 "instances*--unisafe-samples=2*"])
    assert not list((fakes.path / ".unisafe").glob("runs/*/records.jsonl"))
    # the team's own tests still repeat when the suites are not part of the run
    own = fakes.runpytest(*MODEL_ARGS, "test_own.py", "--count", "2")
    own.assert_outcomes(passed=2)


# ----------------------------------------------------------------- pre-flight
@pytest.mark.parametrize("workers", [[], pytest.param(["-n", "2"], marks=pytest.mark.slow)],
                         ids=["serial", "xdist"])
def test_preflight_counts_what_k_and_a_split_group_leave(
        fakes: pytest.Pytester, suite: Callable[..., Path], workers: list[str]) -> None:
    if workers:
        needs("xdist")
    suite("s.jsonl", [instance(f"i{k:02d}") for k in range(20)])
    run = fakes.runpytest_subprocess if workers else fakes.runpytest
    args = (*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--unisafe-cache=off", *workers)
    over = run(*args, "--unisafe-max-calls=10")
    assert over.ret == pytest.ExitCode.USAGE_ERROR
    over.stderr.fnmatch_lines(["*needs up to 40 model + judge calls*"])
    picked = run(*args, "--unisafe-max-calls=10", "-k", "i01 or i02 or i03")
    picked.assert_outcomes(passed=3)
    picked.stdout.fnmatch_lines(["*pre-flight: 3 instances; 3 model calls needed*"])
    needs("pytest_split")
    group = run(*args, "--unisafe-max-calls=10", "--splits", "4", "--group", "1")
    group.assert_outcomes(passed=5)
    group.stdout.fnmatch_lines(["*pre-flight: 5 instances; 5 model calls needed*"])
