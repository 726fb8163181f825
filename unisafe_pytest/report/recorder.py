"""Append-only JSONL of records, one file per process, one flushed line per instance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from pydantic_core import PydanticSerializationError

from unisafe_pytest.io.files import ensure_dir, write_atomic
from unisafe_pytest.io.jsonl import dumps_line, encodable
from unisafe_pytest.schema import Record


def write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False)
    write_atomic(path, encodable(text) + "\n")


def record_line(record: Record) -> str:
    """A record as one JSON line; a string UTF-8 cannot hold (a lone surrogate from a reply)
    is written with U+FFFD in its place, never a crash."""
    try:
        return record.model_dump_json(exclude_none=False)
    except PydanticSerializationError:
        return dumps_line(record.model_dump(mode="json", exclude_none=False))


class RecordWriter:
    """Appends records to one file; the file and its folders are made on the first record.

    It also keeps the lines it wrote, so the controller's merge need not read its own file
    back. Lines, not records: strings cost the garbage collector nothing, while thousands of
    live pydantic records slow every full collection of the run.
    """

    def __init__(self, path: Path):
        self.path = path
        self._fh: IO[str] | None = None
        self._written: list[str] = []
        self._appended = False

    def write(self, record: Record) -> None:
        if self._fh is None:
            ensure_dir(self.path.parent)
            self._appended = self.path.is_file() and self.path.stat().st_size > 0
            self._fh = self.path.open("a", encoding="utf-8")
            if self._appended and not self._ends_with_newline():
                self._fh.write("\n")  # after a torn line: it stays a line of its own
        line = record_line(record)
        # One write per line, flushed: a killed process leaves at most one torn last line.
        self._fh.write(line + "\n")
        self._fh.flush()
        self._written.append(line)

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as fh:
            fh.seek(-1, 2)
            return fh.read(1) == b"\n"

    @property
    def written(self) -> int:
        """Records written so far by this writer."""
        return len(self._written)

    def contents(self) -> list[str] | None:
        """The file's JSON lines (no newlines), when this writer wrote all of them (``None``
        when it appended to an earlier run's file: read the file instead)."""
        return None if self._appended else list(self._written)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
