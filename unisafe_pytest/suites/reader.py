"""Reading JSONL suite files line by line, with one :class:`SuiteError` per bad line.

Shared by every JSONL-based loader. A file is read once as bytes (its sha256 goes into the
run's provenance), split on ``\\n``, and parsed by the project's one JSONL reader
(:func:`unisafe_pytest.io.jsonl.read_lines`), so one bad line never hides the others.
The file itself must be a regular file within the input size limit
(:func:`~unisafe_pytest.io.input_files.read_input_file`): a FIFO, a device or a huge file is a
whole-suite error, never a hang or a read of everything.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.input_files import read_input_file
from unisafe_pytest.io.jsonl import read_lines
from unisafe_pytest.schema import Instance


def display_path(path: Path, base_dir: Path) -> str:
    """How a file is named in messages: relative to ``base_dir`` when inside it."""
    try:
        return os.path.relpath(path, base_dir) if path.is_relative_to(base_dir) else str(path)
    except ValueError:
        return str(path)


@dataclass
class JsonlFile:
    """The non-blank lines of one JSONL file, with the file's hash."""

    path: Path
    display: str
    sha256: str
    lines: list[tuple[int, bytes]]
    """``(1-based line number, raw bytes)`` of every non-blank line."""
    raw_lines: list[bytes]
    """Every line of the file, blank ones too (``raw_lines[n - 1]`` is line ``n``)."""


def read_jsonl(path: Path, display: str) -> JsonlFile:
    """Read a JSONL file; whole-file problems (missing, unreadable, not a regular file, over
    the size limit, empty) raise SuiteError."""
    data = read_input_file(path, display)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    raw_lines = data.split(b"\n")
    lines = [(number, raw) for number, raw in enumerate(raw_lines, start=1) if raw.strip()]
    if not lines:
        raise SuiteError(
            "suite file is empty; add one JSON object per line (see the suite format docs)",
            display,
        )
    return JsonlFile(path, display, hashlib.sha256(data).hexdigest(), lines, raw_lines)


def iter_objects(
    file: JsonlFile, start: int = 0
) -> Iterator[tuple[int, dict[str, Any] | SuiteError]]:
    """``(line, object)`` for each non-blank line from index ``start`` of ``file.lines``;
    ``(line, error)`` for bad ones."""
    if start >= len(file.lines):
        return
    first = file.lines[start][0]  # lines before it are handed on blank: skipped, still counted
    yield from read_lines([b""] * (first - 1) + file.raw_lines[first - 1:], file.display)


Builder = Callable[[dict[str, Any], int], Instance]
"""Turns one parsed record (and its line number) into an Instance, or raises SuiteError."""


@dataclass
class RecordSink:
    """Collects instances and per-record errors; keeps the first of duplicate keys."""

    instances: list[Instance] = field(default_factory=list)
    errors: list[SuiteError] = field(default_factory=list)
    _first: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)

    def add(self, instance: Instance, display: str, line: int) -> None:
        """Keep ``instance`` unless its ``(id, task)`` was seen; then record an error."""
        key = (instance.id, instance.task)
        first = self._first.get(key)
        if first is not None:
            where = f"line {first[1]}" if first[0] == display else f"{first[0]}:{first[1]}"
            self.errors.append(
                SuiteError(
                    f"duplicate instance: id {instance.id!r} with task {instance.task!r} "
                    f"already appears at {where}; the first is kept. Give each (id, task) "
                    "pair once (the same id may repeat across tasks)",
                    display,
                    line,
                )
            )
            return
        self._first[key] = (display, line)
        self.instances.append(instance)

    def load(self, file: JsonlFile, build: Builder, start: int = 0) -> None:
        """Run ``build`` on each line of ``file`` from index ``start``."""
        for number, obj in iter_objects(file, start):
            if isinstance(obj, SuiteError):
                self.errors.append(obj)
                continue
            try:
                instance = build_checked(build, obj, number)
            except SuiteError as exc:
                self.errors.append(SuiteError(exc.message, file.display, number))
                continue
            self.add(instance, file.display, number)


def build_checked(build: Builder, obj: dict[str, Any], line: int) -> Instance:
    """``build(obj, line)``; a schema violation the field checks missed becomes a SuiteError."""
    try:
        return build(obj, line)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SuiteError(
            f"record does not fit the instance schema ({where}: {first['msg']}); "
            "fix that field"
        ) from None
