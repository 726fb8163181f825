"""Retrying model and judge calls: infrastructure errors only, full jitter, a cap and a budget.

Only :class:`~unisafe_pytest.errors.InfrastructureError` instances whose ``retryable`` is true
are retried (transport failures, timeouts, 429, 5xx, malformed replies). Verdicts, refusals,
configuration and input errors are never retried. The delay before attempt ``n + 1`` is

- the error's ``retry_after`` when the provider gave one (a 429's or a 503's
  ``Retry-After``; honoured even above ``max_delay``, since retrying earlier only earns
  another refusal), else
- full jitter: ``uniform(0, min(max_delay, base_delay * 2 ** (n - 1)))``.

When the next delay would take the call past ``budget_s`` seconds since the first attempt, or
``max_attempts`` failures or ``max_rate_limited`` rate limits are reached, the last error is
re-raised unchanged. Rate limits are counted apart, with a larger allowance: a 429 asks to
wait, so a 429 storm slows a run down without failing it, while an endpoint that always
answers 429 (an exhausted quota) still ends in an error. ``sleep``, ``clock`` and
``rng`` are injectable so tests run on a fake clock.

Above those per-call caps, a :class:`RetryBudget` bounds the seconds *waited* between
retries by all the calls made for one instance (its generation, its judges, all its
samples; ``--unisafe-retry-budget``). A jitter delay is cut to what is left of it; a
``Retry-After`` longer than what is left fails at once (waiting less only earns another
refusal); once it is spent, the next retryable failure is final. Giving up on the budget
re-raises the last error with ``; gave up: <why>`` appended to its message, so the record's
error says it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

from unisafe_pytest.errors import InfrastructureError, RateLimited

T = TypeVar("T")

RetryCallback = Callable[[int, InfrastructureError, float], None]
"""Called before each wait with (attempt that failed, its error, seconds about to wait)."""


class RetryBudget:
    """Seconds of waiting between retries that the calls of one instance share."""

    def __init__(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a retry budget of {seconds!r} s must not be negative")
        self.seconds = seconds
        self.spent = 0.0
        self._lock = threading.Lock()

    def left(self) -> float:
        with self._lock:
            return max(0.0, self.seconds - self.spent)

    def draw(self, delay: float, *, exact: bool) -> float | str:
        """Take up to ``delay`` seconds: what may be waited, or why not (see the module doc).

        ``exact`` marks a delay the server asked for (``Retry-After``), which is not cut.
        """
        with self._lock:
            left = max(0.0, self.seconds - self.spent)
            if left <= 0.0:
                return (f"the instance's retry budget of {self.seconds:g} s is spent "
                        "(--unisafe-retry-budget)")
            if exact and delay > left:
                return (f"the server asks to wait {delay:g} s (Retry-After), more than the "
                        f"{left:.3g} s left of the instance's retry budget of {self.seconds:g} s "
                        "(--unisafe-retry-budget)")
            granted = min(delay, left)
            self.spent += granted
            return granted


class RetryBudgets:
    """One :class:`RetryBudget` of ``seconds`` per key (an instance), made on first use."""

    def __init__(self, seconds: float = 300.0) -> None:
        RetryBudget(seconds)  # checks the value
        self.seconds = seconds
        self._budgets: dict[Hashable, RetryBudget] = {}
        self._lock = threading.Lock()

    def of(self, key: Hashable) -> RetryBudget:
        with self._lock:
            budget = self._budgets.get(key)
            if budget is None:
                budget = self._budgets[key] = RetryBudget(self.seconds)
            return budget

    def release(self, key: Hashable) -> None:
        """Forget ``key``'s budget (its instance is finished): a run keeps no object per
        finished instance."""
        with self._lock:
            self._budgets.pop(key, None)


def _retry_after(error: InfrastructureError) -> float | None:
    value = getattr(error, "retry_after", None)
    return value if isinstance(value, (int, float)) else None


def next_delay(
    attempt: int,
    error: InfrastructureError,
    *,
    base_delay: float,
    max_delay: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    retry_after = _retry_after(error)
    if retry_after is not None:
        return max(0.0, retry_after)
    ceiling = min(max_delay, base_delay * (2 ** (attempt - 1)))
    return (rng or random).uniform(0.0, max(0.0, ceiling))


def call_with_retries(
    fn: Callable[[], T],
    *,
    max_attempts: int = 4,
    max_rate_limited: int = 8,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    budget_s: float = 120.0,
    budget: RetryBudget | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    on_retry: RetryCallback | None = None,
) -> T:
    """Call ``fn`` until it returns, retrying retryable infrastructure errors (see module doc)."""
    if max_attempts < 1:
        raise ValueError(f"max_attempts={max_attempts!r} must be at least 1")
    started = clock()
    attempt = 1
    failures = rate_limited = 0  # counted apart: a 429 asks to wait, it is not a failure
    while True:
        try:
            return fn()
        except InfrastructureError as error:
            if isinstance(error, RateLimited):
                rate_limited += 1
            else:
                failures += 1
            if (not error.retryable or failures >= max_attempts
                    or rate_limited >= max_rate_limited):
                raise
            delay = next_delay(
                attempt, error, base_delay=base_delay, max_delay=max_delay, rng=rng
            )
            if clock() - started + delay > budget_s:
                raise
            if budget is not None:
                granted = budget.draw(delay, exact=_retry_after(error) is not None)
                if isinstance(granted, str):
                    error.args = (f"{error}; gave up: {granted}",)
                    raise
                delay = granted
            if on_retry is not None:
                on_retry(attempt, error, delay)
            sleep(delay)
            attempt += 1
