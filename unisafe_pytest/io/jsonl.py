"""JSON Lines, read and written in one place, on top of :mod:`jsonlines`.

Reading: a file is read whole through :func:`~unisafe_pytest.io.input_files.read_input_file`
(regular files only, within the size limit), split on ``\\n``, and handed to a
:class:`jsonlines.Reader` whose decoder is :func:`strict_loads`. Every non-blank line gives
either its object or one :class:`~unisafe_pytest.errors.SuiteError` naming file and line, so
one bad line never hides the others: invalid UTF-8 (byte and column), invalid JSON (reason
and column), a line over :data:`MAX_LINE_BYTES` (refused without being decoded or parsed),
a value that is not an object, an unpaired UTF-16 surrogate escape. Suite loaders, replay
files, upstream result files and records files all read through :func:`read_lines`.

Writing: :func:`dumps_line` (one compact-enough JSON line; a lone surrogate, which UTF-8
cannot hold, becomes U+FFFD, never a crash) and :func:`write_jsonl` (atomic file of rows).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast, overload

import jsonlines

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.files import open_temp_beside
from unisafe_pytest.io.input_files import read_input_file

MAX_LINE_BYTES = 1024 * 1024
"""Longest accepted JSONL line (1 MB); longer lines are an error, not parsed."""

T = TypeVar("T")
_SURROGATE = re.compile("[\ud800-\udfff]")


def short_repr(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LineFault(ValueError):
    """Why one line was refused; the message is the one shown (file and line added later)."""


class _Oversize(str):
    """Stands in for a line over :data:`MAX_LINE_BYTES`: never decoded, never parsed."""

    size: int


def _oversize(size: int) -> _Oversize:
    marker = _Oversize("-")
    marker.size = size
    return marker


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _check_size(text: str) -> None:
    if isinstance(text, _Oversize):
        raise LineFault(
            f"line is {text.size:,} bytes, longer than the {MAX_LINE_BYTES:,}-byte limit "
            "(not parsed); put images in files and reference them by path"
        )


def strict_loads(text: str) -> dict[str, Any]:
    """One line's text as a JSON object; anything else raises :class:`LineFault`."""
    _check_size(text)
    try:
        value = json.loads(text)
    except RecursionError:
        raise LineFault("line is nested too deeply to parse; flatten the record") from None
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        column = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise LineFault(
            f"line is not valid JSON ({reason}{column}): {short_repr(text, 60)}; "
            "write exactly one JSON object per line"
        ) from None
    if not isinstance(value, dict):
        raise LineFault(
            f"line is a JSON {type(value).__name__}, not an object: {short_repr(value, 60)}; "
            "write one JSON object per line"
        )
    if "\\u" in text and _has_lone_surrogate(value):
        raise LineFault(
            "line contains an unpaired UTF-16 surrogate escape (\\ud800-\\udfff); "
            "write the character itself or a valid surrogate pair"
        )
    return value


def _describe(cause: BaseException | None) -> str:
    """The message of a line :class:`jsonlines.Reader` refused, from its cause."""
    if isinstance(cause, UnicodeDecodeError):
        byte = cause.object[cause.start:cause.start + 1]
        return (f"line is not valid UTF-8 (byte {byte!r} at column {cause.start + 1}); "
                "save the file as UTF-8")
    return str(cause)


class _Lines:
    """The lines handed to the reader, counted; over-long ones replaced by a marker."""

    def __init__(self, lines: Iterable[bytes]) -> None:
        self._lines = iter(lines)
        self.number = 0

    def __iter__(self) -> Iterator[bytes | str]:
        return self

    def __next__(self) -> bytes | str:
        raw = next(self._lines)
        self.number += 1
        return _oversize(len(raw)) if len(raw) > MAX_LINE_BYTES else raw


Lines = bytes | Iterable[bytes]


@overload
def read_lines(data: Lines, where: str | Path | None = None
               ) -> Iterator[tuple[int, dict[str, Any] | SuiteError]]: ...
@overload
def read_lines(data: Lines, where: str | Path | None, loads: Callable[[str], T],
               describe: Callable[[BaseException | None], str] = ...,
               ) -> Iterator[tuple[int, T | SuiteError]]: ...
def read_lines(data: Lines, where: str | Path | None = None,
               loads: Callable[[str], Any] = strict_loads,
               describe: Callable[[BaseException | None], str] = _describe,
               ) -> Iterator[tuple[int, Any]]:
    """``(line, value)`` for each non-blank line of ``data``; ``(line, error)`` for bad ones.

    ``data`` is a file's bytes (a leading UTF-8 BOM is dropped; lines are split on ``\\n``
    and numbered from 1) or already split lines. ``loads`` turns one line's text into its
    value (default :func:`strict_loads`) and raises ValueError for a bad line; ``describe``
    words the error from its cause. Errors are located at ``where``, line; bad lines do not
    stop the iteration: the caller decides whether one is fatal.
    """
    if isinstance(data, bytes):
        data = (data[3:] if data.startswith(b"\xef\xbb\xbf") else data).split(b"\n")
    lines = _Lines(data)
    reader = jsonlines.Reader(lines, loads=cast(Callable[[str | bytes], Any], loads))
    while True:
        try:
            value = reader.read(skip_empty=True, allow_none=True)
        except EOFError:
            return
        except jsonlines.InvalidLineError as exc:
            yield exc.lineno, SuiteError(describe(exc.__cause__), where, exc.lineno)
            continue
        yield lines.number, value


def parse_line(raw: bytes) -> dict[str, Any]:
    """One line as a JSON object; problems (a blank line too) raise SuiteError without a
    location."""
    for _, value in read_lines([raw]):
        if isinstance(value, SuiteError):
            raise value
        return value
    raise SuiteError("line is blank; write one JSON object per line")


def iter_file_objects(path: Path, display: str | None = None
                      ) -> Iterator[tuple[int, dict[str, Any] | SuiteError]]:
    """``(line, object)`` for each non-blank line of ``path``; ``(line, error)`` for bad ones.

    A file that cannot be read, is not a regular file or is over the size limit raises
    SuiteError (:func:`~unisafe_pytest.io.input_files.read_input_file`).
    """
    where = display or str(path)
    return read_lines(read_input_file(path, where, what="file"), where)


def encodable(text: str) -> str:
    """``text`` with each lone surrogate (which UTF-8 cannot hold) replaced by U+FFFD."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)


def dumps_line(value: Any) -> str:
    """``value`` as one JSON line (no newline), UTF-8 characters kept; never fails on a lone
    surrogate (written as U+FFFD)."""
    return encodable(json.dumps(value, ensure_ascii=False))


def write_jsonl(path: Path | str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows as JSONL atomically (temporary file, then rename); return the count.

    The file's permissions follow the umask (:func:`~unisafe_pytest.io.files.open_temp_beside`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    fd, tmp = open_temp_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            writer = jsonlines.Writer(handle, dumps=dumps_line)
            for row in rows:
                writer.write(row)
                count += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
