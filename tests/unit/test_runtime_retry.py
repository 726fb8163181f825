"""call_with_retries on a fake clock: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import random
from typing import Any

import pytest

from unisafe_pytest.errors import ConfigError, JudgeError, ModelError, RateLimited
from unisafe_pytest.runtime.retry import RetryBudget, RetryBudgets, call_with_retries, next_delay


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Flaky:
    """Raises the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def fatal(message: str) -> ModelError:
    err = ModelError(message)
    err.retryable = False
    return err


def run(fn: Flaky, clock: FakeClock, **kw: Any) -> str:
    return call_with_retries(fn, sleep=clock.sleep, clock=clock, rng=random.Random(0), **kw)


def test_success_needs_no_sleep() -> None:
    clock = FakeClock()
    assert run(Flaky(), clock) == "ok"
    assert clock.sleeps == []


def test_retries_transient_errors_then_succeeds() -> None:
    clock, fn = FakeClock(), Flaky(ModelError("500"), JudgeError("timeout"))
    assert run(fn, clock) == "ok"
    assert fn.calls == 3 and len(clock.sleeps) == 2


def test_full_jitter_stays_under_the_exponential_cap() -> None:
    clock = FakeClock()
    fn = Flaky(*[ModelError("x") for _ in range(5)])
    run(fn, clock, max_attempts=6, base_delay=1.0, max_delay=4.0)
    for attempt, slept in enumerate(clock.sleeps, start=1):
        assert 0.0 <= slept <= min(4.0, 2 ** (attempt - 1))


def test_honours_retry_after_even_above_max_delay() -> None:
    clock = FakeClock()
    fn = Flaky(RateLimited("429", retry_after=45.0))
    assert run(fn, clock, max_delay=30.0) == "ok"
    assert clock.sleeps == [45.0]


def test_rate_limited_without_retry_after_uses_jitter() -> None:
    delay = next_delay(1, RateLimited("429"), base_delay=2.0, max_delay=30.0,
                       rng=random.Random(1))
    assert 0.0 <= delay <= 2.0


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    clock = FakeClock()
    errors = [ModelError(f"failure {i}") for i in range(4)]
    with pytest.raises(ModelError, match="failure 3"):
        run(Flaky(*errors), clock, max_attempts=4)
    assert len(clock.sleeps) == 3


def test_never_retries_non_retryable_or_non_infrastructure_errors() -> None:
    clock = FakeClock()
    fn = Flaky(fatal("HTTP 400"))
    with pytest.raises(ModelError, match="HTTP 400"):
        run(fn, clock)
    assert fn.calls == 1
    fn = Flaky(ConfigError("bad profile"))
    with pytest.raises(ConfigError):
        run(fn, clock)
    fn = Flaky(ValueError("bug"))
    with pytest.raises(ValueError):
        run(fn, clock)
    assert fn.calls == 1 and clock.sleeps == []


def test_budget_stops_a_wait_that_would_overrun() -> None:
    clock = FakeClock()
    fn = Flaky(RateLimited("first", retry_after=50.0), RateLimited("second", retry_after=80.0))
    with pytest.raises(RateLimited, match="second"):
        run(fn, clock, budget_s=120.0)
    assert clock.sleeps == [50.0] and fn.calls == 2


def test_time_spent_in_calls_counts_against_the_budget() -> None:
    clock = FakeClock()

    def slow() -> str:
        clock.now += 100.0
        raise ModelError("slow 500")

    with pytest.raises(ModelError):
        call_with_retries(slow, sleep=clock.sleep, clock=clock, budget_s=120.0,
                          base_delay=100.0, max_delay=100.0, rng=random.Random(3),
                          max_attempts=10)
    assert clock.now <= 220.0


def test_on_retry_reports_each_wait() -> None:
    clock = FakeClock()
    seen: list[tuple[int, str, float]] = []
    call_with_retries(
        Flaky(RateLimited("a", retry_after=1.0), RateLimited("b", retry_after=2.0)),
        sleep=clock.sleep, clock=clock,
        on_retry=lambda n, err, delay: seen.append((n, str(err), delay)),
    )
    assert seen == [(1, "a", 1.0), (2, "b", 2.0)]


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        call_with_retries(lambda: 1, max_attempts=0)


# -- the instance's retry budget (shared by all its calls) ---------------------------------


def test_the_budget_is_shared_by_calls_and_the_next_failure_after_it_is_final() -> None:
    clock, budget = FakeClock(), RetryBudget(3.0)
    first = Flaky(RateLimited("a", retry_after=1.0), RateLimited("b", retry_after=2.0))
    assert run(first, clock, budget=budget) == "ok"
    assert budget.left() == 0.0
    second = Flaky(ModelError("HTTP 503"))
    with pytest.raises(ModelError) as info:
        run(second, clock, budget=budget)
    assert second.calls == 1 and clock.sleeps == [1.0, 2.0]
    assert str(info.value) == ("HTTP 503; gave up: the instance's retry budget of 3 s is spent "
                               "(--unisafe-retry-budget)")


def test_a_retry_after_beyond_what_is_left_fails_at_once() -> None:
    clock, budget = FakeClock(), RetryBudget(10.0)
    fn = Flaky(RateLimited("HTTP 429", retry_after=4.0), RateLimited("HTTP 429", retry_after=60.0))
    with pytest.raises(RateLimited, match=r"^HTTP 429; gave up: the server asks to wait 60 s "
                       r"\(Retry-After\), more than the 6 s left of the instance's retry "
                       r"budget of 10 s") as info:
        run(fn, clock, budget=budget)
    assert clock.sleeps == [4.0] and fn.calls == 2
    assert info.value.retry_after == 60.0  # the same error, its message extended
    assert budget.left() == 6.0


def test_a_jitter_delay_is_cut_to_what_is_left() -> None:
    clock, budget = FakeClock(), RetryBudget(0.25)
    fn = Flaky(ModelError("a"), ModelError("b"), ModelError("c"))
    with pytest.raises(ModelError, match=r"^b; gave up: the instance's retry budget of 0\.25 s"):
        run(fn, clock, budget=budget, base_delay=10.0, max_delay=10.0)  # jitter of ~8 s
    assert clock.sleeps == [0.25] and fn.calls == 2


def test_a_budget_of_zero_means_no_retries() -> None:
    clock = FakeClock()
    fn = Flaky(ModelError("HTTP 500"))
    with pytest.raises(ModelError, match="retry budget of 0 s is spent"):
        run(fn, clock, budget=RetryBudget(0.0))
    assert fn.calls == 1 and clock.sleeps == []


def test_the_per_call_caps_still_hold_under_a_large_budget() -> None:
    clock, budget = FakeClock(), RetryBudget(1000.0)
    errors = [ModelError(f"failure {i}") for i in range(4)]
    with pytest.raises(ModelError, match=r"^failure 3$"):
        run(Flaky(*errors), clock, budget=budget, max_attempts=4)
    assert len(clock.sleeps) == 3


def test_budgets_are_one_per_key_and_reject_negative_seconds() -> None:
    budgets = RetryBudgets(5.0)
    assert budgets.of(("s", "TT", "a")) is budgets.of(("s", "TT", "a"))
    assert budgets.of(("s", "TT", "a")) is not budgets.of(("s", "TT", "b"))
    spent = budgets.of(("s", "TT", "a"))
    spent.draw(5.0, exact=False)
    budgets.release(("s", "TT", "a"))  # a finished instance leaves nothing behind
    assert budgets.of(("s", "TT", "a")) is not spent
    assert budgets.of(("s", "TT", "a")).left() == 5.0
    with pytest.raises(ValueError, match="must not be negative"):
        RetryBudgets(-1.0)
