"""How a model or judge call goes out: limiter slot, retries, the instance's budget, AIMD.

A :class:`CallPolicy` joins the concurrency limiter and one instance's
:class:`~unisafe_pytest.runtime.retry.RetryBudget`. Each attempt of a call is told to the
limiter: a 429 halves the limit (once per 429), an answer counts towards growing it back.

The runner puts the policy of the instance being computed *in force* for the duration of
its computation (:func:`applying`, a context variable, so each prefetch thread has its own).
Model calls go through :meth:`CallPolicy.call`, holding a limiter slot per attempt. Judge
backends retry their HTTP calls with :func:`retried`: the policy in force, a slot per attempt
too (such judges say ``limits_own_calls = True`` and the runner gives them no slot of its
own). So a judge's 429s shrink the shared limit, its answers count, its waits come out of the
same instance's budget as the model's, and it holds no slot while it waits. Outside a run (no
policy in force) :func:`retried` is a plain
:func:`~unisafe_pytest.runtime.retry.call_with_retries`.

What :func:`retried` returns (a judge provider's reply, before the judge parses it) is
redacted of the run's secrets (``runtime/secrets.py``): a judge that quotes a key puts it in no
answer, intention or row.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from unisafe_pytest.errors import RateLimited
from unisafe_pytest.runtime.limiter import Limiter
from unisafe_pytest.runtime.retry import RetryBudget, call_with_retries
from unisafe_pytest.runtime.secrets import scrub

T = TypeVar("T")


@dataclass(frozen=True)
class CallPolicy:
    """The limiter (if any) and the retry budget (if any) that calls obey."""

    limiter: Limiter | None = None
    budget: RetryBudget | None = None

    def call(self, fn: Callable[[], T], *, slot: bool = True, **caps: Any) -> T:
        """``fn()`` retried (``caps``: ``call_with_retries``' per-call limits), each attempt in
        a limiter slot when ``slot`` is true, and told to the limiter."""
        limiter = self.limiter
        if limiter is None:
            return call_with_retries(fn, budget=self.budget, **caps)

        def attempt() -> T:
            try:
                if slot:
                    with limiter.slot():
                        answer = fn()
                else:
                    answer = fn()
            except RateLimited:
                limiter.rate_limited()
                raise
            limiter.succeeded()
            return answer

        return call_with_retries(attempt, budget=self.budget, **caps)


_in_force: ContextVar[CallPolicy | None] = ContextVar("unisafe_call_policy", default=None)


@contextlib.contextmanager
def applying(policy: CallPolicy) -> Iterator[None]:
    """Put ``policy`` in force for the calls made inside the block (in this thread)."""
    token = _in_force.set(policy)
    try:
        yield
    finally:
        _in_force.reset(token)


def in_force(default: CallPolicy) -> CallPolicy:
    """The policy in force, or ``default`` outside :func:`applying`."""
    return _in_force.get() or default


def retried(fn: Callable[[], T], **caps: Any) -> T:
    """For a client called inside a runtime call (a judge backend): retry ``fn`` under the
    policy in force, each attempt in a limiter slot (see the module docstring); the answer
    comes back redacted of the run's secrets."""
    return scrub(in_force(CallPolicy()).call(fn, **caps))
