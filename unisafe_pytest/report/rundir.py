"""Reading a run directory: its records and its protocol block.

A run directory holds ``records.jsonl`` (the controller's merged file) or, before the merge,
``records/*.jsonl`` (one append-only file per worker), and ``protocol.json``. Used by the
``unisafe`` command and by the plugin's controller-side merge.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from unisafe_pytest.errors import SuiteError, UnisafeWarning
from unisafe_pytest.metrics.counts import dedupe_records
from unisafe_pytest.schema import Record

RECORDS_FILE = "records.jsonl"
WORKER_RECORDS_DIR = "records"
PROTOCOL_FILE = "protocol.json"


def read_records(path: Path | str) -> list[Record]:
    """Read one records JSONL file, in file order (no dedupe); a bad line names file:line.

    See :func:`read_record_lines`.
    """
    return [record for record, _ in read_record_lines(path)]


def read_record_lines(path: Path | str) -> list[tuple[Record, str]]:
    """Each record of one records JSONL file with its JSON line (no newline), in file order.

    A last line without its newline that does not parse is what a killed worker leaves
    behind (records are appended one flushed line at a time): it is skipped with a
    :class:`UnisafeWarning`. Any other bad line is an error.
    """
    path = Path(path)
    records: list[tuple[Record, str]] = []
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"cannot read the records file: {exc.strerror or exc}", path) from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append((Record.model_validate_json(line), line.rstrip("\n")))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                detail = f"{where}: {first['msg']}" if where else first["msg"]
                if not line.endswith("\n"):
                    warnings.warn(
                        UnisafeWarning(
                            f"{path}:{number}: skipped a torn last record ({detail}); "
                            "the process that wrote it was probably killed"
                        ),
                        stacklevel=2,
                    )
                    break
                raise SuiteError(f"not a valid unisafe record ({detail})", path, number) from exc
    return records


def read_protocol(path: Path | str) -> dict[str, Any] | None:
    """The ``protocol.json`` of a run directory, or ``None`` when it has none."""
    path = Path(path)
    if path.is_dir():
        path = path / PROTOCOL_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteError(f"not valid JSON: {exc.msg}", path, exc.lineno) from exc
    if not isinstance(data, dict):
        raise SuiteError(f"expected a JSON object, got {type(data).__name__}", path)
    return data


def record_files(path: Path | str) -> list[Path]:
    """The records files of a run directory: ``records.jsonl``, else ``records/*.jsonl``."""
    path = Path(path)
    merged = path / RECORDS_FILE
    if merged.is_file():
        return [merged]
    workers = sorted((path / WORKER_RECORDS_DIR).glob("*.jsonl"))
    if not workers:
        raise SuiteError(
            f"no {RECORDS_FILE} and no {WORKER_RECORDS_DIR}/*.jsonl here: is this a "
            "unisafe run directory? (runs are written under .unisafe/runs/ by default)",
            path,
        )
    return workers


def read_run_dir(path: Path | str) -> tuple[list[Record], dict[str, Any] | None]:
    """Records of a run directory, deduplicated, and its protocol block (if any).

    Files are read in name order and the last line of each key ``(model, suite, id, task,
    sample)`` wins.
    """
    path = Path(path)
    records: list[Record] = []
    for file in record_files(path):
        records.extend(read_records(file))
    return dedupe_records(records), read_protocol(path)
