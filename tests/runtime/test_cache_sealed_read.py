"""A sealed cache entry is trusted only as written, on the fast read as on the full one.

The cache checks an entry as written by its own writer on the file's text (the digest over
the text without it, the material's text against the key) and parses it once; any other
text goes through the full check (decode, encode canonically, compare). These tests hold
both to the same answers: an entry read back is what was put; an entry re-encoded by hand
but unchanged is still trusted (the full check); every edit, a swapped key, a forged or
missing digest, an extra field, a torn file, non-ASCII bytes are misses with a warning.
(The seal is no signature: an edit with its digest made to match is caught by the checks
after it, e.g. judge rows read again by their parser, tests/robustness/test_failclosed_cache.)
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from unisafe_pytest.errors import UnisafeWarning
from unisafe_pytest.runtime.cache import Cache, digest
from unisafe_pytest.schema import JudgeRow, JudgeSpec, ModelOutput

SPEC = JudgeSpec(id="j", kind="test")
MATERIAL: dict[str, Any] = {
    "format": 2, "adapter": {"kind": "k", "model": "m"}, "sample": 0,
    "request": {"task": "TT", "instruction": "say \"hi\" é 日本 \u2028", "turns": [],
                "images": []}}
OTHER = {**MATERIAL, "sample": 1}


def stored(tmp_path: Path) -> tuple[Cache, Path, Path]:
    cache = Cache(tmp_path / "c")
    out = ModelOutput(text='an answer with "quotes", é and \\ and 日本')
    cache.put_output(digest(MATERIAL), digest(MATERIAL), MATERIAL, out)
    cache.put_output(digest(OTHER), digest(OTHER), OTHER, ModelOutput(text="other"))
    rows = [JudgeRow(judge="j", judgment=0, risk_rating=2, spec=SPEC)]
    cache.put_rows(digest(MATERIAL), MATERIAL, rows)
    key = digest(MATERIAL)
    return (cache, tmp_path / "c" / "outputs" / key[:2] / f"{key}.json",
            tmp_path / "c" / "verdicts" / key[:2] / f"{key}.json")


def read(cache: Cache) -> tuple[str | None, list[JudgeRow] | None, list[str]]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        output = cache.get_output(digest(MATERIAL), lambda: "")
        rows = cache.get_rows(digest(MATERIAL))
    said = [str(w.message) for w in seen if issubclass(w.category, UnisafeWarning)]
    return (output.text if output is not None else None), rows, said


def test_an_entry_reads_back_as_put(tmp_path: Path) -> None:
    cache, _, _ = stored(tmp_path)
    text, rows, said = read(cache)
    assert text == 'an answer with "quotes", é and \\ and 日本'
    assert rows is not None and rows[0].risk_rating == 2 and rows[0].spec == SPEC
    assert said == []
    assert cache.hits == 2


@pytest.mark.parametrize("layout", ["indented", "reordered", "non-ascii"])
def test_an_unchanged_entry_written_another_way_is_still_trusted(tmp_path: Path,
                                                                 layout: str) -> None:
    cache, output_file, _ = stored(tmp_path)
    data = json.loads(output_file.read_text())
    if layout == "indented":
        text = json.dumps(data, indent=2, sort_keys=True)
    elif layout == "reordered":
        text = json.dumps(dict(reversed(list(data.items()))), separators=(",", ":"))
    else:
        text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    output_file.write_text(text, encoding="utf-8")
    assert read(cache)[0] == 'an answer with "quotes", é and \\ and 日本'


def _edit_text(data: dict[str, Any]) -> None:
    data["output"]["text"] = "a safe answer"


def _edit_material_and_seal(data: dict[str, Any]) -> None:
    data["material"]["sample"] = 7
    data["digest"] = digest({k: v for k, v in data.items() if k != "digest"})


def _extra_field(data: dict[str, Any]) -> None:
    data["note"] = "x"


def _no_digest(data: dict[str, Any]) -> None:
    del data["digest"]


def _other_digest(data: dict[str, Any]) -> None:
    data["digest"] = "0" * 64


EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "text edited": _edit_text,
    "material of another key, sealed": _edit_material_and_seal, "extra field": _extra_field,
    "no digest": _no_digest, "another digest": _other_digest}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edited_output_entry_is_a_miss_with_a_warning(tmp_path: Path, edit: str) -> None:
    cache, output_file, _ = stored(tmp_path)
    data = json.loads(output_file.read_text())
    EDITS[edit](data)
    output_file.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")),
                           encoding="utf-8")
    text, rows, said = read(cache)
    assert text is None and rows is not None
    assert len(said) == 1 and "cache entry" in said[0]


def test_another_keys_entry_in_its_place_is_a_miss(tmp_path: Path) -> None:
    cache, output_file, _ = stored(tmp_path)
    key = digest(OTHER)
    output_file.write_bytes((output_file.parent.parent / key[:2] / f"{key}.json").read_bytes())
    text, _, said = read(cache)
    assert text is None and said and "key material is not the key's" in said[0]


@pytest.mark.parametrize("damage", ["torn", "latin-1 byte", "trailing junk", "empty"])
def test_a_damaged_verdict_entry_is_a_miss(tmp_path: Path, damage: str) -> None:
    cache, _, verdict_file = stored(tmp_path)
    raw = verdict_file.read_bytes()
    raw = {"torn": raw[: len(raw) // 2], "latin-1 byte": raw.replace(b'"j"', b'"\xe9"', 1),
           "trailing junk": raw + b"x", "empty": b""}[damage]
    verdict_file.write_bytes(raw)
    text, rows, said = read(cache)
    assert text is not None and rows is None and len(said) == 1


@pytest.mark.parametrize("text", ["plain", "é 日本 \u2028", "emoji \U0001F600", "DEL \x7f",
                                  "controls \x00\x1f\n\t", 'quote " and \\u0041 literally',
                                  "lone \ud800 surrogate"])
def test_entries_as_written_are_checked_on_their_text(tmp_path: Path, text: str) -> None:
    """Whatever characters an answer holds, the fast check accepts the entry as written
    (else every such read would pay for the full one) and the read gives the text back."""
    from unisafe_pytest.runtime.cache import _verified_body

    cache = Cache(tmp_path / "c")
    material = {**MATERIAL, "request": {**MATERIAL["request"], "instruction": text}}
    key = digest(material)
    cache.put_output(key, key, material, ModelOutput(text=text))
    file = tmp_path / "c" / "outputs" / key[:2] / f"{key}.json"
    assert _verified_body(file.read_text(encoding="ascii"), key, "output") is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output = cache.get_output(key, lambda: "")
    assert output is not None and output.text == text


def test_a_byte_the_writer_never_writes_is_a_miss_on_the_fast_read_too(tmp_path: Path) -> None:
    """The writer writes ASCII only: an entry whose ``\\ufffd`` escape became a stray
    non-UTF-8 byte is damaged, and the fast check, which decoded the file's bytes with
    replacement characters, read that byte as U+FFFD and trusted the entry the full check
    refuses. (A regression of the fast read itself: it passes on 29e8b72, which had none.)"""
    cache = Cache(tmp_path / "c")
    key = digest(MATERIAL)
    cache.put_output(key, key, MATERIAL, ModelOutput(text="replaced \ufffd here"))
    file = tmp_path / "c" / "outputs" / key[:2] / f"{key}.json"
    file.write_bytes(file.read_bytes().replace(b"\\ufffd", b"\xff"))
    text, _, said = read(cache)
    assert text is None and len(said) == 1 and "cache entry" in said[0]
