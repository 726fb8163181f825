"""Reading a run directory: its records and its protocol block; the run folder's rules.

A run directory holds ``records.jsonl`` (the controller's merged file) or, before the merge,
``records/<run id>.<worker>.jsonl`` (one append-only file per process of one run), and
``protocol.json``. Used by the ``unisafe`` command and by the plugin's controller-side merge.

One folder may be reused (``--unisafe-report-dir``), also by two runs at once: every run
writes only files named for its run id (worker records, worker descriptions, limiter slots)
and merges only those; the top-level outputs (``records.jsonl``, ``summary.json``, ...) are
the last finished run's. A starting run moves an earlier run's top-level outputs to
``previous/<their run id>/``, so a run that dies never leaves another run's summary looking
like its own.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from unisafe_pytest.errors import SuiteError, UnisafeWarning
from unisafe_pytest.io.input_files import read_input_file
from unisafe_pytest.io.jsonl import read_lines
from unisafe_pytest.metrics.counts import dedupe_records
from unisafe_pytest.schema import Record

RECORDS_FILE = "records.jsonl"
WORKER_RECORDS_DIR = "records"
PROTOCOL_FILE = "protocol.json"
WORKERS_DIR = "workers"
LIMITER_DIR = "limiter"
PREVIOUS_DIR = "previous"
OUTPUTS_DIR = "outputs"
"""Images the model generated (``outputs/``), referenced from the records."""
SUMMARY_FILE = "summary.json"
JUDGMENTS_FILE = "judgments.jsonl"
GATES_FILE = "gates.json"
HTML_FILE = "report.html"
OUTPUT_FILES = (PROTOCOL_FILE, SUMMARY_FILE, RECORDS_FILE, JUDGMENTS_FILE, GATES_FILE,
                HTML_FILE)
"""The top-level files a run's controller writes at its end (the protocol first: it names
the run they belong to)."""


def worker_records_file(run_dir: Path, run_id: str, worker: str) -> Path:
    """``records/<run id>.<worker>.jsonl``: one process's records of one run."""
    return run_dir / WORKER_RECORDS_DIR / f"{run_id}.{worker}.jsonl"


def worker_components_file(run_dir: Path, run_id: str, worker: str) -> Path:
    """``workers/<run id>.<worker>.json``: what built one process's records."""
    return run_dir / WORKERS_DIR / f"{run_id}.{worker}.json"


def run_worker_files(folder: Path, run_id: str, suffix: str) -> list[Path]:
    """The files of one run in ``folder`` (``<run id>.<worker><suffix>``), in name order."""
    return sorted(p for p in folder.glob(f"{run_id}.*{suffix}") if p.is_file()
                  and "." not in p.name[len(run_id) + 1:-len(suffix)])


def outputs_dir(run_dir: Path) -> Path:
    """``outputs/``: the images the model generated in this run."""
    return run_dir / OUTPUTS_DIR


def limiter_dir(run_dir: Path, run_id: str) -> Path:
    """``limiter/<run id>/``: the concurrency slots of one run (removed at its end)."""
    return run_dir / LIMITER_DIR / run_id


def retire_outputs(run_dir: Path) -> Path | None:
    """Move an earlier run's top-level outputs to ``previous/<its run id>/``; return where.

    Nothing is deleted. A file another run moves or replaces at the same time is left to it.
    """
    present = [name for name in OUTPUT_FILES if (run_dir / name).is_file()]
    if not present:
        return None
    try:
        protocol = read_protocol(run_dir) or {}
    except SuiteError:
        protocol = {}
    label = str(protocol.get("run_id") or "")
    if not label or not all(c.isalnum() or c in "-_" for c in label):
        label = "unknown-" + time.strftime("%Y%m%d-%H%M%S")
    target = run_dir / PREVIOUS_DIR / label
    target.mkdir(parents=True, exist_ok=True)
    for name in present:
        try:
            os.replace(run_dir / name, target / name)
        except FileNotFoundError:
            continue
    return target


def writable_problem(path: Path) -> str | None:
    """Why the plugin could not write a run folder at ``path`` (``None``: it can).

    Looked at before collection, so a run never pays for calls whose records it cannot keep.
    """
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        return f"{probe} is not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None


def read_records(path: Path | str) -> list[Record]:
    """Read one records JSONL file, in file order (no dedupe); a bad line names file:line.

    See :func:`read_record_lines`.
    """
    return [record for record, _ in read_record_lines(path)]


def read_record_lines(path: Path | str, notes: list[str] | None = None
                      ) -> list[tuple[Record, str]]:
    """Each record of one records JSONL file with its JSON line (no newline), in file order.

    A last line without its newline that does not parse is what a killed process leaves
    behind (records are appended one flushed line at a time): it is skipped, and the skip
    (file and line) is added to ``notes`` or, without ``notes``, warned as a
    :class:`UnisafeWarning`. Any other bad line is an error naming file and line.
    """
    path = Path(path)
    # records files are the plugin's own output: any size (a large run's file is not refused)
    data = read_input_file(path, str(path), what="records file", limit=sys.maxsize)
    last = data.count(b"\n") + 1  # the line with no newline after it
    records: list[tuple[Record, str]] = []
    for number, item in read_lines(data, path, _record, _invalid):
        if not isinstance(item, SuiteError):
            records.append(item)
            continue
        if number == last:  # no newline after it: torn by a kill
            note = (f"{path}:{number}: skipped a torn last record ({item.message}); "
                    "the process that wrote it was probably killed")
            if notes is None:
                warnings.warn(UnisafeWarning(note), stacklevel=2)
            else:
                notes.append(note)
            break
        raise SuiteError(f"not a valid unisafe record ({item.message})", path, number)
    return records


def _record(line: str) -> tuple[Record, str]:
    return Record.model_validate_json(line), line


def _invalid(exc: BaseException | None) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 at byte {exc.start + 1}"
    if not isinstance(exc, ValidationError):
        return str(exc)
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


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
    """The records files of a run directory: ``records.jsonl``, else the worker files of
    its one unmerged run (``records/<run id>.<worker>.jsonl``); several unmerged runs are an
    error naming them (pass one run's files instead)."""
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
    runs = sorted({p.name.split(".")[0] for p in workers if p.name.count(".") >= 2})
    if len(runs) > 1:
        raise SuiteError(
            f"{WORKER_RECORDS_DIR}/ holds the unmerged records of {len(runs)} runs "
            f"({', '.join(runs)}); report one records file at a time, e.g. "
            f"{WORKER_RECORDS_DIR}/{runs[-1]}.main.jsonl",
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
