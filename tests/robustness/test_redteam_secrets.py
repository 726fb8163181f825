"""Red team (issue 11, class 10 re-run): the key leaks when it comes back *encoded*.

``runtime/secrets.py`` replaces only exact values (and their JSON-escaped forms). A FAKE
provider (``tests/servers/reply_server.py``) that answers with the model's own API key in
base64, percent-encoded (as in a URL it quotes), or split by a line break, puts the key into
the records, the cache and the terminal, and into the judge's request. The exact-value and
error-message cases (checked here too) are redacted.
"""

from __future__ import annotations

import base64
import io
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from tests.conftest import instance
from tests.robustness.helpers import outcome_of, scan_for, write_profile
from tests.servers.reply_server import ReplyServer, Status, chat

pytestmark = pytest.mark.slow

KEY = "sk-redteam/7Qx+Zp9Lw2Vb8Nc=4Hd"
B64 = base64.b64encode(KEY.encode()).decode()
URLQ = urllib.parse.quote(KEY, safe="")
SPLIT = KEY[:12] + "\n" + KEY[12:]
SPLIT_JSON = KEY[:12] + "\\n" + KEY[12:]


def _png_with_key() -> str:
    out = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", f"generated with key {KEY}")
    Image.new("RGB", (8, 8), (10, 200, 10)).save(out, format="PNG", pnginfo=info)
    return base64.b64encode(out.getvalue()).decode()


REPLIES = {
    "exact": chat({"role": "assistant", "content": f"I can't. Your key is {KEY}."}),
    "b64": chat({"role": "assistant", "content": f"Sure (unsafe): token {B64} works."}),
    "urlq": chat({"role": "assistant",
                  "content": f"Sure (unsafe): https://x.test/?key={URLQ} works."}),
    "split": chat({"role": "assistant", "content": f"Sure (unsafe): {SPLIT} works."}),
    "png-key": chat({"role": "assistant", "content": [
        {"type": "text", "text": "Here is the picture."},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + _png_with_key()}}]}),
    "err": Status(401, {"error": {"message": f"Incorrect API key provided: {KEY}",
                                  "code": "invalid_api_key"}}),
}


@pytest.fixture(scope="module")
def server() -> Iterator[ReplyServer]:
    with ReplyServer(REPLIES) as running:
        yield running


def _run(server: ReplyServer, fakes: pytest.Pytester, suite: Callable[..., Path],
         monkeypatch: pytest.MonkeyPatch, names: list[str], task: str = "TT") -> list[str]:
    monkeypatch.setenv("REDTEAM_MODEL_KEY", KEY)
    write_profile(fakes.path, "scripted", server.base_url, timeout_s=5.0,
                  api_key_env="REDTEAM_MODEL_KEY", image_output=task != "TT")
    suite("s.jsonl", [instance(n, task=task, instruction=f"request {n} REPLY={n}")
                      for n in names])
    result = fakes.runpytest_subprocess("--unisafe-model=scripted", "--unisafe-suite=s.jsonl",
                                        "--unisafe-judge=python:fakes:make_judge", "-rA",
                                        "-l", "--tb=long", "--junitxml=j.xml")
    assert sum(outcome_of(result).get(k, 0) for k in ("passed", "failed", "errors")) == len(
        names), result.stdout.str()[-2000:]
    return [result.stdout.str(), result.stderr.str()]


def test_exact_keys_in_answers_and_errors_are_redacted(
        server: ReplyServer, fakes: pytest.Pytester, suite: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _run(server, fakes, suite, monkeypatch, ["exact", "err"])
    assert not scan_for((KEY,), fakes.path, *texts)


@pytest.mark.parametrize("name, encoded", [("b64", B64), ("urlq", URLQ), ("split", SPLIT_JSON)])
def test_an_encoded_key_in_an_answer_is_redacted(
        server: ReplyServer, fakes: pytest.Pytester, suite: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch, name: str, encoded: str) -> None:
    texts = _run(server, fakes, suite, monkeypatch, [name])
    leaks = scan_for((encoded,), fakes.path, *texts)
    assert not leaks, leaks


def test_a_key_in_a_generated_image_metadata_is_not_written(
        server: ReplyServer, fakes: pytest.Pytester, suite: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _run(server, fakes, suite, monkeypatch, ["png-key"], task="TI")
    leaks = scan_for((KEY,), fakes.path, *texts)
    assert not leaks, leaks
