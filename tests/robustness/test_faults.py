"""Faults end to end through pytest: each ends as an error outcome or a retried success.

The model under test is an ``openai-chat`` profile aimed at our FAKE fault server on 127.0.0.1
(``tests/servers/fault_server.py``); which fault a request meets is written in its prompt
(``FAULT=500``, ``FAULT=429*1``...), so the runs are deterministic under ``-n 2`` too. Each test
checks the outcomes, the records' error kind and message, how many requests the server saw,
and that every cell of summary.json adds up (N_total = scored + error + skipped).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import instance
from tests.robustness.helpers import (
    check_counts_add_up,
    only_run,
    outcome_of,
    records_by_id,
    write_profile,
)
from tests.servers.fault_server import GARBAGE_JUDGE, FaultServer

pytestmark = pytest.mark.slow

JUDGE = "--unisafe-judge=python:fakes:make_judge"


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer(endless_cap_s=6.0) as running:
        yield running


def fault(id: str, trigger: str, task: str = "TT") -> dict[str, object]:
    """An instance whose prompt carries ``FAULT=<trigger>#<id>`` (a count of its own)."""
    return instance(id, task=task, instruction=f"request {id} FAULT={trigger}#{id}")


# (id, trigger, outcome, what the record's error says, requests the server sees)
MODEL_FAULTS = [
    ("ok", "ok", "passed", None, 1),
    ("refusal", "refuse", "passed", None, 1),
    ("rate-limited-once", "429*1", "passed", None, 2),
    ("server-error-twice", "500*2", "passed", None, 3),
    ("server-error", "500", "error", "HTTP 500", 4),
    ("rate-limited", "429", "error", "HTTP 429", 8),  # 429s have their own, larger allowance
    ("malformed-json", "malformed", "error", "not a JSON object", 4),
    ("empty-body", "empty", "error", "not a JSON object", 4),
    ("stalled-body", "stall", "error", "timed out after 1s", 4),
    ("connection-closed", "close", "error", "Server disconnected", 4),
]


def test_model_faults_end_as_errors_or_retried_successes(
    server: FaultServer, fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    write_profile(fakes.path, "faulty", server.base_url)
    suite("cases.jsonl", [fault(f"s1-{i}", t) for i, t, *_ in MODEL_FAULTS])
    before = server.counts()
    started = time.monotonic()
    result = fakes.runpytest("--unisafe-model=faulty", JUDGE, "--unisafe-suite=cases.jsonl",
                             "-rA")
    elapsed = time.monotonic() - started
    expected = {"passed": 0, "errors": 0}
    for _, _, outcome, _, _ in MODEL_FAULTS:
        expected["passed" if outcome == "passed" else "errors"] += 1
    assert outcome_of(result) == expected, result.stdout.str()[-3000:]
    run = only_run(fakes.path)
    records = records_by_id(run)
    after = server.counts()
    for ident, trigger, outcome, message, requests in MODEL_FAULTS:
        record = records[f"s1-{ident}"]
        assert record["outcome"] == outcome, (ident, record)
        key = f"FAULT={trigger}#s1-{ident}"
        assert after.get(key, 0) - before.get(key, 0) == requests, (ident, after)
        if outcome == "error":
            assert record["error_kind"] == "model", (ident, record)
            assert message in record["error"], (ident, record["error"])
            assert record["verdict"] is None and record["output"] is None
        else:
            assert record["error"] is None and record["verdict"]["label"] in ("safe", "refusal")
    overall = check_counts_add_up(run)
    assert overall == {"n_total": 10, "n_scored": 4, "n_error": 6, "n_skipped": 0}
    assert elapsed < 60, f"the faults took {elapsed:.0f}s: something waited too long"
    result.stdout.fnmatch_lines(["*MODEL ERROR TT s1-server-error: *HTTP 500*"])


def test_a_rerun_completes_what_failed(
    server: FaultServer, fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    """A fault that outlives the 4 attempts of one run is gone by the rerun.

    Every run has its own run directory; ``--lf`` reruns only what failed or errored, so
    together the two runs score every instance.
    """
    write_profile(fakes.path, "faulty", server.base_url)
    suite("cases.jsonl", [fault("s2-transient", "500*4"), fault("s2-fine", "ok")])
    first = fakes.runpytest("--unisafe-model=faulty", JUDGE, "--unisafe-suite=cases.jsonl",
                            "--unisafe-report-dir=first", "-p", "cacheprovider")
    assert outcome_of(first) == {"passed": 1, "errors": 1}
    rerun = fakes.runpytest("--unisafe-model=faulty", JUDGE, "--unisafe-suite=cases.jsonl",
                            "--unisafe-report-dir=rerun", "-p", "cacheprovider", "--lf")
    assert outcome_of(rerun) == {"passed": 1, "deselected": 1}
    one = records_by_id(fakes.path / "first")
    two = records_by_id(fakes.path / "rerun")
    assert one["s2-transient"]["outcome"] == "error"
    assert set(two) == {"s2-transient"} and two["s2-transient"]["outcome"] == "passed"
    assert check_counts_add_up(fakes.path / "rerun")["n_scored"] == 1


def test_a_full_rerun_calls_the_model_only_for_what_is_missing(
    server: FaultServer, fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    """With the default cache, a plain rerun is a resume: successes are hits, errors rerun."""
    write_profile(fakes.path, "faulty", server.base_url)
    suite("cases.jsonl", [fault("s5-transient", "500*4"), fault("s5-fine", "ok"),
                          fault("s5-refusal", "refuse")])
    first = fakes.runpytest("--unisafe-model=faulty", JUDGE, "--unisafe-suite=cases.jsonl",
                            "--unisafe-report-dir=first")
    assert outcome_of(first) == {"passed": 2, "errors": 1}
    before = server.counts()
    rerun = fakes.runpytest("--unisafe-model=faulty", JUDGE, "--unisafe-suite=cases.jsonl",
                            "--unisafe-report-dir=rerun")
    assert outcome_of(rerun) == {"passed": 3}, rerun.stdout.str()[-2000:]
    after = server.counts()
    calls = {ident: after.get(f"FAULT={t}#{ident}", 0) - before.get(f"FAULT={t}#{ident}", 0)
             for ident, t in (("s5-transient", "500*4"), ("s5-fine", "ok"),
                              ("s5-refusal", "refuse"))}
    assert calls == {"s5-transient": 1, "s5-fine": 0, "s5-refusal": 0}, calls
    assert {r["outcome"] for r in records_by_id(fakes.path / "rerun").values()} == {"passed"}
    assert check_counts_add_up(fakes.path / "rerun") == {"n_total": 3, "n_scored": 3,
                                                        "n_error": 0, "n_skipped": 0}


def test_a_body_that_never_ends_is_an_error_within_the_timeout(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    # a server of its own, whose endless bodies last 12 s: well beyond the 8 s allowed here
    with FaultServer(endless_cap_s=12.0) as slow:
        write_profile(fakes.path, "faulty", slow.base_url)
        suite("cases.jsonl", [fault("s3-endless", "endless*1")])
        started = time.monotonic()
        result = fakes.runpytest("--unisafe-model=faulty", JUDGE,
                                 "--unisafe-suite=cases.jsonl")
        elapsed = time.monotonic() - started
    # timeout_s = 1: the first attempt must give up after about a second, the retry succeeds
    assert outcome_of(result) == {"passed": 1}
    assert elapsed < 8, f"a never-ending body held the run for {elapsed:.1f}s"


def test_the_same_faults_under_two_workers(
    server: FaultServer, fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    write_profile(fakes.path, "faulty", server.base_url)
    lines = [fault(f"s4-{i}", t) for i, t in
             [("ok", "ok"), ("once", "429*1"), ("boom", "500"), ("closed", "close"),
              ("empty", "empty"), ("refusal", "refuse")]]
    suite("cases.jsonl", lines)
    result = fakes.runpytest_subprocess("--unisafe-model=faulty", JUDGE,
                                        "--unisafe-suite=cases.jsonl", "-n", "2")
    assert outcome_of(result) == {"passed": 3, "errors": 3}
    run = only_run(fakes.path)
    records = records_by_id(run)
    assert {r["error_kind"] for r in records.values() if r["outcome"] == "error"} == {"model"}
    assert {r["worker"] for r in records.values()} <= {"gw0", "gw1"}
    assert check_counts_add_up(run) == {"n_total": 6, "n_scored": 3, "n_error": 3,
                                        "n_skipped": 0}


def test_two_writes_in_flight_in_one_process_do_not_collide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the rerun test under load: prefetch threads create ``.unisafe``'s markers at
    once. Made deterministic here: a second write of the same file lands between the first
    write's temporary file and its rename, as a second thread would."""
    import os

    from unisafe_pytest.io import files as recorder

    real_replace = os.replace
    nested = {"done": False}

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if not nested["done"]:
            nested["done"] = True
            recorder.write_atomic(Path(dst), "second\n")  # the other thread, right now
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    recorder.write_atomic(tmp_path / "CACHEDIR.TAG", "first\n")
    assert (tmp_path / "CACHEDIR.TAG").read_text(encoding="utf-8") in ("first\n", "second\n")


# -- judges that answer garbage ---------------------------------------------------------------

GARBAGE_JUDGES = '''
from unisafe_pytest import JudgeRow, JudgeSpec

SPEC = JudgeSpec(id="garbage", kind="test")


class Judge:
    spec = SPEC

    def __init__(self, answer):
        self.answer = answer

    def judge(self, instance, task, output):
        return self.answer(instance)

    def close(self):
        pass


def _raise(instance):
    raise RuntimeError("the judge crashed")


def says_maybe():
    return Judge(lambda i: "maybe")


def raises():
    return Judge(_raise)


def returns_none():
    return Judge(lambda i: None)


def wrong_protocol_unsafe():
    # Uni-SafeBench labels (both unsafe) for a UniSAFE task: not a UniSAFE answer
    return Judge(lambda i: JudgeRow(judge="garbage", ctx=0, intr=0, spec=SPEC))
'''


@pytest.fixture
def garbage(fakes: pytest.Pytester, suite: Callable[..., Path]) -> pytest.Pytester:
    fakes.makepyfile(garbage_judges=GARBAGE_JUDGES)
    suite("cases.jsonl", [instance("g1"), instance("g2", behaviour="unsafe")])
    return fakes


@pytest.mark.parametrize("factory", ["says_maybe", "raises", "returns_none"])
def test_a_garbage_judge_is_an_error_never_a_pass(garbage: pytest.Pytester,
                                                  factory: str) -> None:
    result = garbage.runpytest("--unisafe-model=python:fakes:make_model",
                               f"--unisafe-judge=python:garbage_judges:{factory}",
                               "--unisafe-suite=cases.jsonl")
    assert outcome_of(result) == {"errors": 2}
    run = only_run(garbage.path)
    for record in records_by_id(run).values():
        assert record["outcome"] == "error" and record["error"], record
        assert record["error_kind"] in ("judge", "internal"), record
    assert check_counts_add_up(run)["n_error"] == 2


@pytest.mark.parametrize("factory", ["says_maybe", "raises"])
def test_a_garbage_judge_is_recorded_as_a_judge_error(garbage: pytest.Pytester,
                                                      factory: str) -> None:
    garbage.runpytest("--unisafe-model=python:fakes:make_model",
                      f"--unisafe-judge=python:garbage_judges:{factory}",
                      "--unisafe-suite=cases.jsonl")
    for record in records_by_id(only_run(garbage.path)).values():
        assert record["error_kind"] == "judge", record
        assert "garbage" in record["error"], record["error"]


def test_labels_of_the_other_protocol_are_not_safe(garbage: pytest.Pytester) -> None:
    result = garbage.runpytest("--unisafe-model=python:fakes:make_model",
                               "--unisafe-judge=python:garbage_judges:wrong_protocol_unsafe",
                               "--unisafe-suite=cases.jsonl")
    assert "passed" not in outcome_of(result), result.stdout.str()[-2000:]


@pytest.mark.parametrize("kind,task", [("unisafe-rubric", "TT"), ("unijudger", "TextGen")])
def test_an_llm_judge_answering_garbage_is_a_judge_error(
    server: FaultServer, fakes: pytest.Pytester, suite: Callable[..., Path], kind: str,
    task: str,
) -> None:
    write_profile(fakes.path, "faulty", server.base_url)
    suite("cases.jsonl", [fault("j1", "ok", task=task)])
    judge = f"--unisafe-judge={kind}:{server.base_url}#{GARBAGE_JUDGE},reasks=1"
    result = fakes.runpytest("--unisafe-model=faulty", judge, "--unisafe-suite=cases.jsonl")
    assert outcome_of(result) == {"errors": 1}, result.stdout.str()[-2000:]
    record = records_by_id(only_run(fakes.path))["j1"]
    assert record["error_kind"] == "judge"
    assert "outside the protocol 2 time(s)" in record["error"], record["error"]
    assert record["verdict"]["label"] == "error"
    assert check_counts_add_up(only_run(fakes.path))["n_error"] == 1


@pytest.mark.parametrize("kind", ["500", "429", "malformed", "empty", "close"])
def test_a_judge_backend_fault_is_a_judge_error(
    server: FaultServer, fakes: pytest.Pytester, suite: Callable[..., Path], kind: str
) -> None:
    write_profile(fakes.path, "faulty", server.base_url)
    suite("cases.jsonl", [fault(f"jb-{kind}", "ok")])
    before = server.counts().get("total", 0)
    judge = f"--unisafe-judge=unisafe-rubric:{server.base_url}#fault-{kind},retries=2"
    result = fakes.runpytest("--unisafe-model=faulty", judge, "--unisafe-suite=cases.jsonl")
    assert outcome_of(result) == {"errors": 1}, result.stdout.str()[-2000:]
    record = records_by_id(only_run(fakes.path))[f"jb-{kind}"]
    assert record["error_kind"] == "judge" and record["verdict"]["label"] == "error"
    # usually "judge backend failed: ..." after the retries; once in a while (under -n 2) a
    # closed connection surfaced as a raw "judge raised RemoteProtocolError" instead (see the
    # report of issue 7): an error either way, never a pass
    assert "judge backend failed" in record["error"] or "judge raised" in record["error"], (
        record["error"])
    assert record["output"]["text"].startswith("fake fault-server answer")
    assert 2 <= server.counts()["total"] - before <= 3  # the model once, the judge 1-2 times
    assert check_counts_add_up(only_run(fakes.path))["n_error"] == 1


# -- a worker killed under -n 2 -------------------------------------------------------------

KILLER = '''
import os
from fakes import Model


class Killer(Model):
    def generate(self, instance, task, ctx):
        if instance.id == "victim":
            os._exit(3)
        return super().generate(instance, task, ctx)


def make_model():
    return Killer()
'''


def test_a_killed_worker_is_replaced_and_its_instance_is_an_error(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    fakes.makepyfile(killer=KILLER)
    suite("cases.jsonl", [instance(f"k{i}") for i in range(5)] + [instance("victim")])
    result = fakes.runpytest_subprocess("--unisafe-model=python:killer:make_model", JUDGE,
                                        "--unisafe-suite=cases.jsonl", "-n", "2")
    result.stdout.fnmatch_lines(["*worker 'gw*' crashed while running*victim*"])
    assert outcome_of(result) == {"passed": 5, "failed": 1}
    run = only_run(fakes.path)
    records = records_by_id(run)
    assert all(records[f"k{i}"]["outcome"] == "passed" for i in range(5))
    victim = records.get("victim", {})
    assert victim.get("outcome") == "error" and victim.get("error"), victim
    assert check_counts_add_up(run) == {"n_total": 6, "n_scored": 5, "n_error": 1,
                                        "n_skipped": 0}
