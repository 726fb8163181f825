"""The result of loading a suite: its instances, its per-record errors and its provenance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.schema import Instance

SuiteKind = Literal["native", "unisafe-jsonl", "unisafe-hf", "unisafebench-dir", "unisafebench-hf"]


@dataclass
class LoadedSuite:
    """One loaded suite. Bad records are in ``errors``; the good ones still load."""

    name: str
    """Suite name used in node ids; only ``[A-Za-z0-9_-]``."""
    kind: str
    """Where it came from: one of :data:`SuiteKind`."""
    protocol: Literal["unisafe", "unisafebench"]
    """The benchmark protocol that judges and aggregates it."""
    root: Path | None
    """Folder that image references are relative to (None when there are no files)."""
    instances: list[Instance]
    """The valid instances, in file order."""
    errors: list[SuiteError]
    """One error per bad record, each naming file and 1-based line."""
    files: dict[str, str]
    """Data file (path relative to the suite folder, or a dataset label) → sha256 of its bytes."""
    description: str = ""
    """The native header's ``description``, if any."""
    version: str = ""
    """The native header's ``version``, if any."""
