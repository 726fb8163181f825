"""Property tests of every suite loader: a record or a located error per line, nothing lost.

- ``jsonl.parse_line``: any bytes give a JSON object or a ``SuiteError``;
- the native JSONL loader and the UniSAFE export loader (``suites.load_suite`` on a file);
- the Uni-SafeBench folder loader (``suites.unisafebench.load_directory``).

Whatever the lines hold (valid records, records with fields of the wrong type, unknown fields,
random JSON, random bytes), loading either raises one whole-suite ``SuiteError`` naming the
file, or returns a suite in which every non-blank line (the header aside) is exactly one
instance or one error naming the file and that line.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.jsonl import MAX_LINE_BYTES, parse_line
from unisafe_pytest.schema.tasks import TaskRegistry
from unisafe_pytest.suites import LoadedSuite, load_suite
from unisafe_pytest.suites.unisafebench import LAYOUT, load_directory

TASKS = TaskRegistry()
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=10),
                    st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)
texts = st.text(max_size=30)
task_codes = st.sampled_from(["TT", "TI", "IE", "IC", "MT", "IT", "MU", "TextGen", "T2I",
                              "Edit", "tt", "XX", ""])
image_refs = st.sampled_from(["img.png", "missing.png", "../outside.png", "/etc/hostname",
                              "sub/../img.png", "", ".", "not-an-image.txt", "img.png\x00"])


def maybe(field: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's plausible value most of the time, any JSON value sometimes."""
    return st.one_of(field, field, values)


native_records = st.fixed_dictionaries(
    {"id": maybe(st.one_of(texts, st.integers(0, 5))), "task": maybe(task_codes),
     "category": maybe(st.sampled_from(["Hate", "Violence", ""]))},
    optional={"subcategory": maybe(texts), "instruction": maybe(texts),
              "turns": maybe(st.lists(texts, max_size=5)),
              "images": maybe(st.lists(image_refs, max_size=3)), "target": maybe(texts),
              "risky": maybe(st.booleans()), "twin": maybe(texts),
              "metadata": maybe(st.dictionaries(texts, scalars, max_size=2)),
              "unknown_field": values})
unisafe_records = st.fixed_dictionaries(
    {"id": maybe(st.one_of(texts, st.integers(0, 5))),
     "scenario_type": maybe(task_codes), "category": maybe(texts)},
    optional={"subcategory": maybe(texts), "instruction": maybe(texts),
              "turns": maybe(st.lists(texts, max_size=5)),
              "input_image": maybe(st.one_of(image_refs, st.fixed_dictionaries(
                  {"bytes": st.sampled_from(["iVBORw0KGgo=", "not base64!", ""])}))),
              "input_image_b": maybe(image_refs), "extra_column": values})
bench_records = st.fixed_dictionaries(
    {"id": maybe(st.one_of(texts, st.integers(0, 5))), "prompt": maybe(texts),
     "category": maybe(texts)},
    optional={"image": maybe(image_refs), "intention": maybe(texts), "other": values})
junk_lines = st.one_of(st.binary(max_size=30), values.map(lambda v: json.dumps(v).encode()),
                       st.just(b"\xff\xfe not utf-8"), st.just(b'{"id": "\\ud800"}'),
                       st.just(b"[1, 2]"), st.just(b"{"))
header = st.one_of(st.none(), st.fixed_dictionaries(
    {"unisafe_suite": maybe(st.fixed_dictionaries({}, optional={
        "name": maybe(texts), "protocol": maybe(st.sampled_from(["unisafe", "unisafebench"])),
        "description": texts}))}))


def encode(line: dict[str, Any] | bytes) -> bytes:
    return line if isinstance(line, bytes) else json.dumps(line).encode("utf-8")


def suite_folder(top: Path) -> Path:
    """A folder under ``top`` holding one real PNG and one text file, next to an outside PNG."""
    folder = top / "suite"
    folder.mkdir()
    png = Path(__file__).resolve().parents[1] / "plugin" / "tiny.png"
    (folder / "img.png").write_bytes(png.read_bytes())
    (top / "outside.png").write_bytes(png.read_bytes())
    (folder / "not-an-image.txt").write_text("hello", encoding="utf-8")
    return folder


def file_lines(content: bytes, first_line: int = 1) -> list[int]:
    """Numbers of the non-blank lines of ``content`` (as the loaders count them: a UTF-8
    byte-order mark opening the file is an encoding marker, not content)."""
    content = content.removeprefix(b"\xef\xbb\xbf")
    return [n for n, raw in enumerate(content.split(b"\n"), start=1)
            if raw.strip() and n >= first_line]


def check_accounted(suite: LoadedSuite, lines: list[bytes], display: str,
                    first_line: int) -> None:
    """Every non-blank line from ``first_line`` is one instance or one located error."""
    numbers = file_lines(b"\n".join(lines), first_line)
    seen = sorted([i.source.line or 0 for i in suite.instances if i.source is not None]
                  + [e.line or 0 for e in suite.errors])
    assert seen == numbers, (seen, numbers, [str(e) for e in suite.errors])
    for error in suite.errors:
        assert error.path == display and error.line in numbers, str(error)
        assert str(error).startswith(f"{display}:{error.line}: ")
    keys = [(i.id, i.task) for i in suite.instances]
    assert len(keys) == len(set(keys))


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(st.binary(max_size=80), junk_lines))
def test_parse_line_gives_an_object_or_a_suite_error(raw: bytes) -> None:
    try:
        value = parse_line(raw)
    except SuiteError as exc:
        assert exc.message and exc.path is None
        return
    assert isinstance(value, dict)


def test_parse_line_refuses_a_huge_line_without_parsing_it() -> None:
    raw = b'{"id": "' + b"x" * MAX_LINE_BYTES + b'"}'
    try:
        parse_line(raw)
    except SuiteError as exc:
        assert "longer than" in exc.message
    else:
        raise AssertionError("a line over the limit was parsed")


def _load_file(records: st.SearchStrategy[dict[str, Any]]) -> Callable[..., None]:
    @SETTINGS
    @given(head=header, lines=st.lists(st.one_of(records, records, junk_lines), min_size=1,
                                       max_size=6), blank=st.booleans())
    def check(head: dict[str, Any] | None, lines: list[dict[str, Any] | bytes],
              blank: bool) -> None:
        with tempfile.TemporaryDirectory(prefix="unisafe-prop-") as top:
            check_file(Path(top), head, lines, blank)

    return check


def check_file(top: Path, head: dict[str, Any] | None, lines: list[dict[str, Any] | bytes],
               blank: bool) -> None:
    folder = suite_folder(top)
    raw = ([encode(head)] if head is not None else []) + [encode(x) for x in lines]
    if blank:
        raw.insert(len(raw) // 2, b"   ")
    path = folder / "cases.jsonl"
    path.write_bytes(b"\n".join(raw) + b"\n")
    try:
        suite = load_suite("cases.jsonl", TASKS, base_dir=folder)
    except SuiteError as exc:
        assert exc.path == "cases.jsonl", str(exc)
        return
    has_header = head is not None and len(head) == 1 and "unisafe_suite" in head
    check_accounted(suite, raw, "cases.jsonl", 2 if has_header else 1)
    for instance in suite.instances:
        for media in instance.images:
            assert media.path is None or Path(media.path).is_relative_to(
                folder.resolve()), media.path


test_native_files_account_for_every_line = _load_file(native_records)
test_unisafe_exports_account_for_every_line = _load_file(unisafe_records)


@SETTINGS
@given(files=st.dictionaries(st.sampled_from([rel for rel, _ in LAYOUT]),
                             st.lists(st.one_of(bench_records, bench_records, junk_lines),
                                      min_size=1, max_size=4), min_size=1, max_size=3),
       images_dir=st.booleans())
@example(files={"Text Generation/inputs.jsonl": [b"\xef\xbb\xbf", {"id": "", "prompt": "",
                                                                    "category": ""}]},
         images_dir=False)
def test_unisafebench_folders_account_for_every_line(
    files: dict[str, list[dict[str, Any] | bytes]], images_dir: bool
) -> None:
    with tempfile.TemporaryDirectory(prefix="unisafe-prop-") as top:
        check_folder(Path(top), files, images_dir)


def check_folder(top: Path, files: dict[str, list[dict[str, Any] | bytes]],
                 images_dir: bool) -> None:
    folder = suite_folder(top)
    if images_dir:
        (folder / "images").mkdir()
        (folder / "images" / "img.png").write_bytes((folder / "img.png").read_bytes())
    written: dict[str, list[bytes]] = {}
    for rel, lines in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = [encode(x) for x in lines]
        path.write_bytes(b"\n".join(raw) + b"\n")
        written[rel] = raw
    try:
        suite = load_directory(folder, TASKS, base_dir=folder)
    except SuiteError as exc:
        assert exc.path is not None, str(exc)
        return
    assert set(suite.files) == set(files)
    for rel, raw in written.items():
        numbers = file_lines(b"\n".join(raw))
        seen = sorted([i.source.line or 0 for i in suite.instances
                       if i.source is not None and i.source.file == rel]
                      + [e.line or 0 for e in suite.errors if e.path == rel])
        # a duplicate (id, task) is an error of its own line, so every line is accounted for
        assert seen == numbers, (rel, seen, numbers, [str(e) for e in suite.errors])
    assert all(e.path in written and e.line is not None for e in suite.errors)
