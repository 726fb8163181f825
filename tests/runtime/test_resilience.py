"""The instance's retry budget, timeouts per output modality, and judge 429s on the limiter.

The model (and, below, the judge) is aimed at our FAKE fault server on 127.0.0.1
(``tests/servers/fault_server.py``), which counts requests per trigger; the budgets and
``Retry-After`` values are small, so every test runs in a second or two. Assertions are on
outcomes, records, request counts and the limiter's state, never on wall time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpcore  # noqa: F401
import pytest

from tests.conftest import instance, write_suite
from tests.robustness.helpers import (
    only_run,
    outcome_of,
    premake_unisafe_dir,
    records_by_id,
)
from tests.servers.fault_server import FaultServer
from unisafe_pytest.adapters.base import Capabilities, GenerateContext
from unisafe_pytest.errors import RateLimited
from unisafe_pytest.judges.backends import BackendOptions, ChatBackend, Message, make_backend
from unisafe_pytest.judges.panel import JudgePanel
from unisafe_pytest.runtime.instance import InstanceResult, RunContext, compute
from unisafe_pytest.runtime.limiter import Limiter
from unisafe_pytest.runtime.retry import RetryBudgets
from unisafe_pytest.schema import Instance, JudgeRow, JudgeSpec, ModelOutput
from unisafe_pytest.schema.tasks import BUILTIN_TASKS

# httpcore is imported here, before any in-process pytester run: httpx imports it lazily on
# the first request, and a pytester run drops the modules it imported, so a later run would
# raise httpcore exceptions that httpx's (cached) exception map no longer knows.
JUDGE = "--unisafe-judge=python:fakes:make_judge"
TASKS = {task.code: task for task in BUILTIN_TASKS}


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer(endless_cap_s=10.0) as running:
        yield running


def write_profile(pytester: pytest.Pytester, base_url: str, *lines: str) -> None:
    """``adapters/loop.toml``: an openai-chat model at ``base_url`` (and ``lines``)."""
    premake_unisafe_dir(pytester.path)
    folder = pytester.path / "adapters"
    folder.mkdir(exist_ok=True)
    text = ['kind = "openai-chat"', 'model = "fault-model"', f'base_url = "{base_url}"',
            'api_key_env = ""', "vision = false", *lines]
    (folder / "loop.toml").write_text("\n".join(text) + "\n", encoding="utf-8")


def run_cases(pytester: pytest.Pytester, cases: list[dict[str, Any]], *args: str
              ) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    """Run ``cases`` on the ``loop`` model; the outcome counts and the records by id."""
    write_suite(pytester.path / "cases.jsonl", cases)
    result = pytester.runpytest("--unisafe-model=loop", JUDGE, "--unisafe-suite=cases.jsonl",
                                "--unisafe-cache=off", *args)
    return outcome_of(result), records_by_id(only_run(pytester.path))


# -- the instance's retry budget -------------------------------------------------------------


def test_a_server_that_always_503s_ends_in_an_error_naming_the_spent_budget(
    server: FaultServer, fakes: pytest.Pytester
) -> None:
    server.retry_after = 0.25  # every wait is exactly 0.25 s: two fit in a 0.5 s budget
    write_profile(fakes, server.base_url)
    outcomes, records = run_cases(
        fakes, [instance("down", instruction="FAULT=503#down")], "--unisafe-retry-budget=0.5")
    assert outcomes == {"errors": 1}
    record = records["down"]
    assert record["outcome"] == "error" and record["error_kind"] == "model"
    assert "HTTP 503" in record["error"]
    assert ("gave up: the instance's retry budget of 0.5 s is spent (--unisafe-retry-budget)"
            in record["error"])
    assert server.counts()["FAULT=503#down"] == 3  # the first try + one per 0.25 s waited


def test_without_a_tight_budget_the_per_call_attempts_bound_the_same_fault(
    server: FaultServer, fakes: pytest.Pytester
) -> None:
    server.retry_after = 0.25
    write_profile(fakes, server.base_url)
    outcomes, records = run_cases(fakes, [instance("down", instruction="FAULT=503#down")])
    assert outcomes == {"errors": 1}
    assert "HTTP 503" in records["down"]["error"]
    assert "gave up" not in records["down"]["error"]
    assert server.counts()["FAULT=503#down"] == 4  # 4 attempts per call (default budget 300 s)


def test_a_retry_after_beyond_the_budget_fails_at_once(
    server: FaultServer, fakes: pytest.Pytester
) -> None:
    server.retry_after = 30
    write_profile(fakes, server.base_url)
    outcomes, records = run_cases(
        fakes, [instance("busy", instruction="FAULT=429#busy")], "--unisafe-retry-budget=5")
    assert outcomes == {"errors": 1}
    assert ("HTTP 429: rate_limit_exceeded: rate limit (fake); gave up: the server asks to "
            "wait 30 s (Retry-After), more than the 5 s left of the instance's retry budget "
            "of 5 s" in records["busy"]["error"])
    assert server.counts()["FAULT=429#busy"] == 1


def test_a_budget_of_zero_turns_retries_off(server: FaultServer, fakes: pytest.Pytester) -> None:
    write_profile(fakes, server.base_url)
    outcomes, records = run_cases(
        fakes, [instance("flaky", instruction="FAULT=500*1#flaky")], "--unisafe-retry-budget=0")
    assert outcomes == {"errors": 1}
    assert "retry budget of 0 s is spent" in records["flaky"]["error"]
    assert server.counts()["FAULT=500*1#flaky"] == 1


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_a_bad_budget_is_a_usage_error(fakes: pytest.Pytester, value: str) -> None:
    result = fakes.runpytest("--unisafe-model=python:fakes:make_model",
                             f"--unisafe-retry-budget={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--unisafe-retry-budget*expected a number of seconds >= 0, "
                                 f"got {value!r}*"])


# -- a timeout per output modality -----------------------------------------------------------


def test_a_stalled_call_ends_by_the_timeout_of_its_output_modality(
    server: FaultServer, fakes: pytest.Pytester
) -> None:
    write_profile(fakes, server.base_url, "image_output = true",
                  "timeout_s = { text = 0.5, image = 1 }")
    outcomes, records = run_cases(
        fakes, [instance("text", instruction="FAULT=stall#text"),
                instance("image", task="TI", instruction="FAULT=stall#image")],
        "--unisafe-retry-budget=0")
    assert outcomes == {"errors": 2}
    assert "timed out after 0.5s (the profile's timeout_s.text)" in records["text"]["error"]
    assert "timed out after 1s (the profile's timeout_s.image)" in records["image"]["error"]


def test_the_timeout_that_applied_is_in_the_output_provenance(
    server: FaultServer, fakes: pytest.Pytester
) -> None:
    write_profile(fakes, server.base_url, "timeout_s = { text = 7, image = 30 }")
    outcomes, records = run_cases(fakes, [instance("fine")])
    assert outcomes == {"passed": 1}
    assert records["fine"]["output"]["provenance"]["settings"]["timeout_s"] == 7.0


# -- judge 429s and the limiter --------------------------------------------------------------


class TextModel:
    """An in-process model: answers, or raises the errors it is given first."""

    name = "text-model"
    capabilities = Capabilities()

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)

    def generate(self, instance: Instance, task: Any, ctx: GenerateContext) -> ModelOutput:
        if self.errors:
            raise self.errors.pop(0)
        return ModelOutput(text="an answer")

    def describe(self) -> dict[str, Any]:
        return {"kind": "test", "model": self.name}

    def close(self) -> None:
        pass


class NetworkJudge:
    """A judge behind a real backend (its HTTP calls retried by the runtime's policy)."""

    spec = JudgeSpec(id="net-judge", kind="test", prompt_hash="0" * 16, parser_version="1")
    cacheable = False
    remote = True

    def __init__(self, backend: ChatBackend) -> None:
        self.backend = backend

    def judge(self, instance: Instance, task: Any, output: ModelOutput) -> JudgeRow:
        self.backend.complete([Message.text("user", "rate this")], json_mode=False)
        return JudgeRow(judge=self.spec.id, judgment=0, risk_rating=1, spec=self.spec)

    def close(self) -> None:
        self.backend.close()


@pytest.fixture
def context(server: FaultServer, tmp_path: Path
            ) -> Iterator[Callable[..., tuple[RunContext, Limiter]]]:
    """Makes a run context whose judge is a ``NetworkJudge`` aimed at ``server``."""
    panels: list[JudgePanel] = []

    def make(judge_model: str, *, model: TextModel | None = None, limit: int = 64,
             budget: float = 300.0) -> tuple[RunContext, Limiter]:
        backend = make_backend(f"{server.base_url}#{judge_model}", base_dir=tmp_path,
                               options=BackendOptions(retry_attempts=4))
        panels.append(JudgePanel([NetworkJudge(backend)]))
        limiter = Limiter(tmp_path / "limiter", limit)
        run = RunContext(adapter=model or TextModel(), panel=panels[-1],
                         output_dir=tmp_path / "out", model="text-model", limiter=limiter,
                         budgets=RetryBudgets(budget))
        return run, limiter

    yield make
    for panel in panels:
        panel.close()


def judged(run: RunContext, id: str = "a") -> InstanceResult:
    item = Instance(suite="s", id=id, task="TT", category="Hate", instruction="hello")
    with run.scope(item):
        return compute(item, TASKS["TT"], run)


def test_each_judge_429_halves_the_limit_once(
    server: FaultServer, context: Callable[..., tuple[RunContext, Limiter]]
) -> None:
    run, limiter = context("fault-429")
    result = judged(run)
    assert result.error_kind == "judge" and "HTTP 429" in (result.error or "")
    assert server.counts()["total"] == 4  # the judge's own allowance: retries=4
    assert limiter.effective() == 64 // 2 ** 4  # four 429s, four halvings, none counted twice


def test_judge_answers_count_towards_growing_the_limit_back(
    server: FaultServer, context: Callable[..., tuple[RunContext, Limiter]]
) -> None:
    run, limiter = context("fault-ok", limit=8)
    limiter.rate_limited()
    assert limiter.effective() == 4
    judge = run.panel.judges[0]
    task, output = TASKS["TT"], ModelOutput(text="an answer")
    item = Instance(suite="s", id="a", task="TT", category="Hate", instruction="hello")
    for _ in range(4):  # a run of successes as long as the limit: one slot more
        with run.scope(item):
            run.ask(judge, item, task, output, InstanceResult(item, task, "text-model"))
    assert server.counts()["total"] == 4
    assert limiter.effective() == 5


def test_the_model_and_the_judge_share_the_instance_budget(
    server: FaultServer, context: Callable[..., tuple[RunContext, Limiter]]
) -> None:
    server.retry_after = 0.25
    model = TextModel(RateLimited("model busy", retry_after=0.25))
    run, limiter = context("fault-429", model=model, budget=0.4)
    result = judged(run)
    # the model waited 0.25 s of the 0.4 s; the judge's 429 asks for 0.25 s, more than is left
    assert result.error_kind == "judge"
    assert ("gave up: the server asks to wait 0.25 s (Retry-After), more than the 0.15 s left "
            "of the instance's retry budget of 0.4 s" in (result.error or ""))
    assert server.counts()["total"] == 1
    assert limiter.effective() == 64 // 4  # the model's 429 and the judge's, once each
    assert judged(run, "b").error_kind == "judge"  # another instance has a budget of its own
    assert server.counts()["total"] == 2 + 1  # one wait of 0.25 s fits in b's 0.4 s


class OwnSlotsJudge(NetworkJudge):
    """A judge whose backend takes a slot per HTTP attempt (as the rubric and Uni-Judger)."""

    limits_own_calls = True


def test_a_judge_waiting_to_retry_holds_no_slot(
    server: FaultServer, tmp_path: Path
) -> None:
    """At a limit of 1, another caller gets the slot while the judge sleeps between its
    attempts (before: the judge held it for the whole judgment, sleeps included)."""
    server.retry_after = 0.3
    backend = make_backend(f"{server.base_url}#fault-429", base_dir=tmp_path,
                           options=BackendOptions(retry_attempts=4))
    panel = JudgePanel([OwnSlotsJudge(backend)])
    limiter = Limiter(tmp_path / "limiter", 1)
    run = RunContext(adapter=TextModel(), panel=panel, output_dir=tmp_path / "out",
                     model="text-model", limiter=limiter, budgets=RetryBudgets(300.0))
    results: list[InstanceResult] = []
    worker = threading.Thread(target=lambda: results.append(judged(run)))
    worker.start()
    between_attempts = 0
    while worker.is_alive():
        try:
            with limiter.slot(deadline_s=0.1):
                if 1 <= server.counts().get("total", 0) < 4:  # between its first and last
                    between_attempts += 1
        except TimeoutError:
            pass
        time.sleep(0.05)  # leave the slot to the judge most of the time
    worker.join()
    panel.close()
    assert results[0].error_kind == "judge" and server.counts()["total"] == 4
    assert between_attempts > 0


def test_the_limiter_slot_is_reentrant_per_thread(tmp_path: Path) -> None:
    """A judge given a slot whose own client asks again keeps its slot, at a limit of 1;
    another thread still waits."""
    limiter = Limiter(tmp_path / "limiter", 1)
    other: list[str] = []

    def try_elsewhere() -> None:
        try:
            with limiter.slot(deadline_s=0.05):
                other.append("got it")
        except TimeoutError:
            other.append("timed out")

    with limiter.slot(), limiter.slot(deadline_s=0.5):  # no TimeoutError: the same slot
        thread = threading.Thread(target=try_elsewhere)
        thread.start()
        thread.join()
    assert other == ["timed out"]
    assert limiter.peak_local == 1
    with limiter.slot(deadline_s=0.5):  # released after the nested blocks
        pass
