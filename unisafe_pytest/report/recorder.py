"""Append-only JSONL of records, one file per process, one flushed line per instance."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from unisafe_pytest.schema import Record

GITIGNORE = "# created by unisafe-pytest\n*\n"
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by unisafe-pytest.\n"
)


def ensure_dir(path: Path) -> Path:
    """Make ``path`` (and a .gitignore + CACHEDIR.TAG at the .unisafe root) on first use."""
    path.mkdir(parents=True, exist_ok=True)
    for parent in [path, *path.parents]:
        if parent.name == ".unisafe":
            for name, text in ((".gitignore", GITIGNORE), ("CACHEDIR.TAG", CACHEDIR_TAG)):
                marker = parent / name
                if not marker.exists():
                    write_atomic(marker, text)
            break
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write a whole file so that readers never see half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


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
