"""The native JSONL suite format and the spec dispatch of load_suite."""

from __future__ import annotations

import hashlib
import json
import string
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.jsonl import MAX_LINE_BYTES
from unisafe_pytest.schema.tasks import TaskRegistry
from unisafe_pytest.suites import LoadedSuite, load_suite

# a PNG signature and a whole IHDR header (1x1): collection reads no further
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
PNG += bytes.fromhex("1f15c489")
KNOWN_TASKS = (
    "TI, IE, IC, MT, TT, IT, MU, TextGen, T2I, Edit, DualVQA, ImageVQA, TextVQA, CompositeVQA, "
    "AT, VT"
)


def tt(ident: str | int, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"id": ident, "task": "TT", "category": "Hate", "instruction": "hi"}
    record.update(fields)
    return record


def write(folder: Path, *lines: dict[str, Any] | str | bytes, name: str = "suite.jsonl") -> Path:
    chunks = []
    for line in lines:
        if isinstance(line, bytes):
            chunks.append(line)
        elif isinstance(line, str):
            chunks.append(line.encode())
        else:
            chunks.append(json.dumps(line).encode())
    path = folder / name
    path.write_bytes(b"\n".join(chunks) + b"\n")
    return path


def load(folder: Path, spec: str = "suite.jsonl", **kwargs: Any) -> LoadedSuite:
    return load_suite(spec, TaskRegistry(), base_dir=folder, **kwargs)


def only_error(suite: LoadedSuite) -> str:
    assert len(suite.errors) == 1, [str(e) for e in suite.errors]
    return str(suite.errors[0])


# --- valid files ---------------------------------------------------------------------------


def test_valid_file_loads_every_field(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(PNG)
    path = write(
        tmp_path,
        {"unisafe_suite": {"name": "demo", "description": "d", "version": "3"}},
        tt(7, subcategory="H1", target="insults", unsafe_trigger="t", twin="7-b",
           metadata={"k": 1}),
        tt("7-b", risky=False, twin=7),
        {"id": "m", "task": "MU", "category": "Hate", "instruction": "look",
         "images": ["img/a.png"], "taxonomy": "custom"},
    )
    suite = load(tmp_path)
    assert suite.errors == []
    assert (suite.name, suite.kind, suite.protocol) == ("demo", "native", "unisafe")
    assert (suite.description, suite.version) == ("d", "3")
    assert suite.root == tmp_path
    assert suite.files == {"suite.jsonl": hashlib.sha256(path.read_bytes()).hexdigest()}
    first, twin, mu = suite.instances
    assert first.key == ("7", "TT")
    assert (first.subcategory, first.target, first.unsafe_trigger) == ("H1", "insults", "t")
    assert (first.risky, first.twin, first.metadata) == (True, "7-b", {"k": 1})
    assert first.taxonomy == "unisafe-text"
    assert str(first.source) == "suite.jsonl:2"
    assert (twin.risky, twin.twin) == (False, "7")
    assert mu.taxonomy == "custom"
    [media] = mu.images
    assert media.ref == "img/a.png"
    assert media.path == str((tmp_path / "img" / "a.png").resolve())
    assert (media.mime, media.size_bytes, media.sha256) == ("image/png", len(PNG), None)


def test_name_comes_from_sanitized_file_stem(tmp_path: Path) -> None:
    write(tmp_path, tt(1), name="my suite.v2.jsonl")
    assert load(tmp_path, "my suite.v2.jsonl").name == "my_suite_v2"


def test_aliases_map_to_canonical_codes_and_protocol_follows_tasks(tmp_path: Path) -> None:
    write(tmp_path, {"id": 1, "task": "Text Generation", "category": "Politics",
                     "instruction": "x"})
    suite = load(tmp_path)
    assert suite.protocol == "unisafebench"
    assert suite.instances[0].task == "TextGen"
    assert suite.instances[0].taxonomy == "unisafebench"


def test_image_tasks_default_to_the_image_taxonomy(tmp_path: Path) -> None:
    write(tmp_path, {"id": 1, "task": "TI", "category": "Hate", "instruction": "x"})
    assert load(tmp_path).instances[0].taxonomy == "unisafe-image"


def test_blank_lines_are_skipped_and_lines_keep_their_numbers(tmp_path: Path) -> None:
    write(tmp_path, "", tt(1), "   ", "oops")
    suite = load(tmp_path)
    assert [str(i.source) for i in suite.instances] == ["suite.jsonl:2"]
    assert only_error(suite).startswith("suite.jsonl:4: ")


def test_relative_specs_resolve_against_base_dir(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", tt(1))
    assert len(load(tmp_path, "sub/suite.jsonl").instances) == 1
    assert len(load(Path("/"), str(tmp_path / "sub" / "suite.jsonl")).instances) == 1


# --- per-record errors: one test per kind ----------------------------------------------------


def test_invalid_json(tmp_path: Path) -> None:
    write(tmp_path, tt(1), "{not json")
    suite = load(tmp_path)
    assert len(suite.instances) == 1
    assert only_error(suite) == (
        "suite.jsonl:2: line is not valid JSON (Expecting property name enclosed in double "
        "quotes at column 2): '{not json'; write exactly one JSON object per line"
    )


def test_invalid_utf8(tmp_path: Path) -> None:
    write(tmp_path, b'{"id": "\xff"}', tt(1))
    assert only_error(load(tmp_path)) == (
        "suite.jsonl:1: line is not valid UTF-8 (byte b'\\xff' at column 9); "
        "save the file as UTF-8"
    )


def test_line_that_is_not_an_object(tmp_path: Path) -> None:
    write(tmp_path, tt(1), "[1, 2]")
    assert only_error(load(tmp_path)) == (
        "suite.jsonl:2: line is a JSON list, not an object: [1, 2]; "
        "write one JSON object per line"
    )


def test_missing_required_field(tmp_path: Path) -> None:
    write(tmp_path, tt(1), {"id": 2, "task": "TT", "instruction": "x"})
    assert only_error(load(tmp_path)) == (
        "suite.jsonl:2: missing required field 'category'; add it as a non-empty string"
    )


def test_missing_id(tmp_path: Path) -> None:
    write(tmp_path, tt(1), {"task": "TT", "category": "Hate", "instruction": "x"})
    assert only_error(load(tmp_path)) == (
        "suite.jsonl:2: missing required field 'id'; add a unique string id"
    )


def test_wrong_type(tmp_path: Path) -> None:
    write(tmp_path, tt(1), tt(2, risky="yes"))
    assert only_error(load(tmp_path)) == (
        "suite.jsonl:2: field 'risky' must be true or false, got str 'yes'; "
        "fix the value of 'risky'"
    )


def test_wrong_type_of_id(tmp_path: Path) -> None:
    write(tmp_path, tt(1), tt(True))
    assert only_error(load(tmp_path)) == (
        "suite.jsonl:2: field 'id' must be a string or an integer, got bool True; "
        "fix the value of 'id'"
    )


def test_unknown_task_lists_the_known_ones(tmp_path: Path) -> None:
    write(tmp_path, tt(1), tt(2, task="TX"))
    assert only_error(load(tmp_path)) == (
        f"suite.jsonl:2: unknown task 'TX' in field 'task'; known tasks: {KNOWN_TASKS}"
    )


def test_duplicate_key_names_the_first_line_and_keeps_the_first(tmp_path: Path) -> None:
    write(tmp_path, tt(1, instruction="first"), tt(1, task="TI"), tt("1", instruction="again"))
    suite = load(tmp_path)
    assert [(i.key, i.instruction) for i in suite.instances] == [
        (("1", "TT"), "first"), (("1", "TI"), "hi"),
    ]
    assert only_error(suite) == (
        "suite.jsonl:3: duplicate instance: id '1' with task 'TT' already appears at line 1; "
        "the first is kept. Give each (id, task) pair once (the same id may repeat across tasks)"
    )


def test_mt_needs_exactly_four_turns(tmp_path: Path) -> None:
    write(tmp_path, {"id": 1, "task": "MT", "category": "Hate", "turns": ["a", "b", "c"]})
    assert only_error(load(tmp_path)) == (
        "suite.jsonl:1: task MT needs exactly 4 turns, got 3 in 'turns': ['a', 'b', 'c']; "
        "give one instruction per turn"
    )


def test_single_turn_tasks_take_no_turns(tmp_path: Path) -> None:
    write(tmp_path, tt(1, turns=["a"]))
    assert "task TT is single-turn but 'turns' has 1 entries" in only_error(load(tmp_path))


def test_wrong_number_of_input_images(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    write(tmp_path, {"id": 1, "task": "IC", "category": "Hate", "instruction": "x",
                     "images": ["a.png"]})
    assert only_error(load(tmp_path)) == (
        "suite.jsonl:1: task IC (image composition) takes 2 input image(s), got 1 in "
        "'images'; give exactly 2"
    )


def test_text_only_task_needs_an_instruction(tmp_path: Path) -> None:
    write(tmp_path, tt(1, instruction="  "))
    assert "'instruction' must be a non-empty string, got '  '" in only_error(load(tmp_path))


def test_image_path_escaping_the_suite_folder(tmp_path: Path) -> None:
    (tmp_path / "outside.png").write_bytes(PNG)
    (tmp_path / "suite").mkdir()
    write(tmp_path / "suite", {"id": 1, "task": "MU", "category": "Hate", "instruction": "x",
                               "images": ["../outside.png"]})
    assert only_error(load(tmp_path, "suite/suite.jsonl")) == (
        "suite/suite.jsonl:1: image path '../outside.png' escapes the suite folder 'suite' "
        "(through '..' or a symlink); copy the image inside the suite folder"
    )


def test_missing_image_file(tmp_path: Path) -> None:
    write(tmp_path, {"id": 1, "task": "IE", "category": "Hate", "instruction": "x",
                     "images": ["nope.png"]})
    assert only_error(load(tmp_path)).startswith(
        "suite.jsonl:1: image 'nope.png' does not exist under the suite folder"
    )


def test_line_longer_than_one_megabyte_is_not_parsed(tmp_path: Path) -> None:
    long = b'{"id": "' + b"x" * MAX_LINE_BYTES  # not even valid JSON: never parsed
    write(tmp_path, tt(1), long)
    assert only_error(load(tmp_path)) == (
        f"suite.jsonl:2: line is {len(long):,} bytes, longer than the 1,048,576-byte limit "
        "(not parsed); put images in files and reference them by path"
    )


def test_unknown_field_suggests_the_closest(tmp_path: Path) -> None:
    write(tmp_path, tt(1, categroy="x"))
    assert only_error(load(tmp_path)) == (
        "suite.jsonl:1: unknown field 'categroy'; did you mean 'category'? known fields: id, "
        "task, category, subcategory, instruction, turns, images, target, unsafe_trigger, "
        "risky, twin, taxonomy, intention, metadata, audio, video, media"
    )


def test_tasks_of_the_other_protocol_are_errors(tmp_path: Path) -> None:
    write(tmp_path, tt(1), {"id": 2, "task": "T2I", "category": "Politics", "instruction": "x"})
    assert only_error(load(tmp_path)) == (
        "suite.jsonl:2: task 'T2I' belongs to protocol 'unisafebench', but this suite is "
        "'unisafe' (set by line 1); split the two benchmarks into separate suite files"
    )


def test_header_protocol_rules_every_line(tmp_path: Path) -> None:
    write(tmp_path, {"unisafe_suite": {"protocol": "unisafebench"}}, tt(1))
    suite = load(tmp_path)
    assert suite.protocol == "unisafebench"
    assert "(set by the header)" in only_error(suite)


def test_twin_may_not_be_the_instance_itself(tmp_path: Path) -> None:
    write(tmp_path, tt(1, twin="1"))
    assert "field 'twin' is the instance's own id '1'" in only_error(load(tmp_path))


def test_ids_may_not_contain_node_id_separators(tmp_path: Path) -> None:
    write(tmp_path, tt("a::b"))
    assert "may not contain '::'" in only_error(load(tmp_path))


# --- whole-suite errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "spec", "message"),
    [
        (lambda d: None, "missing.jsonl",
         "missing.jsonl: suite 'missing.jsonl' not found: no such file or directory, and no "
         "built-in suite of that name (built-ins: smoke, smoke-audio); check the path "
         "(a relative path starts where pytest runs for --unisafe-suite, at the rootdir for the "
         "ini key)"),
        (lambda d: (d / "e.jsonl").write_text("\n \n"), "e.jsonl",
         "e.jsonl: suite file is empty; add one JSON object per line (see the suite format "
         "docs)"),
        (lambda d: (d / "h.jsonl").write_text('{"unisafe_suite": {}}\n'), "h.jsonl",
         "h.jsonl: suite file has a header but no instances; add one instance per line after "
         "it"),
        (lambda d: (d / "s.csv").write_text("id,task\n"), "s.csv",
         "s.csv: unknown suite format '.csv': expected a .jsonl file, a Uni-SafeBench "
         "directory, a built-in name or hf:unisafe / hf:unisafebench"),
        (lambda d: (d / "u.jsonl").write_text('{"id": 1, "prompt": "x"}\n'), "u.jsonl",
         "u.jsonl:1: unknown suite format: the first record has neither 'task' (native format) "
         "nor 'scenario_type' (UniSAFE export); its fields are ['id', 'prompt']. Add 'task' to "
         "every line, or check that this is a suite file"),
        (lambda d: (d / "n.jsonl").write_text('{"unisafe_suite": {"name": "a b"}}\n{}\n'),
         "n.jsonl",
         "n.jsonl:1: suite name 'a b' may only contain letters, digits, '_' and '-' (it "
         "appears in node ids); try 'a_b'"),
        (lambda d: (d / "p.jsonl").write_text('{"unisafe_suite": {"protocl": "x"}}\n{}\n'),
         "p.jsonl",
         "p.jsonl:1: unknown header field 'protocl'; did you mean 'protocol'? known fields: "
         "name, protocol, taxonomy, description, version"),
        (lambda d: (d / "plain").mkdir(), "plain",
         "plain: unknown suite format: the directory is not in the Uni-SafeBench layout (no "
         "'T2I/input.jsonl', 'Text Generation/inputs.jsonl', 'VQA/.../input.jsonl'...); pass a "
         ".jsonl file or a Uni-SafeBench folder"),
        (lambda d: None, "hf:other",
         "unknown dataset spec 'hf:other'; use one of hf:unisafe, hf:unisafebench"),
    ],
    ids=["missing", "empty", "header-only", "extension", "format", "name", "header-field",
         "directory", "hf-name"],
)
def test_whole_suite_errors_raise(tmp_path: Path, setup: Any, spec: str, message: str) -> None:
    setup(tmp_path)
    with pytest.raises(SuiteError) as info:
        load(tmp_path, spec)
    assert str(info.value) == message


def test_a_file_of_only_bad_lines_reports_each_line(tmp_path: Path) -> None:
    write(tmp_path, "x", "[1]")
    suite = load(tmp_path)
    assert suite.instances == []
    assert [e.line for e in suite.errors] == [1, 2]


# --- robustness ----------------------------------------------------------------------------------

_fragments = st.sampled_from(
    [b'{"id": 1, "task": "TT", "category": "c", "instruction": "x"}', b'"images": ["',
     b"../", b"\\ud800", b'"turns": [', b"null", b"[[[[", b"1e999", b"9" * 5000, b"\xff",
     b'"task": "MT"', b"{", b"}", b",", b'"', b":", b"\r"]
)
_line = st.one_of(
    st.binary(max_size=200),
    st.lists(_fragments, max_size=12).map(b"".join),
    st.text(alphabet=string.printable, max_size=120).map(str.encode),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=_line.filter(lambda b: b"\n" not in b), first=st.booleans())
def test_arbitrary_bytes_give_instances_or_suite_errors(line: bytes, first: bool) -> None:
    valid = json.dumps(tt("ok")).encode()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "a.png").write_bytes(PNG)
        lines = [line, valid] if first else [valid, line]
        (base / "suite.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        try:
            suite = load(base)
        except SuiteError:
            return
        assert all(isinstance(e, SuiteError) and e.line for e in suite.errors)
        assert len(suite.instances) + len(suite.errors) >= 1


def test_schema_violations_missed_by_the_field_checks_become_suite_errors() -> None:
    from unisafe_pytest.schema import Instance
    from unisafe_pytest.suites.reader import build_checked

    def build(obj: dict[str, Any], line: int) -> Instance:
        return Instance(suite="s", id=obj["id"], task="TT", category="c")

    with pytest.raises(SuiteError) as info:
        build_checked(build, {"id": 5}, 3)
    assert str(info.value) == (
        "record does not fit the instance schema (id: Input should be a valid string); "
        "fix that field"
    )
