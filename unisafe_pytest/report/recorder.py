"""Append-only JSONL of records, one file per process, one flushed line per instance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from unisafe_pytest.files import ensure_dir, write_atomic
from unisafe_pytest.schema import Record


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


class RecordWriter:
    """Appends records to one file; the file and its folders are made on the first record."""

    def __init__(self, path: Path):
        self.path = path
        self._fh: IO[str] | None = None

    def write(self, record: Record) -> None:
        if self._fh is None:
            ensure_dir(self.path.parent)
            self._fh = self.path.open("a", encoding="utf-8")
        # One write per line, flushed: a killed process leaves at most one torn last line.
        self._fh.write(record.model_dump_json(exclude_none=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
