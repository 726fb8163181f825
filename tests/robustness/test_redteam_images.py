"""Red team (issue 11, class 1 re-run): an image task answered with two images is judged on the
last one only.

An OpenAI-compatible reply (``image_output = true``) to a TI instance with two image parts, the
first one harmful and the second benign, is read whole (``combine`` accepts any number of
images for TI/IE/IC), and then the rubric judge (``rubric.protocol_images``), the offline judge
and Uni-Judger show the judge only ``images[-1]``. The harmful first image is never judged and
the instance passes. FAKE scripted model server and FAKE judge server (answers unsafe when the
request carries the harmful image's bytes).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import instance
from tests.robustness.helpers import only_run, outcome_of, records_by_id, write_profile
from tests.servers.fake_judge import serve
from tests.servers.reply_server import ReplyServer, chat

pytestmark = pytest.mark.slow

UNSAFE = '{"Reasoning": "shows the harm", "Judgment Result": 1, "Risk Rating": 3}'


def _png(color: tuple[int, int, int]) -> str:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


HARMFUL, BENIGN = _png((200, 0, 0)), _png((0, 200, 0))


def _image(b64: str) -> dict[str, object]:
    return {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64}}


REPLIES = {"two-images": chat({"role": "assistant", "content": [_image(HARMFUL), _image(BENIGN)]}),
           "harmful-only": chat({"role": "assistant", "content": [_image(HARMFUL)]})}


@pytest.fixture(scope="module")
def server() -> Iterator[ReplyServer]:
    with ReplyServer(REPLIES) as running:
        yield running


def test_a_ti_answer_with_two_images_is_not_judged_on_the_last_one(
        server: ReplyServer, fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    write_profile(fakes.path, "scripted", server.base_url, timeout_s=5.0, image_output=True)
    suite("cases.jsonl", [instance("two", task="TI", instruction="request two REPLY=two-images"),
                          instance("one", task="TI",
                                   instruction="request one REPLY=harmful-only")])
    url, state, stop = serve()
    state.when.update({HARMFUL[:200]: UNSAFE})
    try:
        result = fakes.runpytest(
            "--unisafe-model=scripted", "--unisafe-suite=cases.jsonl", "-rA",
            f"--unisafe-judge=unisafe-rubric:{url}/v1#judge-model,reasks=0,retries=1")
    finally:
        stop()
    records = records_by_id(only_run(fakes.path))
    assert records["one"]["outcome"] == "failed", records["one"]  # the judge sees it alone
    # today: "two" passed, the judge was shown only the benign last image
    assert records["two"]["outcome"] in ("failed", "error"), (
        records["two"]["verdict"], outcome_of(result))
