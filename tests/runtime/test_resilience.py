"""The instance's retry budget and timeouts per output modality, end to end.

The model is aimed at our FAKE fault server on 127.0.0.1
(``tests/servers/fault_server.py``), which counts requests per trigger; the budgets and
``Retry-After`` values are small, so every test runs in a second or two. Assertions are on
outcomes, records and request counts, never on wall time.
"""

from __future__ import annotations

from collections.abc import Iterator
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

# httpcore is imported here, before any in-process pytester run: httpx imports it lazily on
# the first request, and a pytester run drops the modules it imported, so a later run would
# raise httpcore exceptions that httpx's (cached) exception map no longer knows.
JUDGE = "--unisafe-judge=python:fakes:make_judge"


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
