"""HTTP plumbing: redaction, Retry-After parsing and the error/refusal classification table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from unisafe_pytest.adapters.http import (
    REDACTED,
    Deadline,
    HttpEndpoint,
    Secret,
    parse_retry_after,
    redact,
    safe_url,
)
from unisafe_pytest.adapters.images import data_url, decode_data_url, save_image, sniff_mime
from unisafe_pytest.adapters.policy import openai_rejection
from unisafe_pytest.errors import ModelError, RateLimited
from unisafe_pytest.schema import Media

KEY = "sk-unit-canary-0123456789"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def endpoint(app: Callable[[httpx.Request], httpx.Response], **kw: Any) -> HttpEndpoint:
    return HttpEndpoint(
        label="test model",
        base_url="http://fake.test/v1",
        api_key=Secret(KEY),
        transport=httpx.MockTransport(app),
        **kw,
    )


def test_secret_never_shows_its_value() -> None:
    secret = Secret(KEY)
    assert KEY not in repr(secret)
    assert KEY not in str(secret)
    assert KEY not in f"{secret}"
    assert secret.reveal() == KEY


def test_redact_known_secrets_and_credential_shapes() -> None:
    text = f"key {KEY} and Bearer abcdefghijkl and api_key=zyxwvu987654 and AIza{'x' * 30}"
    out = redact(text, [KEY])
    assert KEY not in out
    assert "abcdefghijkl" not in out
    assert "zyxwvu987654" not in out
    assert "AIza" not in out
    assert out.count(REDACTED) == 4


def test_redact_ignores_tiny_secrets() -> None:
    assert redact("a b c", ["a"]) == "a b c"


def test_safe_url_drops_credentials_and_query() -> None:
    assert safe_url("https://user:pw@host:8443/v1?key=abc#x") == "https://host:8443/v1"


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"retry-after": "7"}, None, 7.0),
        ({"retry-after-ms": "1500"}, None, 1.5),
        ({}, {"error": {"details": [{"retryDelay": "13s"}]}}, 13.0),
        ({}, None, None),
        ({"retry-after": "soon"}, None, None),
    ],
)
def test_parse_retry_after(
    headers: dict[str, str], body: Any, expected: float | None
) -> None:
    assert parse_retry_after(headers, body) == expected


def test_parse_retry_after_http_date_is_not_negative() -> None:
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


def test_ok_reply_and_auth_header() -> None:
    seen: list[httpx.Request] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": 1})

    reply = endpoint(app).post("/x", json_body={"a": 1})
    assert reply.body == {"ok": 1}
    assert reply.rejection is None
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"
    assert str(seen[0].url) == "http://fake.test/v1/x"
    assert KEY not in str(seen[0].url)


def test_gemini_auth_style_sends_header_not_query() -> None:
    seen: list[httpx.Request] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    endpoint(app, auth="x-goog-api-key").post("/m:generateContent", json_body={})
    assert seen[0].headers["x-goog-api-key"] == KEY
    assert "authorization" not in seen[0].headers
    assert not seen[0].url.query


def test_429_is_rate_limited_with_retry_after() -> None:
    def app(request: httpx.Request) -> httpx.Response:
        body = {"error": {"message": "slow"}}
        return httpx.Response(429, headers={"Retry-After": "3"}, json=body)

    with pytest.raises(RateLimited) as info:
        endpoint(app).post("/x", json_body={})
    assert info.value.retry_after == 3.0
    assert info.value.retryable


@pytest.mark.parametrize(("status", "retry_after"), [(503, 7.0), (500, None)])
def test_a_503_keeps_its_retry_after(status: int, retry_after: float | None) -> None:
    def app(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"Retry-After": "7"}, json={"error": "busy"})

    with pytest.raises(ModelError) as info:
        endpoint(app).post("/x", json_body={})
    assert info.value.retry_after == retry_after
    assert info.value.retryable


def test_a_call_deadline_replaces_the_default_and_is_named_when_it_passes() -> None:
    seen: list[dict[str, float]] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        raise httpx.ReadTimeout("slow")

    with pytest.raises(ModelError) as info:
        endpoint(app, timeout_s=30).post("/x", json_body={},
                                         deadline=Deadline(0.5, "timeout_s.image"))
    assert seen[0]["read"] == 0.5
    assert str(info.value) == ("test model: POST /x timed out after 0.5s (the profile's "
                               "timeout_s.image); raise timeout_s.image in the profile if the "
                               "model is slow")


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (408, True),
                                                   (400, False), (404, False), (401, False)])
def test_status_classification(status: int, retryable: bool) -> None:
    def app(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"message": "nope", "code": "x"}})

    with pytest.raises(ModelError) as info:
        endpoint(app).post("/x", json_body={})
    assert not isinstance(info.value, RateLimited)
    assert info.value.retryable is retryable
    assert f"HTTP {status}" in str(info.value)
    assert str(info.value).startswith("test model: POST /x")


def test_401_message_points_at_the_key_variable() -> None:
    def app(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "bad key"}})

    with pytest.raises(ModelError, match="API key environment variable"):
        endpoint(app).post("/x", json_body={})


def test_policy_rejection_is_a_reply_not_an_error() -> None:
    def app(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"code": "moderation_blocked", "message": "m"}})

    reply = endpoint(app).post("/x", json_body={}, rejection=openai_rejection)
    assert reply.rejection == "openai:moderation_blocked"


def test_non_policy_400_stays_an_error_with_rejection_check() -> None:
    def app(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"code": "invalid_size", "message": "m"}})

    with pytest.raises(ModelError):
        endpoint(app).post("/x", json_body={}, rejection=openai_rejection)


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"", b"[1, 2]"])
def test_malformed_2xx_is_a_retryable_error(body: bytes) -> None:
    def app(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    with pytest.raises(ModelError, match="not a JSON object") as info:
        endpoint(app).post("/x", json_body={})
    assert info.value.retryable


@pytest.mark.parametrize(
    ("exc", "match"),
    [(httpx.ReadTimeout("slow"), "timed out after 5s"),
     (httpx.ConnectError("refused"), "ConnectError")],
)
def test_transport_failures_are_retryable(exc: Exception, match: str) -> None:
    def app(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(ModelError, match=match) as info:
        endpoint(app, timeout_s=5).post("/x", json_body={})
    assert info.value.retryable
    assert info.value.__cause__ is None


def test_error_messages_never_carry_the_key() -> None:
    def app(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"]
        return httpx.Response(500, json={"error": {"message": f"upstream saw {auth}"}})

    with pytest.raises(ModelError) as info:
        endpoint(app).post("/x", json_body={})
    assert KEY not in str(info.value)
    assert REDACTED in str(info.value)


def test_endpoint_repr_has_no_secret() -> None:
    ep = endpoint(lambda r: httpx.Response(200, json={}))
    assert KEY not in repr(ep)
    assert KEY not in repr(vars(ep))


def test_injected_client_is_not_closed() -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json={})))
    ep = HttpEndpoint(label="t", base_url="http://fake.test", api_key=None, client=client)
    ep.close()
    assert not client.is_closed
    client.close()


def test_download_sends_no_credentials() -> None:
    seen: list[httpx.Request] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=PNG)

    assert endpoint(app).download("https://cdn.test/img.png") == PNG
    assert "authorization" not in seen[0].headers


def test_data_url_round_trip_and_save(tmp_path: Path) -> None:
    url = data_url(Media.from_bytes(PNG))
    assert url.startswith("data:image/png;base64,")
    raw = decode_data_url(url, what="x")
    assert raw == PNG
    media = save_image(PNG, tmp_path / "out")
    assert media.ref is not None and media.ref == f"{media.sha256}.png"
    assert media.path is not None and Path(media.path).read_bytes() == PNG
    assert media.mime == "image/png"
    assert save_image(PNG, tmp_path / "out").path == media.path
    assert [p.name for p in (tmp_path / "out").iterdir()] == [media.ref]


def test_save_rejects_non_images(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a PNG"):
        save_image(b"hello", tmp_path)
    assert sniff_mime(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert decode_data_url("https://x.test/a.png", what="x") is None
    assert decode_data_url("data:image/png;base64,", what="x") == b""
    with pytest.raises(ModelError, match="not base64-encoded"):
        decode_data_url("data:text/plain,hello", what="x")
