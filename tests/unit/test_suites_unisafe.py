"""UniSAFE case records: a local JSONL export, and hf:unisafe through a fake ``datasets``."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fake_datasets import FakeDataset, install
from unisafe_pytest.errors import MissingDependency, SuiteError
from unisafe_pytest.schema.tasks import TaskRegistry
from unisafe_pytest.suites import LoadedSuite, load_suite
from unisafe_pytest.suites.hf import UNISAFE_HF_ID

# a PNG signature and a whole IHDR header (1x1): collection reads no further
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
PNG += bytes.fromhex("1f15c489")
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 28
# shared/ sits beside the checkout (locally and in CI); the file is copied, never committed.
SAMPLE = Path(__file__).resolve().parents[3] / "shared/samples/unisafe/cases.sample.jsonl"


def case(ident: str, task: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": ident, "category": "Hate", "subcategory": "H1", "unsafe_trigger": "u",
        "target": "t", "scenario_type": task, "instruction": "do it", "input_image": None,
        "input_image_b": None, "turns": [],
    }
    record.update(fields)
    return record


def write(folder: Path, *records: dict[str, Any] | str, name: str = "cases.jsonl") -> None:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def load(folder: Path, spec: str = "cases.jsonl") -> LoadedSuite:
    return load_suite(spec, TaskRegistry(), base_dir=folder)


def only_error(suite: LoadedSuite) -> str:
    assert len(suite.errors) == 1, [str(e) for e in suite.errors]
    return str(suite.errors[0])


@pytest.mark.skipif(not SAMPLE.is_file(), reason="shared/samples is not beside the checkout")
def test_upstream_sample_loads(tmp_path: Path) -> None:
    shutil.copy(SAMPLE, tmp_path / "cases.sample.jsonl")
    suite = load(tmp_path, "cases.sample.jsonl")
    assert (suite.name, suite.kind, suite.protocol, suite.errors) == (
        "cases_sample", "unisafe-jsonl", "unisafe", [],
    )
    assert [i.key for i in suite.instances] == [("example-tt-1", "TT"), ("example-tt-2", "TT")]
    first = suite.instances[0]
    assert (first.category, first.subcategory, first.taxonomy) == ("Example", "X1", "unisafe-text")
    assert (first.target, first.unsafe_trigger) == ("Write a short example.", "synthetic example")
    assert first.images == [] and first.turns == []


def test_every_task_and_image_form(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(PNG)
    (tmp_path / "img" / "b.jpg").write_bytes(JPEG)
    embedded = base64.b64encode(PNG).decode()
    write(
        tmp_path,
        case("1", "TI"),
        case("1", "IE", input_image="img/a.png"),
        case("1", "IC", input_image={"path": "img/a.png"}, input_image_b={"bytes": embedded}),
        case("1", "MT", instruction="", turns=["a", "b", "c", "d"]),
        case("1", "TT", extra_column=5),
        case("1", "IT", instruction="", input_image="img/b.jpg"),
        case("1", "MU", input_image_b="img/a.png"),
    )
    suite = load(tmp_path)
    assert suite.errors == []
    by_task = {i.task: i for i in suite.instances}
    assert list(by_task) == ["TI", "IE", "IC", "MT", "TT", "IT", "MU"]
    assert {t: i.taxonomy for t, i in by_task.items()} == {
        "TI": "unisafe-image", "IE": "unisafe-image", "IC": "unisafe-image",
        "MT": "unisafe-image", "TT": "unisafe-text", "IT": "unisafe-text", "MU": "unisafe-text",
    }
    a, b = by_task["IC"].images
    assert (a.ref, a.mime, a.path is not None) == ("img/a.png", "image/png", True)
    assert (b.ref, b.path, b.sha256) == ("cases.jsonl:3:input_image_b", None,
                                         hashlib.sha256(PNG).hexdigest())
    assert b.read_bytes() == PNG
    assert by_task["IT"].images[0].mime == "image/jpeg"
    assert by_task["MT"].turns == ["a", "b", "c", "d"]
    assert by_task["TT"].metadata == {"extra_column": 5}
    assert by_task["MU"].images[0].ref == "img/a.png"  # input_image_b alone still counts


def test_header_line_before_cases_names_the_suite(tmp_path: Path) -> None:
    write(tmp_path, {"unisafe_suite": {"name": "mine", "version": "2"}}, case("1", "TT"))
    suite = load(tmp_path)
    assert (suite.name, suite.kind, suite.version) == ("mine", "unisafe-jsonl", "2")


def test_header_with_the_other_protocol_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"unisafe_suite": {"protocol": "unisafebench"}}, case("1", "TT"))
    with pytest.raises(SuiteError) as info:
        load(tmp_path)
    assert str(info.value) == (
        "cases.jsonl:1: the header says protocol 'unisafebench', but the records are UniSAFE "
        "cases ('scenario_type'); remove the protocol from the header"
    )


def test_mt_without_four_turns(tmp_path: Path) -> None:
    write(tmp_path, case("1", "TT"), case("1", "MT", turns=["a", "b"]))
    assert only_error(load(tmp_path)) == (
        "cases.jsonl:2: task MT needs exactly 4 turns, got 2 in 'turns': ['a', 'b']; "
        "give one instruction per turn"
    )


def test_wrong_number_of_images(tmp_path: Path) -> None:
    write(tmp_path, case("1", "TT"), case("1", "IC", input_image="a.png"))
    assert only_error(load(tmp_path)) == (
        "cases.jsonl:2: task IC (image composition) takes 2 input image(s), got 1 in "
        "'input_image'/'input_image_b'; give exactly 2"
    )


def test_scenario_type_of_the_other_benchmark(tmp_path: Path) -> None:
    write(tmp_path, case("1", "TT"), case("2", "T2I"))
    assert only_error(load(tmp_path)) == (
        "cases.jsonl:2: scenario_type 'T2I' is not a UniSAFE task; UniSAFE tasks: "
        "TI, IE, IC, MT, TT, IT, MU"
    )


def test_unknown_scenario_type(tmp_path: Path) -> None:
    write(tmp_path, case("1", "TT"), case("2", "XX"))
    assert only_error(load(tmp_path)).startswith(
        "cases.jsonl:2: unknown task 'XX' in field 'scenario_type'; known tasks: TI, IE"
    )


def test_missing_scenario_type_on_a_later_line(tmp_path: Path) -> None:
    record = case("2", "TT")
    del record["scenario_type"]
    write(tmp_path, case("1", "TT"), record)
    assert only_error(load(tmp_path)) == (
        "cases.jsonl:2: missing required field 'scenario_type'; add one of "
        "TI, IE, IC, MT, TT, IT, MU"
    )


def test_wrong_type_of_turns(tmp_path: Path) -> None:
    write(tmp_path, case("1", "TT"), case("2", "TT", turns="a"))
    assert only_error(load(tmp_path)) == (
        "cases.jsonl:2: field 'turns' must be a list of strings, got str 'a'; "
        "fix the value of 'turns'"
    )


def test_duplicate_case(tmp_path: Path) -> None:
    write(tmp_path, case("1", "TT"), case("1", "TI"), case("1", "TT"))
    suite = load(tmp_path)
    assert [i.key for i in suite.instances] == [("1", "TT"), ("1", "TI")]
    assert "already appears at line 1" in only_error(suite)


def test_bad_image_values(tmp_path: Path) -> None:
    write(
        tmp_path,
        case("1", "IE", input_image={"bytes": "%%%"}),
        case("2", "IE", input_image={"bytes": base64.b64encode(b"hello").decode()}),
        case("3", "IE", input_image=42),
        case("4", "IE", input_image="../up.png"),
    )
    messages = [str(e) for e in load(tmp_path).errors]
    assert messages == [
        "cases.jsonl:1: field 'input_image' has 'bytes' that are not valid base64 ('%%%'); "
        "base64-encode the image file",
        "cases.jsonl:2: embedded image 'cases.jsonl:2:input_image' is not a PNG/JPEG/GIF/WEBP/"
        "BMP image (first bytes b'hello'); embed the image file's bytes, base64-encoded",
        "cases.jsonl:3: field 'input_image' must be a relative path, {\"path\": ...} or "
        "{\"bytes\": \"<base64>\"}, got int 42; fix the value of 'input_image'",
        f"cases.jsonl:4: image path '../up.png' escapes the suite folder {tmp_path.name!r} "
        "(through '..' or a symlink); copy the image inside the suite folder",
    ]


# --- hf:unisafe through a fake `datasets` module ------------------------------------------


@pytest.fixture
def fake_datasets(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state: dict[str, Any] = {"calls": [], "splits": {}}

    def load_dataset(name: str, split: str | None = None, token: str | None = None) -> Any:
        state["calls"].append((name, split, token))
        if "fail" in state:
            raise RuntimeError(f"401 for token {token}")
        return state["splits"][split]

    install(monkeypatch, load_dataset)
    return state


def test_hf_unisafe_materializes_images_and_reads_both_splits(
    tmp_path: Path, fake_datasets: dict[str, Any]
) -> None:
    image = {"bytes": PNG, "path": None}
    fake_datasets["splits"] = {
        "image": FakeDataset([
            case("1", "IE", input_image=image),
            case("1", "IC", input_image=image, input_image_b={"bytes": JPEG, "path": None}),
            case("2", "MT", turns=["a"]),
        ]),
        "text": FakeDataset([case("1", "TT"), case("1", "MU", input_image=image)]),
    }
    suite = load_suite("hf:unisafe", TaskRegistry(), base_dir=tmp_path)
    assert fake_datasets["calls"] == [
        (UNISAFE_HF_ID, "image", "hf_secret_token"), (UNISAFE_HF_ID, "text", "hf_secret_token"),
    ]
    assert (suite.name, suite.kind, suite.protocol) == ("unisafe", "unisafe-hf", "unisafe")
    assert [i.key for i in suite.instances] == [
        ("1", "IE"), ("1", "IC"), ("1", "TT"), ("1", "MU"),
    ]
    assert [str(e) for e in suite.errors] == [
        f"hf:{UNISAFE_HF_ID}[image]:3: task MT needs exactly 4 turns, got 1 in 'turns': "
        "['a']; give one instruction per turn"
    ]
    store = tmp_path / ".unisafe" / "hf-images"
    assert suite.root == store
    media = suite.instances[0].images[0]
    assert media.ref == hashlib.sha256(PNG).hexdigest() + ".png"
    assert Path(str(media.path)).read_bytes() == PNG
    jpeg_ref = str(suite.instances[1].images[1].ref)
    assert jpeg_ref == hashlib.sha256(JPEG).hexdigest() + ".jpg"
    assert sorted(p.name for p in store.iterdir()) == sorted(
        [".gitignore", "CACHEDIR.TAG", str(media.ref), jpeg_ref]
    )
    assert set(suite.files) == {f"hf:{UNISAFE_HF_ID}[image]", f"hf:{UNISAFE_HF_ID}[text]"}
    again = load_suite("hf:unisafe", TaskRegistry(), base_dir=tmp_path)
    assert again.files == suite.files


def test_hf_needs_the_token(tmp_path: Path, fake_datasets: dict[str, Any],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(SuiteError) as info:
        load_suite("hf:unisafe", TaskRegistry(), base_dir=tmp_path)
    assert str(info.value) == (
        f"hf:unisafe is a gated dataset and HF_TOKEN is not set; accept the terms of "
        f"{UNISAFE_HF_ID!r} on its Hugging Face page, create an access token, and set the "
        "HF_TOKEN environment variable to it"
    )
    assert fake_datasets["calls"] == []


def test_hf_errors_never_show_the_token(tmp_path: Path, fake_datasets: dict[str, Any]) -> None:
    fake_datasets["fail"] = True
    with pytest.raises(SuiteError) as info:
        load_suite("hf:unisafe", TaskRegistry(), base_dir=tmp_path)
    assert str(info.value) == (
        f"could not load {UNISAFE_HF_ID!r} split 'image' (RuntimeError: 401 for token ***); "
        "check that HF_TOKEN belongs to an account that accepted the dataset's terms and that "
        "the hub is reachable"
    )


def test_hf_without_datasets_names_the_extra(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(MissingDependency) as info:
        load_suite("hf:unisafe", TaskRegistry(), base_dir=tmp_path)
    assert str(info.value) == (
        "Loading the gated Hugging Face dataset requires the optional dependency 'datasets'. "
        "Install it with: pip install 'unisafe-pytest[hf]'"
    )
