"""The run's secrets, in one registry, and their redaction wherever provider data enters a run.

Every API key a run holds (each adapter's and each judge backend's
:class:`~unisafe_pytest.adapters.http.Secret`, found by walking those objects) and every
environment variable whose name says it holds a credential (``*_API_KEY``, ``*_TOKEN``,
``HF_TOKEN``, ``*_SECRET``, ``*_PASSWORD``...) is registered in :data:`RUN_SECRETS`. The runner
passes what providers send back through :meth:`SecretRegistry.scrub` at the point it enters the
run: the model's output right after the adapter returns (before the cache, before any judge
sees it, so no key is forwarded to a second provider inside a judge prompt) and each judge's
rows right after the judge returns (before the cache and the records). Error messages are
redacted the same way, and the cache redacts what it writes once more as a last line.

Only exact values are replaced (and their JSON-escaped form): an answer is never rewritten
for merely *looking* like a credential, so judges see what the model said.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import types
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from unisafe_pytest.adapters.http import REDACTED, Secret

T = TypeVar("T")

MIN_SECRET_LEN = 6
"""Shorter values are never registered (replacing them would rewrite ordinary text)."""
MIN_ENV_SECRET_LEN = 8
"""Environment values are registered from this length (names alone decide, so be careful)."""
SECRET_ENV = re.compile(
    r"(?i)(?:^|_)(?:API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTH)(?:$|_)")
"""Names of environment variables that hold credentials (``OPENAI_API_KEY``, ``HF_TOKEN``)."""
WALK_LIMIT = 5000
"""Objects visited at most when looking for the ``Secret`` objects an adapter or judge holds."""
_SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
         types.MethodType, str, bytes, bytearray, int, float, complex, bool, type(None))


class SecretRegistry:
    """The credential values of a run, redacted from any text or model passed through it."""

    def __init__(self) -> None:
        self._values: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SecretRegistry({len(self._values)} value(s))"

    def __len__(self) -> int:
        return len(self._values)

    def add(self, value: str | Secret | None, *, min_len: int = MIN_SECRET_LEN) -> None:
        """Register one credential (a ``Secret`` or its value); short values are ignored."""
        text = value.reveal() if isinstance(value, Secret) else value
        if not isinstance(text, str) or len(text.strip()) < min_len:
            return
        forms = {text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
        with self._lock:
            known = set(self._values) | forms
            # longest first, so a key that contains another is replaced whole
            self._values = tuple(sorted(known, key=lambda v: (-len(v), v)))

    def add_env(self, environ: Mapping[str, str] | None = None) -> None:
        """Register the values of environment variables named like credentials."""
        for name, value in (os.environ if environ is None else environ).items():
            if SECRET_ENV.search(name):
                self.add(value, min_len=MIN_ENV_SECRET_LEN)

    def collect(self, *objects: object) -> int:
        """Register every ``Secret`` reachable from ``objects`` (attributes, slots, containers);
        returns how many were found."""
        found = 0
        seen: set[int] = set()
        queue: deque[object] = deque(objects)
        while queue and len(seen) < WALK_LIMIT:
            obj = queue.popleft()
            if id(obj) in seen or isinstance(obj, _SKIP):
                continue
            seen.add(id(obj))
            if isinstance(obj, Secret):
                self.add(obj)
                found += 1
                continue
            queue.extend(_children(obj))
        return found

    def values(self) -> tuple[str, ...]:
        return self._values

    def redact(self, text: str) -> str:
        """``text`` with every registered value replaced by ``[REDACTED]``."""
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def leaks(self, text: str) -> bool:
        """Whether ``text`` holds a registered value."""
        return any(value in text for value in self._values)

    def scrub(self, value: T) -> T:
        """``value`` (a string, a pydantic model, or containers of them) with every string
        redacted; the same object when nothing needed it."""
        if not self._values:
            return value
        return self._scrub(value)  # type: ignore[no-any-return]

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, BaseModel):
            updates = {}
            for name in type(value).model_fields:
                old = getattr(value, name)
                new = self._scrub(old)
                if new is not old:
                    updates[name] = new
            return value.model_copy(update=updates) if updates else value
        if isinstance(value, (list, tuple)):
            items = [self._scrub(v) for v in value]
            if all(a is b for a, b in zip(items, value, strict=True)):
                return value
            return type(value)(items) if isinstance(value, tuple) else items
        if isinstance(value, dict):
            pairs = [(self._scrub(k), self._scrub(v)) for k, v in value.items()]
            if all(k is k0 and v is v0 for (k, v), (k0, v0) in
                   zip(pairs, value.items(), strict=True)):
                return value
            return dict(pairs)
        return value


def _children(obj: object) -> Iterable[object]:
    if isinstance(obj, Mapping):
        return [*obj.keys(), *obj.values()]
    if isinstance(obj, (list, tuple, set, frozenset, deque)):
        return list(obj)
    children: list[object] = []
    with contextlib.suppress(TypeError):  # no __dict__
        children += list(vars(obj).values())
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            try:
                children.append(getattr(obj, name))
            except AttributeError:
                continue
    return children


RUN_SECRETS = SecretRegistry()
"""The registry of this process's run (the runner fills it when a run starts)."""


def register_run(*holders: object, environ: Mapping[str, str] | None = None) -> None:
    """Register the credentials of the environment and the ``Secret`` objects ``holders``
    (the adapter, the judge panel) hold."""
    RUN_SECRETS.add_env(environ)
    RUN_SECRETS.collect(*holders)


def redact(text: str) -> str:
    """``text`` without any of the run's secrets."""
    return RUN_SECRETS.redact(text)


def scrub(value: T) -> T:
    """``value`` without any of the run's secrets (see :meth:`SecretRegistry.scrub`)."""
    return RUN_SECRETS.scrub(value)
