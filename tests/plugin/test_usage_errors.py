"""Configuration mistakes are caught before collection (issue 15, part 3).

Class: a run that cannot start as configured -- a bad option value, an unknown model or judge
profile, a chosen profile's API key variable unset, a suite file that does not exist, an
extra folder of profiles that does not exist. Each is ONE usage error (exit status 4) printed
before collection, naming the value and the fix (closest names and the list for a typo; both
the given and the resolved path for a suite), and no run folder is made. On the old code
(dd7bba9) these were an ERROR block per instance, a run folder and exit status 1, and a
relative suite path resolved against the rootdir instead of the folder pytest ran from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MODEL_ARGS, instance

KEYS = ("OPENAI_API_KEY", "GEMINI_API_KEY")


@pytest.fixture
def cases(fakes: pytest.Pytester, suite: Callable[..., Path],
          monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    suite("cases.jsonl", [instance(f"i{n}") for n in range(5)])
    return fakes


def assert_one_usage_error(result: pytest.RunResult, root: Path, *needles: str) -> str:
    """Exit 4, one ``ERROR:`` message holding every needle, no test run, no run folder."""
    text = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    assert text.count("ERROR") == 1, text
    for needle in needles:
        assert needle in text, (needle, text)
    assert not (root / ".unisafe" / "runs").exists() or not any(
        (root / ".unisafe" / "runs").iterdir()), text
    assert "passed" not in text and "error" not in text.lower().replace("error:", ""), text
    return text


def test_a_misspelt_profile_names_the_closest_and_lists_the_profiles(
    cases: pytest.Pytester,
) -> None:
    result = cases.runpytest_subprocess("--unisafe-model=gpt4o", "--unisafe-suite=cases.jsonl")
    text = assert_one_usage_error(result, cases.path, "did you mean 'gpt-4o'?", "Profiles:",
                                  "smollm2", "refuse")
    assert "Kinds:" in text and "openai-chat" in text


def test_an_unset_api_key_variable_is_named_once(cases: pytest.Pytester) -> None:
    result = cases.runpytest_subprocess("--unisafe-model=gpt-4o", "--unisafe-suite=cases.jsonl")
    text = assert_one_usage_error(result, cases.path, "$OPENAI_API_KEY", "export OPENAI_API_KEY")
    assert text.count("OPENAI_API_KEY, which is not set") == 1


def test_a_judge_profiles_unset_key_is_a_usage_error(cases: pytest.Pytester) -> None:
    result = cases.runpytest_subprocess(MODEL_ARGS[0], "--unisafe-judge=unisafe-rubric:gpt-4o",
                                        "--unisafe-suite=cases.jsonl")
    assert_one_usage_error(result, cases.path, "cannot build the judges", "$OPENAI_API_KEY")


def test_an_unknown_judge_target_is_a_usage_error(cases: pytest.Pytester) -> None:
    result = cases.runpytest_subprocess(MODEL_ARGS[0], "--unisafe-judge=unisafe-rubric:gpt4o",
                                        "--unisafe-suite=cases.jsonl")
    assert_one_usage_error(result, cases.path, "cannot build the judges", "'gpt4o'",
                           "did you mean 'gpt-4o'?", "Profiles:")


def test_an_unknown_judge_kind_is_a_usage_error(cases: pytest.Pytester) -> None:
    result = cases.runpytest_subprocess(MODEL_ARGS[0], "--unisafe-judge=unisafe-rubrik:gpt-4o",
                                        "--unisafe-suite=cases.jsonl")
    assert_one_usage_error(result, cases.path, "did you mean 'unisafe-rubric'?")


def test_a_missing_suite_prints_the_given_and_the_resolved_path(
    cases: pytest.Pytester,
) -> None:
    result = cases.runpytest_subprocess(*MODEL_ARGS, "--unisafe-suite=nope/cases.jsonl")
    assert_one_usage_error(result, cases.path, "'nope/cases.jsonl'",
                           str(cases.path / "nope" / "cases.jsonl"), "built-ins: smoke")


def test_a_relative_suite_path_starts_at_the_folder_pytest_runs_from(
    cases: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    """The shell's rule: run from a sub-folder, ``cases.jsonl`` is that folder's file."""
    sub = cases.mkdir("sub")
    suite("sub/here.jsonl", [instance("h1"), instance("h2")])
    cases.makeini("[pytest]\n")  # the rootdir stays cases.path
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(sub)
        result = cases.runpytest_subprocess("--unisafe-model=refuse",
                                            "--unisafe-judge=refusal-rule",
                                            "--unisafe-suite=here.jsonl",
                                            f"--rootdir={cases.path}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("args", [
    ("--unisafe-limit=0",),
    ("--unisafe-prefetch=-1",),
    ("--unisafe-max-calls=-5",),
    ("--unisafe-retry-budget=soon",),
    ("--unisafe-task=T-I",),
    ("--unisafe-cache=sometimes",),
    ("--unisafe-profiles=no-such-folder",),
])
def test_a_bad_option_value_is_one_usage_error(cases: pytest.Pytester,
                                               args: tuple[str, ...]) -> None:
    result = cases.runpytest_subprocess(*MODEL_ARGS, "--unisafe-suite=cases.jsonl", *args)
    text = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    assert text.count("ERROR") == 1, text
    assert args[0].split("=")[0] in text, text
    assert not (cases.path / ".unisafe" / "runs").exists() or not any(
        (cases.path / ".unisafe" / "runs").iterdir())
