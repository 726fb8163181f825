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

Only a registered value is replaced, in the forms a provider may send it back in: as it is,
JSON-escaped, base64 (standard and URL-safe, at each of the three alignments: the part of the
encoding that the key alone decides), percent-encoded (upper- or lower-case hex, ``+`` or
``%20`` for a space), and any of these split by whitespace, zero-width characters or ``\\n``
escapes (a key broken over lines). An answer is never rewritten for merely *looking* like a
credential, so judges see what the model said.

Media bytes cannot be redacted without changing what is judged: a generated image or clip
whose bytes hold a secret in any of those forms (a PNG text chunk, compressed ones included)
is a model error (:meth:`SecretRegistry.media_problem`), checked before the file is written
(``adapters/images.py``, ``adapters/clips.py``) and again when the output enters the run.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import threading
import types
import urllib.parse
import zlib
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from unisafe_pytest.adapters.http import REDACTED, Secret
from unisafe_pytest.errors import ModelError
from unisafe_pytest.schema import Media

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
MIN_ENCODED_LEN = 8
"""An encoded form (a base64 middle part) shorter than this is not registered."""
_GAP = r"(?:[\s\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]|\\[nrt])"
"""What may split a key in a reply: whitespace, zero-width/format characters, JSON escapes."""
_GAPS = re.compile(_GAP + "+")
_BYTE_GAPS = re.compile(rb"(?:[ \t\r\n\x0b\x0c]|\\[nrt])+")
_PERCENT = re.compile(r"%[0-9A-F]{2}")
_SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
         types.MethodType, str, bytes, bytearray, int, float, complex, bool, type(None))


class SecretRegistry:
    """The credential values of a run, redacted from any text or model passed through it."""

    def __init__(self) -> None:
        self._values: tuple[str, ...] = ()
        self._compact: tuple[str, ...] = ()
        self._split: re.Pattern[str] | None = None
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
        forms = encoded_forms(text)
        with self._lock:
            known = set(self._values) | forms
            # longest first, so a key that contains another is replaced whole
            self._values = tuple(sorted(known, key=lambda v: (-len(v), v)))
            compact = {_GAPS.sub("", v) for v in self._values}
            self._compact = tuple(sorted((c for c in compact if c), key=lambda v: (-len(v), v)))
            self._split = re.compile("|".join(
                (_GAP + "*").join(re.escape(ch) for ch in c) for c in self._compact))

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
        """``text`` with every registered value (in any of its forms, split or not) replaced
        by ``[REDACTED]``."""
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        if self._split is not None and self._split_leak(text):
            text = self._split.sub(REDACTED, text)
        return text

    def leaks(self, text: str) -> bool:
        """Whether ``text`` holds a registered value (in any of its forms, split or not)."""
        return any(value in text for value in self._values) or self._split_leak(text)

    def _split_leak(self, text: str) -> bool:
        if not self._compact:
            return False
        compact = _GAPS.sub("", text)
        return any(value in compact for value in self._compact)

    def leaks_bytes(self, data: bytes) -> bool:
        """Whether ``data`` holds a registered value's UTF-8 bytes (any form, split by
        whitespace or not), also inside a PNG's compressed text chunks."""
        if not self._values:
            return False
        compact = _BYTE_GAPS.sub(b"", data)
        if any(v.encode("utf-8") in compact for v in self._compact):
            return True
        return any(self.leaks_bytes(text) for text in _png_compressed_text(data))

    def media_problem(self, data: bytes, what: str) -> ModelError | None:
        """The error of media bytes that hold a run secret, or None (bytes are not rewritten:
        that would change what the judges see)."""
        if not self.leaks_bytes(data):
            return None
        return ModelError(
            f"{what} holds one of the run's API keys in its bytes (e.g. in image metadata): "
            "it is neither written nor judged, so the key reaches no file and no judge; "
            "check what the provider embeds in its outputs", retryable=False)

    def scrub(self, value: T) -> T:
        """``value`` (a string, a pydantic model, or containers of them) with every string
        redacted; the same object when nothing needed it."""
        if not self._values:
            return value
        return self._scrub(value)  # type: ignore[no-any-return]

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Media):
            try:
                data = value.read_bytes()
            except OSError:  # a missing file is an error of its own, where it is read
                data = b""
            problem = self.media_problem(data, f"the {value.kind} {value.ref or ''}".strip())
            if problem is not None:
                raise problem
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


def env_secret_in(text: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The name of the credential environment variable (as :meth:`SecretRegistry.add_env`
    finds them) whose value ``text`` holds in any form, or None. Only the name is given, so a
    message can say where the value came from without showing it."""
    for name, value in sorted((os.environ if environ is None else environ).items()):
        if SECRET_ENV.search(name):
            one = SecretRegistry()
            one.add(value, min_len=MIN_ENV_SECRET_LEN)
            if one.leaks(text):
                return name
    return None


def encoded_forms(value: str) -> set[str]:
    """The forms of ``value`` a reply may carry: as it is, JSON-escaped, base64 (standard and
    URL-safe, the middle part the value alone decides at each of the three alignments) and
    percent-encoded (upper- and lower-case hex)."""
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    raw = value.encode("utf-8")
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw).decode("ascii")
        middle = encoded[-(-8 * pad // 6):8 * (pad + len(raw)) // 6]
        if len(middle) >= MIN_ENCODED_LEN:
            forms |= {middle, middle.replace("+", "-").replace("/", "_")}
    for quoted in (urllib.parse.quote(value, safe=""), urllib.parse.quote(value),
                   urllib.parse.quote_plus(value, safe=""), urllib.parse.quote_plus(value)):
        forms |= {quoted, _PERCENT.sub(lambda m: m.group().lower(), quoted)}
    return forms


def _png_compressed_text(data: bytes, limit: int = 64) -> list[bytes]:
    """The inflated texts of a PNG's ``zTXt``/``iTXt``/``iCCP`` chunks (at most ``limit``,
    each at most 1 MiB inflated); nothing for other data."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return []
    texts: list[bytes] = []
    at = 8
    while at + 8 <= len(data) and len(texts) < limit:
        size = int.from_bytes(data[at:at + 4], "big")
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + size]
        at += 12 + size
        if kind not in (b"zTXt", b"iTXt", b"iCCP"):
            continue
        _, _, rest = body.partition(b"\0")
        if kind == b"iTXt":  # flag, method, language\0, translated keyword\0, text
            if rest[:1] != b"\x01":
                continue
            rest = rest[2:].split(b"\0", 2)[-1]
        else:
            rest = rest[1:]
        with contextlib.suppress(zlib.error):
            texts.append(zlib.decompressobj().decompress(rest, 1 << 20))
    return texts


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
