"""Retrying model and judge calls: infrastructure errors only, full jitter, a cap and a budget.

Only :class:`~unisafe_pytest.errors.InfrastructureError` instances whose ``retryable`` is true
are retried (transport failures, timeouts, 429, 5xx, malformed replies). Verdicts, refusals,
configuration and input errors are never retried. The delay before attempt ``n + 1`` is

- ``RateLimited.retry_after`` when the provider gave one (honoured even above ``max_delay``,
  since retrying earlier only earns another 429), else
- full jitter: ``uniform(0, min(max_delay, base_delay * 2 ** (n - 1)))``.

When the next delay would take the call past ``budget_s`` seconds since the first attempt, or
``max_attempts`` failures or ``max_rate_limited`` rate limits are reached, the last error is
re-raised unchanged. Rate limits are counted apart, with a larger allowance: a 429 asks to
wait, so a 429 storm slows a run down without failing it, while an endpoint that always
answers 429 (an exhausted quota) still ends in an error. ``sleep``, ``clock`` and
``rng`` are injectable so tests run on a fake clock.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from unisafe_pytest.errors import InfrastructureError, RateLimited

T = TypeVar("T")

RetryCallback = Callable[[int, InfrastructureError, float], None]
"""Called before each wait with (attempt that failed, its error, seconds about to wait)."""


def next_delay(
    attempt: int,
    error: InfrastructureError,
    *,
    base_delay: float,
    max_delay: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    if isinstance(error, RateLimited) and error.retry_after is not None:
        return max(0.0, error.retry_after)
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
            if on_retry is not None:
                on_retry(attempt, error, delay)
            sleep(delay)
            attempt += 1
