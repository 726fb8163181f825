"""One run context per process, whatever the conftest overrides (issue 13).

- A conftest ``unisafe_judge`` (a Judge, a list of them, or a JudgePanel; session-scoped or
  not) is made into one panel for the whole session: the run context (cache, limiter, retry
  budgets) and the prefetch pipeline are built once, and nothing prefetched is thrown away.
  On the old code every instance wrapped the judge in a new JudgePanel, so every instance
  rebuilt the run context and closed the pipeline: prefetched calls were made again.
- A stop (``-x``, ``--maxfail``) closes the prefetch pipeline: nothing more is started.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

CONFTEST = """
import os, threading, time
import pytest
from unisafe_pytest import Capabilities, JudgeRow, JudgeSpec, ModelOutput
from unisafe_pytest.judges.panel import JudgePanel

LOG = {log!r}
_lock = threading.Lock()


def _log(line):
    with _lock, open(LOG, "a", encoding="utf-8") as fh:
        fh.write(line + "\\n")


class Model:
    name = "counted"
    capabilities = Capabilities.everything()
    max_concurrency = 4

    def generate(self, instance, task, ctx):
        _log("model " + instance.id)
        time.sleep({sleep})
        unsafe = {unsafe}
        return ModelOutput(text="unsafe answer" if unsafe else "a safe answer")

    def describe(self):
        return {{"kind": "fake", "model": self.name}}

    def close(self):
        pass


class Judge:
    spec = JudgeSpec(id="counted-judge", kind="test", prompt_hash="0" * 16,
                     parser_version="1")

    def judge(self, instance, task, output):
        _log("judge " + instance.id)
        bad = "unsafe" in (output.text or "")
        return JudgeRow(judge="counted-judge", judgment=1 if bad else 0,
                        risk_rating=3 if bad else 1, reasoning="fake", spec=self.spec)

    def close(self):
        pass


@pytest.fixture(scope="session")
def unisafe_model():
    yield Model()
    time.sleep({teardown})  # a slow teardown: the old code kept prefetching meanwhile


@pytest.fixture({scope})
def unisafe_judge():
    _log("factory")
    return {judge}
"""

RUN = ("--unisafe-suite=smoke", "--unisafe-task=TT", "--unisafe-cache=off",
       "-p", "no:cacheprovider")


def _conftest(pytester: pytest.Pytester, *, judge: str = "Judge()",
              scope: str = 'scope="session"', sleep: float = 0.05,
              unsafe: str = "False", teardown: float = 0.0) -> Path:
    log = pytester.path / "calls.log"
    pytester.makeconftest(CONFTEST.format(log=str(log), judge=judge, scope=scope,
                                          sleep=sleep, unsafe=unsafe,
                                          teardown=teardown))
    return log


def _counts(log: Path) -> collections.Counter[str]:
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return collections.Counter(line.split(" ", 1)[0] for line in lines)


@pytest.mark.parametrize(("judge", "scope"), [
    ("Judge()", 'scope="session"'),
    ("[Judge()]", 'scope="session"'),
    ("JudgePanel([Judge()])", "scope=\"session\""),
])
def test_a_conftest_judge_makes_one_run_context(pytester: pytest.Pytester, judge: str,
                                                scope: str) -> None:
    log = _conftest(pytester, judge=judge, scope=scope)
    result = pytester.runpytest(*RUN, "--unisafe-concurrency=4")
    result.assert_outcomes(passed=10)
    lines = log.read_text(encoding="utf-8").splitlines()
    models = [line for line in lines if line.startswith("model ")]
    # each instance generated once: nothing prefetched was thrown away and asked again
    assert len(models) == len(set(models)) == 10, lines
    assert _counts(log)["judge"] == 10
    assert _counts(log)["factory"] == 1


@pytest.mark.parametrize("scope", ["", 'scope="function"'])
def test_a_conftest_judge_not_session_scoped_is_an_error(pytester: pytest.Pytester,
                                                         scope: str) -> None:
    """A function-scoped override would be built again for every instance (on the old code
    each instance rebuilt the panel, cache, limiter and pipeline): each instance errors,
    naming the fixture and the fix, and neither the factory nor the model runs."""
    log = _conftest(pytester, scope=scope)
    result = pytester.runpytest(*RUN, "--unisafe-concurrency=4")
    result.assert_outcomes(errors=10)
    result.stdout.fnmatch_lines([
        "*the unisafe_judge fixture (conftest.py:*) is *-scoped; the run uses one model and one "
        "judge panel for the whole session*scope=\"session\")*"])
    assert _counts(log) == {}


@pytest.mark.parametrize("stop", [("-x",), ("--maxfail=1",), ("--maxfail=2",)])
def test_a_stop_starts_nothing_more(pytester: pytest.Pytester, stop: tuple[str]) -> None:
    """-x / --maxfail: the failure that stops the run closes the prefetch pipeline, so the
    calls are at most the tests run plus what was in flight (2 threads). On the old code the
    pipeline kept starting calls until the session finished (through the model fixture's
    slow teardown): 10 calls for 5 tests."""
    log = _conftest(pytester, sleep=0.05, teardown=1.0,
                    unsafe='instance.id in ("smoke-003", "smoke-003-b")')
    result = pytester.runpytest(*RUN, "--unisafe-concurrency=2", "--unisafe-prefetch=8",
                                *stop)
    ran = 6 if stop == ("--maxfail=2",) else 5
    result.assert_outcomes(passed=4, failed=ran - 4)
    assert _counts(log)["model"] <= ran + 2, log.read_text(encoding="utf-8")
