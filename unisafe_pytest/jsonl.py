"""Reading JSONL line by line, with one SuiteError per bad line (file and line named).

The single parser of JSONL lines in the project: suite loaders, replay files and upstream
result files all go through :func:`parse_line`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.input_files import read_input_file

MAX_LINE_BYTES = 1024 * 1024
"""Longest accepted JSONL line (1 MB); longer lines are an error, not parsed."""



def short_repr(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def parse_line(raw: bytes) -> dict[str, Any]:
    """One line as a JSON object; problems raise SuiteError without a location."""
    if len(raw) > MAX_LINE_BYTES:
        raise SuiteError(
            f"line is {len(raw):,} bytes, longer than the {MAX_LINE_BYTES:,}-byte limit "
            "(not parsed); put images in files and reference them by path"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SuiteError(
            f"line is not valid UTF-8 (byte {raw[exc.start:exc.start + 1]!r} at column "
            f"{exc.start + 1}); save the file as UTF-8"
        ) from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise SuiteError("line is nested too deeply to parse; flatten the record") from None
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        column = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise SuiteError(
            f"line is not valid JSON ({reason}{column}): {short_repr(text, 60)}; "
            "write exactly one JSON object per line"
        ) from None
    if not isinstance(value, dict):
        raise SuiteError(
            f"line is a JSON {type(value).__name__}, not an object: {short_repr(value, 60)}; "
            "write one JSON object per line"
        )
    if b"\\u" in raw and _has_lone_surrogate(value):
        raise SuiteError(
            "line contains an unpaired UTF-16 surrogate escape (\\ud800-\\udfff); "
            "write the character itself or a valid surrogate pair"
        )
    return value


def iter_file_objects(path: Path, display: str | None = None
                      ) -> Iterator[tuple[int, dict[str, Any] | SuiteError]]:
    """``(line, object)`` for each non-blank line of ``path``; ``(line, error)`` for bad ones.

    Bad lines do not stop the iteration: the caller decides whether one is fatal. A file that
    cannot be read, is not a regular file or is over the size limit raises SuiteError
    (:func:`~unisafe_pytest.input_files.read_input_file`).
    """
    where = display or str(path)
    data = read_input_file(path, where, what="file")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            yield number, parse_line(raw)
        except SuiteError as exc:
            yield number, SuiteError(exc.message, where, number)
