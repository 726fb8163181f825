"""Uni-SafeBench: the upstream directory layout, and hf:unisafebench through a fake ``datasets``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fake_datasets import FakeDataset, install
from unisafe_pytest.errors import SuiteError
from unisafe_pytest.schema.tasks import TaskRegistry
from unisafe_pytest.suites import LoadedSuite, load_suite
from unisafe_pytest.suites.hf import UNISAFEBENCH_HF_ID

# a PNG signature and a whole IHDR header (1x1): collection reads no further
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
PNG += bytes.fromhex("1f15c489")


def item(ident: int | str, image: object = "a.png", **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"id": ident, "prompt": "p", "category": "Politics"}
    if image is not None:
        record["image"] = image
    record.update(fields)
    return record


def put(root: Path, rel: str, *records: dict[str, Any] | str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load(base: Path, spec: str = "Uni-SafeBench") -> LoadedSuite:
    return load_suite(spec, TaskRegistry(), base_dir=base)


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    root = tmp_path / "Uni-SafeBench"
    root.mkdir()
    (root / "a.png").write_bytes(PNG)
    return root


def test_all_seven_task_files(bench: Path, tmp_path: Path) -> None:
    put(bench, "Text Generation/inputs.jsonl", item(1, image=None, intention="harm"))
    put(bench, "T2I/input.jsonl", item(1, image=""))
    put(bench, "Text-Guided Image Editing/input.jsonl", item(1))
    put(bench, "VQA/unsafety_I_unsafety_T/input.jsonl", item(1))
    put(bench, "VQA/unsafety_I_safety_T/input.jsonl", item(1))
    put(bench, "VQA/safety_I_unsafety_T/input.jsonl", item(1))
    put(bench, "VQA/safety_I_safety_T/input.jsonl", item("1", extra="kept"))
    suite = load(tmp_path)
    assert suite.errors == []
    assert (suite.name, suite.kind, suite.protocol, suite.root) == (
        "unisafebench", "unisafebench-dir", "unisafebench", bench,
    )
    assert [i.task for i in suite.instances] == [
        "TextGen", "T2I", "Edit", "DualVQA", "ImageVQA", "TextVQA", "CompositeVQA",
    ]
    assert {i.id for i in suite.instances} == {"1"}
    text, t2i, edit = suite.instances[:3]
    assert (text.instruction, text.category, text.taxonomy, text.images) == (
        "p", "Politics", "unisafebench", [],
    )
    assert text.intention == "harm"
    assert t2i.images == [] and t2i.metadata == {}
    assert edit.images[0].ref == "a.png"
    assert suite.instances[-1].metadata == {"extra": "kept"}
    data = (bench / "T2I/input.jsonl").read_bytes()
    assert suite.files["T2I/input.jsonl"] == hashlib.sha256(data).hexdigest()
    assert len(suite.files) == 7
    assert str(edit.source) == "Uni-SafeBench/Text-Guided Image Editing/input.jsonl:1"


def test_a_subset_of_files_is_enough(bench: Path, tmp_path: Path) -> None:
    put(bench, "T2I/input.jsonl", item(1, image=None), item(2, image="x/ignored.png"))
    suite = load(tmp_path)
    assert [i.key for i in suite.instances] == [("1", "T2I"), ("2", "T2I")]
    assert suite.instances[1].metadata == {"image": "x/ignored.png"}


def test_images_folder_is_the_image_root_when_present(bench: Path, tmp_path: Path) -> None:
    (bench / "images").mkdir()
    (bench / "images" / "b.png").write_bytes(PNG)
    put(bench, "VQA/safety_I_safety_T/input.jsonl", item(1, image="b.png"), item(2))
    suite = load(tmp_path)
    assert suite.root == bench / "images"
    assert [i.images[0].ref for i in suite.instances] == ["b.png"]
    assert [str(e) for e in suite.errors] == [
        "Uni-SafeBench/VQA/safety_I_safety_T/input.jsonl:2: image 'a.png' does not exist "
        "under the suite folder 'images'; check the spelling (paths are relative to the "
        "'images' folder)"
    ]


def test_suite_name_follows_the_folder(tmp_path: Path) -> None:
    put(tmp_path / "my bench", "T2I/input.jsonl", item(1, image=None))
    put(tmp_path / "uni_safebench", "T2I/input.jsonl", item(1, image=None))
    assert load(tmp_path, "my bench").name == "my_bench"
    assert load(tmp_path, "uni_safebench").name == "unisafebench"


def test_image_task_without_image(bench: Path, tmp_path: Path) -> None:
    put(bench, "Text-Guided Image Editing/input.jsonl", item(1), item(2, image=None))
    suite = load(tmp_path)
    assert [str(e) for e in suite.errors] == [
        "Uni-SafeBench/Text-Guided Image Editing/input.jsonl:2: task Edit (malicious image "
        "editing) takes an input image, but 'image' is None; give the image path relative to "
        "the image root 'Uni-SafeBench'"
    ]


def test_per_record_errors(bench: Path, tmp_path: Path) -> None:
    put(
        bench,
        "VQA/unsafety_I_unsafety_T/input.jsonl",
        item(1),
        {"id": 2, "image": "a.png", "category": "c"},
        item(3, category=["x"]),
        item(1),
        item(4, image="../../etc/passwd"),
        "not json",
    )
    suite = load(tmp_path)
    where = "Uni-SafeBench/VQA/unsafety_I_unsafety_T/input.jsonl"
    assert [i.id for i in suite.instances] == ["1"]
    assert [str(e) for e in suite.errors] == [
        f"{where}:2: missing required field 'prompt'; add it as a non-empty string",
        f"{where}:3: field 'category' must be a string, got list ['x']; "
        "fix the value of 'category'",
        f"{where}:4: duplicate instance: id '1' with task 'DualVQA' already appears at line 1; "
        "the first is kept. Give each (id, task) pair once (the same id may repeat across "
        "tasks)",
        f"{where}:5: image path '../../etc/passwd' escapes the suite folder 'Uni-SafeBench' "
        "(through '..' or a symlink); copy the image inside the suite folder",
        f"{where}:6: line is not valid JSON (Expecting value at column 1): 'not json'; write "
        "exactly one JSON object per line",
    ]


def test_empty_task_file_is_a_suite_error(bench: Path, tmp_path: Path) -> None:
    put(bench, "T2I/input.jsonl", "")
    with pytest.raises(SuiteError) as info:
        load(tmp_path)
    assert str(info.value) == (
        "Uni-SafeBench/T2I/input.jsonl: suite file is empty; add one JSON object per line "
        "(see the suite format docs)"
    )


# --- hf:unisafebench through a fake `datasets` module ------------------------------------


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state: dict[str, Any] = {"calls": [], "splits": {}}

    def load_dataset(name: str, split: str | None = None, token: str | None = None) -> Any:
        state["calls"].append((name, split, token))
        return state["splits"]

    install(monkeypatch, load_dataset)
    return state


def test_hf_splits_named_after_tasks(tmp_path: Path, fake_hub: dict[str, Any]) -> None:
    image = {"bytes": PNG, "path": None}
    fake_hub["splits"] = {
        "text_generation": FakeDataset([item(1, image=None)]),
        "safety_I_unsafety_T": FakeDataset([item(7, image=image), item(8, image=None)]),
    }
    suite = load_suite("hf:unisafebench", TaskRegistry(), base_dir=tmp_path)
    assert fake_hub["calls"] == [(UNISAFEBENCH_HF_ID, None, "hf_secret_token")]
    assert (suite.name, suite.kind, suite.protocol) == (
        "unisafebench", "unisafebench-hf", "unisafebench",
    )
    assert [i.key for i in suite.instances] == [("1", "TextGen"), ("7", "TextVQA")]
    assert suite.instances[1].images[0].ref == hashlib.sha256(PNG).hexdigest() + ".png"
    assert [str(e) for e in suite.errors] == [
        f"hf:{UNISAFEBENCH_HF_ID}[safety_I_unsafety_T]:2: task TextVQA (text-unsafe VQA) "
        "takes an input image, but 'image' is None; give the image path relative to the "
        "image root 'hf-images'"
    ]


def test_hf_task_column(tmp_path: Path, fake_hub: dict[str, Any]) -> None:
    fake_hub["splits"] = {
        "train": FakeDataset([
            item(1, image=None, task="T2I"), item(2, image=None, task="Text Generation"),
            item(3, image=None, task="Poetry"),
        ]),
    }
    suite = load_suite("hf:unisafebench", TaskRegistry(), base_dir=tmp_path)
    assert [i.key for i in suite.instances] == [("1", "T2I"), ("2", "TextGen")]
    assert [str(e) for e in suite.errors] == [
        f"hf:{UNISAFEBENCH_HF_ID}[train]:3: unknown Uni-SafeBench task 'Poetry' in column "
        "'task'; known tasks: TextGen, T2I, Edit, DualVQA, ImageVQA, TextVQA, CompositeVQA"
    ]


def test_hf_split_of_unknown_task(tmp_path: Path, fake_hub: dict[str, Any]) -> None:
    fake_hub["splits"] = {"train": FakeDataset([item(1, image=None)])}
    with pytest.raises(SuiteError) as info:
        load_suite("hf:unisafebench", TaskRegistry(), base_dir=tmp_path)
    assert str(info.value) == (
        f"hf:{UNISAFEBENCH_HF_ID}[train]: cannot tell the task of split 'train': it has no "
        "'task' column and its name is no Uni-SafeBench task; known tasks: TextGen, T2I, Edit, "
        "DualVQA, ImageVQA, TextVQA, CompositeVQA"
    )
