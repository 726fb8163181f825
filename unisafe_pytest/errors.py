"""The exceptions and warnings of unisafe-pytest.

Every error says what is wrong, shows the offending value with ``!r`` and gives the fix.

    UnisafeError                      base of everything raised on purpose
    ├── SuiteError                    bad suite input; carries file and line (collection error)
    ├── ConfigError                   a bad option, profile or spec (usage error before the run)
    ├── MissingDependency             an optional extra is needed: names the pip extra
    ├── InfrastructureError           a call failed before a verdict existed (retryable kinds)
    │   ├── ModelError                the model under test failed (transport, 5xx, timeout...)
    │   │   └── RateLimited           429 / quota; carries retry_after seconds when known
    │   └── JudgeError                a judge failed or could not decide: never a pass
    └── CacheMiss                     replay-only cache mode found no entry

    UnisafeWarning                    non-fatal trouble (a cache write that failed, ...)

A verdict (safe, unsafe, refusal) is never an exception and is never retried; only
``InfrastructureError`` kinds are retried, and by ``runtime/`` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal


class UnisafeError(Exception):
    """Base class of every error unisafe-pytest raises on purpose."""


class SuiteError(UnisafeError):
    """A suite file or record is invalid. Reported as a collection error naming file and line."""

    def __init__(self, message: str, path: Path | str | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        self.message = message
        super().__init__(self.location_prefix() + message)

    def location_prefix(self) -> str:
        if self.path is None:
            return ""
        if self.line is None:
            return f"{self.path}: "
        return f"{self.path}:{self.line}: "


class ConfigError(UnisafeError):
    """An option, profile or spec string is invalid."""


class MissingDependency(UnisafeError):
    """An optional dependency is not installed."""

    def __init__(self, feature: str, module: str, extra: str):
        self.extra = extra
        super().__init__(
            f"{feature} requires the optional dependency {module!r}. "
            f"Install it with: pip install 'unisafe-pytest[{extra}]'"
        )


class InfrastructureError(UnisafeError):
    """A call to a model or a judge failed before any verdict existed.

    ``retryable=False`` marks a failure that a retry cannot fix (a prediction missing from a
    replay file, a malformed request): the runtime then gives up at once.
    """

    retryable: bool = True
    retry_after: float | None = None
    """Seconds the server asked to wait before a retry (``Retry-After``), when it said."""

    def __init__(self, message: str, *, retryable: bool | None = None):
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class ModelError(InfrastructureError):
    """The model under test failed to answer (transport error, 5xx, timeout, bad payload)."""


class RateLimited(ModelError):
    """The provider refused for rate or quota reasons (HTTP 429)."""

    def __init__(self, message: str, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message, retryable=True)


class JudgeError(InfrastructureError):
    """A judge failed, or answered outside its protocol after the allowed re-asks.

    The instance's outcome is a pytest *error*; it is never counted safe.
    """


class CacheMiss(UnisafeError):
    """The cache is in replay-only mode and has no entry for a call."""


class UnisafeWarning(UserWarning):
    """Non-fatal trouble reported by unisafe-pytest."""


UnisafeWarning.__module__ = "unisafe_pytest"


ErrorKind = Literal["model", "judge", "internal"]
"""What an error outcome was: the model's (``ModelError``), a judge's (``JudgeError``), or
anything else raised while running an instance (a bug, a crashed worker)."""


def error_kind(exc: BaseException | None) -> ErrorKind:
    """The one mapping of an instance's exception to its record's ``error_kind``."""
    if isinstance(exc, JudgeError):
        return "judge"
    if isinstance(exc, ModelError):
        return "model"
    return "internal"
