"""The one JSONL reader and writer (:mod:`unisafe_pytest.io.jsonl`, built on ``jsonlines``).

Every bad line is one error naming file and line, and the good lines around it are kept;
writers put U+FFFD for a lone surrogate instead of crashing (``write_jsonl`` raised
UnicodeEncodeError before it went through ``dumps_line``).
"""

from __future__ import annotations

from pathlib import Path

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.jsonl import MAX_LINE_BYTES, read_lines, write_jsonl


def test_each_bad_line_is_one_located_error_and_the_others_are_read() -> None:
    data = (b'\xef\xbb\xbf{"a": 1}\n\n[1]\n{"b": "\xff"}\n{bad\n'
            + b'{"x": "' + b"y" * MAX_LINE_BYTES + b'"}\n{"s": "\\ud800"}\n{"ok": 2}')
    got = list(read_lines(data, "f.jsonl"))
    assert [n for n, _ in got] == [1, 3, 4, 5, 6, 7, 8]
    assert [got[0][1], got[-1][1]] == [{"a": 1}, {"ok": 2}]
    reasons = ["not an object", "not valid UTF-8", "not valid JSON", "longer than",
               "unpaired UTF-16 surrogate"]
    for (number, error), reason in zip(got[1:-1], reasons, strict=True):
        assert isinstance(error, SuiteError), (number, error)
        assert str(error).startswith(f"f.jsonl:{number}: ") and reason in error.message


def test_write_jsonl_writes_a_lone_surrogate_as_replacement(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    assert write_jsonl(path, [{"k\ud800": "v\udfff"}, {"n": 1}]) == 2
    assert path.read_text(encoding="utf-8") == '{"k\ufffd": "v\ufffd"}\n{"n": 1}\n'
    assert [v for _, v in read_lines(path.read_bytes())] == [{"k\ufffd": "v\ufffd"}, {"n": 1}]
