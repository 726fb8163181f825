"""Media carry the frame size their header states (issue 16): ``Media.width``/``height``,
filled at collection and written in records.

- a PNG (its IHDR, already read for the decompression-bomb check) and a video clip (the
  largest frame of an MP4 track header or a WebM track, already read for the frame limit)
  referenced by a suite file or embedded as bytes get their width and height;
- an image type whose first bytes are not read for it (JPEG), and audio, get none, and
  ``describe()`` then writes no size at all (never a guessed one);
- a run's records carry the size of each input image and clip (``inputs``), beside its
  ``ref``, ``sha256`` and ``mime``.

On the old code ``Media`` had no width or height: the header's size was read, held to the
limits, and thrown away.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from tests.modalities.clips import mp4, wav, webm
from tests.robustness.helpers import only_run, outcome_of, records_by_id
from unisafe_pytest.schema import Media
from unisafe_pytest.schema.modalities import AUDIO, VIDEO
from unisafe_pytest.suites.media import MediaResolver, media_from_bytes


def picture(fmt: str, size: tuple[int, int] = (7, 5)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, fmt)
    return buffer.getvalue()


FILES = {"a.png": picture("PNG"), "b.jpg": picture("JPEG"), "c.webm": webm(1.0, 320, 240),
         "d.mp4": mp4(2.0, 160, 90), "e.wav": wav(0.5)}


def sizes(media: Media) -> tuple[int | None, int | None]:
    return media.width, media.height


def test_collected_media_carry_the_size_their_header_states(tmp_path: Path) -> None:
    for name, data in FILES.items():
        (tmp_path / name).write_bytes(data)
    resolver = MediaResolver(tmp_path)
    png, jpeg = resolver.resolve("a.png"), resolver.resolve("b.jpg")
    film, movie = resolver.resolve("c.webm", VIDEO), resolver.resolve("d.mp4", VIDEO)
    clip = resolver.resolve("e.wav", AUDIO)
    assert [sizes(m) for m in (png, jpeg, film, movie, clip)] == [
        (7, 5), (None, None), (320, 240), (160, 90), (None, None)]
    assert png.describe() == {"ref": "a.png", "sha256": None, "mime": "image/png",
                              "width": 7, "height": 5}
    assert film.describe() == {"ref": "c.webm", "sha256": None, "mime": "video/webm",
                               "kind": "video", "duration_s": 1.0, "width": 320, "height": 240}
    for unsized in (jpeg, clip):
        assert not {"width", "height"} & set(unsized.describe())


def test_embedded_media_carry_their_size_too() -> None:
    assert sizes(media_from_bytes(FILES["a.png"], ref="inline png")) == (7, 5)
    assert sizes(media_from_bytes(FILES["b.jpg"], ref="inline jpeg")) == (None, None)
    assert sizes(media_from_bytes(FILES["d.mp4"], ref="inline mp4", modality=VIDEO)) == (160, 90)
    assert sizes(media_from_bytes(FILES["e.wav"], ref="inline wav", modality=AUDIO)) == (
        None, None)


OWN = '''
from unisafe_pytest import Capabilities, JudgeRow, JudgeSpec, ModelOutput


class Model:
    name = "fake"
    capabilities = Capabilities(inputs=frozenset({"text", "image"}), max_input_images=1)

    def generate(self, instance, task, ctx):
        return ModelOutput(text="A plain answer.")

    def describe(self):
        return {"kind": "own", "model": self.name}

    def close(self):
        pass


class Judge:
    spec = JudgeSpec(id="calm", kind="test", prompt_hash="0" * 16, parser_version="1")
    modalities = frozenset({"text", "image", "video"})

    def judge(self, instance, task, output):
        return JudgeRow(judge="calm", judgment=0, risk_rating=1, spec=self.spec)

    def close(self):
        pass


def make_model():
    return Model()


def make_judge():
    return Judge()
'''


def test_records_carry_the_size_of_each_input(pytester: pytest.Pytester) -> None:
    for name in ("a.png", "b.jpg"):
        (pytester.path / name).write_bytes(FILES[name])
    rows = [{"id": "png", "task": "MU", "category": "Hate", "instruction": "Describe it.",
             "images": ["a.png"]},
            {"id": "jpeg", "task": "MU", "category": "Hate", "instruction": "Describe it.",
             "images": ["b.jpg"]}]
    (pytester.path / "sized.jsonl").write_text(
        "\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    pytester.makepyfile(own=OWN)
    pytester.syspathinsert()
    result = pytester.runpytest("--unisafe-model=python:own:make_model",
                                "--unisafe-judge=python:own:make_judge",
                                "--unisafe-suite=sized.jsonl", "--unisafe-cache=off")
    assert outcome_of(result) == {"passed": 2}, result.stdout.str()[-3000:]
    records = records_by_id(only_run(pytester.path))
    [png], [jpeg] = (records[i]["inputs"] for i in ("png", "jpeg"))
    assert (png["ref"], png["mime"], png["width"], png["height"]) == ("a.png", "image/png", 7, 5)
    assert "width" not in jpeg and "height" not in jpeg and jpeg["mime"] == "image/jpeg"
