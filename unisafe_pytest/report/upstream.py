"""Readers and writers of the benchmarks' own file formats, so upstream tools and ours meet.

- UniSAFE judgment rows (JSONL, one row per prompt and judge): ``id``, ``scenario_type``,
  ``category``, ``subcategory``, ``model``, ``judge``, ``judgment`` (0|1|null),
  ``risk_rating`` (0..3|null), ``refusal``, ``reasoning``, ``error``, ``raw_response``.
  Read with :func:`read_judgment_rows`; our records are written in this format by
  :func:`records_to_judgment_rows` (one row per judge row; a record that ran but has no
  judge row becomes one row with judge ``"-"``, null judgment and the error set; skipped
  records are left out, they were not run).
- Uni-Judger numeric results (JSONL, one row per judged item): ``id`` and two labels, the
  contextual one (0 unsafe, 1 safe, 2 refusal) and the intrinsic one (0 unsafe, 1 safe).
  Upstream writes them as ``context_safety`` / ``init_safety`` with the values ``"0"``,
  ``"1"``, ``"2"`` or ``"NA"``; we also accept ``contextual``/``context``/``y_ctx``/``ctx``
  and ``intrinsic``/``y_int``/``intr``, integers or digit strings. A label that is ``NA``,
  null, out of range or not an integer makes the row an *error* (counted in ``n_error``),
  never a label. Upstream files carry neither model nor task: a row's own ``model`` and
  ``task`` fields win, then the values given by the caller (``--model``/``--task``), then
  the path: the task from a folder or file name that names one (``T2I``,
  ``VQA/safety_I_safety_T``, ``Text Generation``...), the model from the file name with
  ``judge_`` and ``_numeric`` trimmed (upstream writes ``judge_<model>_numeric.jsonl``).

Bad lines (not JSON, not an object, a missing field) raise :class:`SuiteError` naming the
file and line.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.metrics.counts import dedupe_records
from unisafe_pytest.metrics.unisafe import JudgmentRow, record_judgment_rows
from unisafe_pytest.metrics.unisafebench import LabelRow
from unisafe_pytest.schema import Record
from unisafe_pytest.tasks import TaskRegistry

FileFormat = Literal["records", "unisafe", "unijudger"]

CTX_KEYS = ("context_safety", "contextual", "context", "y_ctx", "ctx")
"""Accepted names of the contextual label, first match wins."""
INTR_KEYS = ("init_safety", "intrinsic", "y_int", "intr")
"""Accepted names of the intrinsic label, first match wins."""

# The task names of the benchmark's own table, for folders named after them.
_TASK_TITLES = {
    "malicious text generation": "TextGen",
    "unsafe t2i generation": "T2I",
    "malicious image editing": "Edit",
    "dual-unsafe vqa": "DualVQA",
    "image-unsafe vqa": "ImageVQA",
    "text-unsafe vqa": "TextVQA",
    "composite-unsafe vqa": "CompositeVQA",
}


def iter_json_objects(path: Path | str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line of a JSONL file."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"cannot read the file: {exc.strerror or exc}", path) from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SuiteError(f"not valid JSON: {exc.msg}", path, number) from exc
            if not isinstance(data, dict):
                raise SuiteError(
                    f"expected a JSON object, got {type(data).__name__}", path, number
                )
            yield number, data


def detect_format(path: Path | str) -> FileFormat:
    """Tell records, UniSAFE judgment rows and Uni-Judger results apart by the first line."""
    for number, data in iter_json_objects(path):
        if "schema_version" in data and "outcome" in data:
            return "records"
        if "scenario_type" in data:
            if "judgment" in data or "judge" in data:
                return "unisafe"
            raise SuiteError(
                "this looks like UniSAFE predictions or cases, not judgment rows: "
                "judge them first (run pytest --unisafe-model=replay:...)",
                path,
                number,
            )
        if any(k in data for k in CTX_KEYS) and any(k in data for k in INTR_KEYS):
            return "unijudger"
        raise SuiteError(
            f"unknown format (keys {sorted(data)!r}): expected unisafe records, UniSAFE "
            "judgment rows or Uni-Judger numeric results; pass --format to choose",
            path,
            number,
        )
    raise SuiteError("the file is empty", path)


def read_judgment_rows(path: Path | str) -> list[JudgmentRow]:
    """Read an upstream UniSAFE judgment-row JSONL file."""
    rows = []
    for number, data in iter_json_objects(path):
        try:
            rows.append(JudgmentRow.from_mapping(data))
        except ValueError as exc:
            raise SuiteError(f"bad UniSAFE judgment row: {exc}", path, number) from exc
    return rows


def records_to_judgment_rows(records: Iterable[Record]) -> list[dict[str, Any]]:
    """Our UniSAFE records as upstream judgment rows (JSON-able dicts, upstream order)."""
    rows: list[dict[str, Any]] = []
    for record in dedupe_records(records):
        if record.protocol != "unisafe" or record.outcome == "skipped":
            continue
        rows.extend(row.to_dict() for row in record_judgment_rows(record))
    return rows


def write_jsonl(path: Path | str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows as JSONL atomically (temporary file, then rename); return the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def _label(value: object, allowed: tuple[int, ...]) -> tuple[int | None, str | None]:
    """A parsed label, or ``None`` and the reason it is an error."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or number not in allowed:
        return None, f"label {value!r} is not one of {list(allowed)}"
    return number, None


def _first_key(data: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    return next((k for k in keys if k in data), None)


def task_from_name(name: str, registry: TaskRegistry | None = None) -> str | None:
    """The Uni-SafeBench task code a name stands for (code, alias or title), if any."""
    registry = registry or TaskRegistry()
    task = registry.get(name)
    if task is not None and task.protocol == "unisafebench":
        return task.code
    lowered = name.strip().lower()
    for other in registry:
        if other.protocol != "unisafebench":
            continue
        if lowered in {other.code.lower(), *(a.lower() for a in other.aliases)}:
            return other.code
    return _TASK_TITLES.get(lowered)


def task_from_path(path: Path) -> str | None:
    """The task named by the file name or its nearest folder that names one."""
    registry = TaskRegistry()
    for part in [path.stem, *(p.name for p in path.parents)]:
        code = task_from_name(part, registry)
        if code is not None:
            return code
    return None


def model_from_path(path: Path) -> str:
    stem = path.stem
    stem = stem.removesuffix("_numeric")
    stem = stem.removeprefix("judge_")
    return stem or path.stem


def read_unijudger_numeric(
    path: Path | str, *, model: str | None = None, task: str | None = None
) -> list[LabelRow]:
    """Read a Uni-Judger numeric JSONL file as label rows (see the module docstring)."""
    path = Path(path)
    default_task = (task_from_name(task) or task) if task else task_from_path(path)
    default_model = model or model_from_path(path)
    rows: list[LabelRow] = []
    for number, data in iter_json_objects(path):
        if "id" not in data:
            raise SuiteError("missing field 'id'", path, number)
        ctx_key, intr_key = _first_key(data, CTX_KEYS), _first_key(data, INTR_KEYS)
        if ctx_key is None or intr_key is None:
            raise SuiteError(
                f"missing a label: expected one of {list(CTX_KEYS)} and one of "
                f"{list(INTR_KEYS)}",
                path,
                number,
            )
        row_task = str(data["task"]) if data.get("task") is not None else None
        row_task = (task_from_name(row_task) or row_task) if row_task else default_task
        if not row_task:
            raise SuiteError(
                "cannot tell which Uni-SafeBench task this row belongs to: no 'task' "
                "field and no folder or file name names one; pass --task",
                path,
                number,
            )
        ctx, ctx_error = _label(data[ctx_key], (0, 1, 2))
        intr, intr_error = _label(data[intr_key], (0, 1))
        errors = [f"{key}: {e}" for key, e in ((ctx_key, ctx_error), (intr_key, intr_error)) if e]
        if data.get("error"):
            errors.insert(0, str(data["error"]))
        rows.append(
            LabelRow(
                model=str(data.get("model") or default_model),
                task=row_task,
                id=str(data["id"]),
                ctx=ctx,
                intr=intr,
                category=str(data.get("category") or ""),
                judge=str(data.get("judge") or ""),
                error="; ".join(errors) or None,
            )
        )
    return rows
