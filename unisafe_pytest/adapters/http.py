"""HTTP plumbing for the API adapters: one httpx client, secret redaction, error classification.

Policy (retry, limits, cache) lives in ``unisafe_pytest.runtime``; this module only sends a
request and turns what came back into a :class:`Reply` or an exception, following the table in
:mod:`unisafe_pytest.adapters.policy`:

- 2xx with a JSON object body -> :class:`Reply`;
- an error reply the caller's ``rejection`` function recognises as a content-policy refusal
  -> :class:`Reply` with ``rejection`` set (never an exception: a refusal is a verdict);
- 429 -> :class:`~unisafe_pytest.errors.RateLimited` with ``retry_after`` from ``Retry-After``,
  ``retry-after-ms`` or a Gemini ``RetryInfo.retryDelay``;
- 408, 409, 5xx, timeouts, transport failures, malformed JSON -> retryable ``ModelError``
  (a 503's ``Retry-After`` kept in ``retry_after``, as for a 429);
- other 4xx -> ``ModelError`` with ``retryable = False``;
- a reply (or a downloaded image) larger than the call's ``max_bytes`` (the profile's
  ``max_reply_mb``, by default :data:`MAX_REPLY_MB`) -> ``ModelError`` naming the limit and
  the key, ``retryable = False``; the body is read streaming and never held past the limit.

Secrets: API keys are held in :class:`Secret` (its repr hides the value), sent only in request
headers (never in URLs), and every error message is passed through :func:`redact`. Tests inject
an ``httpx.Client`` or an ``httpx.MockTransport``.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from unisafe_pytest.adapters.connections import http_client
from unisafe_pytest.adapters.diagnosis import Sent, diagnose, sent_from
from unisafe_pytest.adapters.encodable import encodable
from unisafe_pytest.errors import ModelError, RateLimited

REDACTED = "[REDACTED]"
_MIN_SECRET_LEN = 6

_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(r"(?i)(\b(?:x-goog-api-key|api[_-]?key|access[_-]?token|key)[\"']?\s*[:=]\s*[\"']?)"
               r"[A-Za-z0-9._~+/-]{6,}"),
    re.compile(r"()\bsk-[A-Za-z0-9_-]{8,}"),
    re.compile(r"()\bAIza[0-9A-Za-z_-]{20,}"),
)

AuthStyle = Literal["bearer", "x-goog-api-key", "none"]
Rejection = Callable[[int, Any], str | None]


class Secret:
    """A credential whose value never shows in ``repr``, ``str`` or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


def redact(text: str, secrets: Iterable[str | Secret | None] = ()) -> str:
    """``text`` with every known secret and anything shaped like a credential replaced."""
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value and len(value) >= _MIN_SECRET_LEN:
            text = text.replace(value, REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment (for describe() and messages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


MIB = 1024 * 1024
MAX_REPLY_MB: dict[str, float] = {"text": 16.0, "image": 64.0, "audio": 64.0, "video": 256.0}
"""Default ``max_reply_mb`` per output modality of the task: a JSON reply (image, audio and
video replies carry base64 media) or a downloaded image may hold at most this many MiB."""


@dataclass(frozen=True)
class Deadline:
    """The budget of one call: how long it may take in all and how many bytes its reply may
    hold, with the profile keys that set them (for messages)."""

    seconds: float
    key: str = "timeout_s"
    max_bytes: int = int(MAX_REPLY_MB["image"] * MIB)
    size_key: str = "max_reply_mb"
    source: str = ""
    """Where the time limit is set and how to raise it, for a timeout's message (default: the
    profile's ``key``); a judge names its option or its profile."""

    def timeout_advice(self) -> str:
        """``(the profile's timeout_s); raise timeout_s in the profile``, or the source's."""
        return self.source or f"(the profile's {self.key}); raise {self.key} in the profile"

    def too_big(self, what: str) -> str:
        """The message of a reply over the size limit: the limit, and how to raise it."""
        mib = self.max_bytes / MIB
        return (f"{what} is larger than {mib:g} MiB (the profile's {self.size_key}); it was "
                f"not kept. If the model's answers really are that large, raise "
                f"{self.size_key} in the profile (e.g. max_reply_mb = "
                "{ text = 32, image = 128 })")


@dataclass
class Reply:
    """A decoded reply: a JSON object, or a recognised content-policy rejection."""

    body: dict[str, Any]
    status: int
    headers: httpx.Headers
    latency_s: float
    rejection: str | None = None
    """Refusal reason when the provider rejected the request on content policy."""


def parse_retry_after(headers: Mapping[str, str], body: Any = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``Retry-After`` or a Gemini ``retryDelay``."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    err = body.get("error") if isinstance(body, Mapping) else None
    details = err.get("details") if isinstance(err, Mapping) else None
    if isinstance(details, list):
        for detail in details:
            delay = detail.get("retryDelay") if isinstance(detail, Mapping) else None
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    return max(0.0, float(delay[:-1]))
                except ValueError:
                    continue
    return None


def _provider_message(body: Any, text: str) -> str:
    err = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(err, Mapping):
        parts = [str(err[k]) for k in ("code", "status", "message") if err.get(k)]
        if parts:
            return ": ".join(parts)[:400]
    if isinstance(err, str):
        return err[:400]
    if isinstance(body, Mapping):  # vLLM's {"object": "error", "message": ...}; FastAPI's detail
        for key in ("message", "detail"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])[:400]
    return " ".join(text.split())[:400]


class HttpEndpoint:
    """One provider endpoint: base URL, credential, timeout, and an httpx client.

    :param label: ``"<kind> <model>"``, the prefix of every error message.
    :param model: the model id (named when the server says it does not serve it).
    :param profile: ``profile 'NAME'`` or ``kind 'KIND'``, where the keys a translated error
        names live (:mod:`unisafe_pytest.adapters.diagnosis`).
    :param client: an injected client (not closed by :meth:`close`); tests pass one built on
        ``httpx.MockTransport``. Otherwise a client is made here (with ``transport`` if given).
    """

    def __init__(
        self,
        *,
        label: str,
        base_url: str,
        api_key: Secret | None,
        auth: AuthStyle = "bearer",
        timeout_s: float = 120.0,
        max_connections: int = 8,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        model: str | None = None,
        profile: str | None = None,
    ) -> None:
        self.label = label
        self.model = model
        self.profile = profile
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._auth = auth
        self.timeout_s = timeout_s
        self._owns_client = client is None
        self._client = client or http_client(  # connections in small pools (see there)
            timeout_s=timeout_s, max_connections=max_connections, transport=transport)

    def __repr__(self) -> str:
        return f"HttpEndpoint({self.label!r}, {safe_url(self.base_url)!r})"

    def _headers(self) -> dict[str, str]:
        if self._api_key is None or self._auth == "none":
            return {}
        if self._auth == "bearer":
            return {"Authorization": f"Bearer {self._api_key.reveal()}"}
        return {"x-goog-api-key": self._api_key.reveal()}

    def redact(self, text: str) -> str:
        """``text`` without the key, credential-shaped strings or lone surrogates."""
        return redact(encodable(text), [self._api_key])

    def error(self, message: str, *, retryable: bool = True) -> ModelError:
        """A ``ModelError`` whose message is prefixed with the label and redacted."""
        err = ModelError(self.redact(f"{self.label}: {message}"))
        err.retryable = retryable
        return err

    def post(
        self,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
        rejection: Rejection | None = None,
        deadline: Deadline | None = None,
    ) -> Reply:
        """POST to ``base_url + path`` within ``deadline`` (default: ``timeout_s``); see the
        module docstring for the outcomes."""
        url = self.base_url + path
        where = f"POST {path}"
        start = time.perf_counter()
        deadline = deadline or Deadline(self.timeout_s)
        timeout_s = deadline.seconds
        timed_out = self.error(
            f"{where} timed out after {timeout_s:g}s {deadline.timeout_advice()} if the model "
            "is slow"
        )
        try:
            request = self._client.build_request(
                "POST", url, json=json_body, data=data, files=files, headers=self._headers(),
                timeout=timeout_s,
            )
            response = self._client.send(request, stream=True)
            try:
                chunks = self._read(response, f"the reply to {where}", deadline, start,
                                    timed_out)
            finally:
                response.close()
        except httpx.TimeoutException:
            raise timed_out from None
        except httpx.HTTPError as exc:
            raise self.error(f"{where} failed: {type(exc).__name__}: {exc}") from None
        latency = time.perf_counter() - start
        text = b"".join(chunks).decode(response.encoding or "utf-8", errors="replace")
        del chunks
        try:
            body: Any = json.loads(text) if text.strip() else None
        except ValueError:
            body = None
        status = response.status_code
        if 200 <= status < 300:
            if not isinstance(body, dict):
                raise self.error(
                    f"{where} returned HTTP {status} with a body that is not a JSON object: "
                    f"{' '.join(text.split())[:200]!r}"
                )
            return Reply(body=body, status=status, headers=response.headers, latency_s=latency)
        if rejection is not None:
            reason = rejection(status, body)
            if reason is not None:
                return Reply(
                    body=body if isinstance(body, dict) else {},
                    status=status,
                    headers=response.headers,
                    latency_s=latency,
                    rejection=reason,
                )
        sent = sent_from(json_body, files, model=self.model, profile=self.profile,
                         base_url=safe_url(self.base_url))
        raise self.status_error(where, status, response.headers, body, text, sent)

    def _read(self, response: httpx.Response, what: str, deadline: Deadline, start: float,
              timed_out: ModelError) -> list[bytes]:
        """The (decoded) body of a streamed response, within the deadline and the size limit.

        httpx's timeouts bound each read, not the whole body: a server that trickles a byte at
        a time would never time out, so the deadline is checked here too. The size is checked
        on the declared length first and on every chunk, so an oversized reply is never held.
        """
        limit = deadline.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self.error(deadline.too_big(what), retryable=False)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise self.error(deadline.too_big(what), retryable=False)
            chunks.append(chunk)
            if time.perf_counter() - start > deadline.seconds:
                raise timed_out
        return chunks

    def status_error(
        self, where: str, status: int, headers: Mapping[str, str], body: Any, text: str,
        sent: Sent | None = None,
    ) -> ModelError:
        """The error of a non-2xx reply; a known cause (:func:`diagnose`) leads the message
        with its fix and is not retried."""
        provider = _provider_message(body, text)
        message = f"{where} returned HTTP {status}: {provider}"
        known = None if status == 429 else diagnose(
            status, f"{provider} {text[:8000]}", sent or Sent(model=self.model,
                                                              profile=self.profile))
        if known is not None:
            return self.error(f"{where} returned HTTP {status}, {known.hint} "
                              f"[{known.cause}; server said: {provider}]",
                              retryable=known.retryable)
        if status == 429:
            retry_after = parse_retry_after(headers, body)
            return RateLimited(self.redact(f"{self.label}: {message}"), retry_after=retry_after)
        retryable = status in (408, 409) or status >= 500
        if status in (401, 403):
            message += "; check the API key environment variable named in the profile"
        error = self.error(message, retryable=retryable)
        if status == 503:  # "come back later": its Retry-After is honoured like a 429's
            error.retry_after = parse_retry_after(headers, body)
        return error

    def download(self, url: str, deadline: Deadline | None = None) -> bytes:
        """GET an image URL returned by the provider (sent without credentials), within the
        deadline and the size limit."""
        deadline = deadline or Deadline(self.timeout_s)
        what = f"the generated image at {safe_url(url)!r}"
        start = time.perf_counter()
        timed_out = self.error(
            f"downloading {what} timed out after {deadline.seconds:g}s "
            f"{deadline.timeout_advice()} if the server is slow")
        try:
            response = self._client.send(
                self._client.build_request("GET", url, timeout=deadline.seconds), stream=True)
            try:
                if response.status_code != 200:
                    raise self.error(
                        f"downloading {what} returned HTTP {response.status_code}")
                chunks = self._read(response, what, deadline, start, timed_out)
            finally:
                response.close()
        except httpx.TimeoutException:
            raise timed_out from None
        except httpx.HTTPError as exc:
            raise self.error(f"downloading {what} failed: {type(exc).__name__}") from None
        return b"".join(chunks)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
