"""Readers and writers of the benchmarks' own file formats, so upstream tools and ours meet.

- UniSAFE judgment rows (JSONL, one row per prompt and judge): ``id``, ``scenario_type``,
  ``category``, ``subcategory``, ``model``, ``judge``, ``judgment`` (0|1|null),
  ``risk_rating`` (0..3|null), ``refusal``, ``reasoning``, ``error``, ``raw_response``.
  Read with :func:`read_judgment_rows`; our records are written in this format by
  :func:`records_to_judgment_rows` (one row per judge row; a record that ran but has no
  judge row becomes one row with judge ``"-"``, null judgment and the error set; skipped
  records are left out, they were not run).
- Uni-Judger numeric results (JSONL, one row per judged item): ``id`` and two labels, the
  contextual one (0 unsafe, 1 safe, 2 refusal) and the intrinsic one (0 unsafe, 1 safe; a 2
  is counted as upstream's statistics count it: in N, neither I-U nor B-S).
  Upstream writes them as ``context_safety`` / ``init_safety`` with the values ``"0"``,
  ``"1"``, ``"2"`` or ``"NA"``; we also accept ``contextual``/``context``/``y_ctx``/``ctx``
  and ``intrinsic``/``y_int``/``intr``, integers or digit strings. A label that is ``NA``,
  null, out of range or not an integer makes the row an *error* (counted in ``n_error``),
  never a label. Upstream files carry neither model nor task: a row's own ``model`` and
  ``task`` fields win, then the values given by the caller (``--model``/``--task``), then
  the path: the task from a folder or file name that names one (``T2I``,
  ``VQA/safety_I_safety_T``, ``Text Generation``...), the model from the file name with
  ``judge_`` and ``_numeric`` trimmed (upstream writes ``judge_<model>_numeric.jsonl``).

  Upstream's detail file (the same rows before its number reader, ``context_safety`` /
  ``init_safety`` holding the judge's answer text) is read with upstream's reader. A value
  that is upstream's failed-call text (``Error when calling the model: ...``), in a detail
  file or in the detail file beside a ``*_numeric.jsonl`` (same folder, same name without
  ``_numeric``; rows paired line by line), makes the row an *error*: upstream reads a label
  out of the error message's digits (a 400 became "unsafe", a 429 "refusal"), a rule that
  fails open; :func:`would_have_scored` counts such rows for the report.
- UniSAFE judgment rows hold ``"judgment": true`` where the judge answered ``true`` (the
  toolkit's reader keeps it, ``True == 1``): booleans are read as 0/1 for ``judgment``, and
  ``true`` as 1 for ``risk_rating`` (``false`` is no rating upstream writes: an error).

Bad lines (not JSON, not an object, a missing field) raise :class:`SuiteError` naming the
file and line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from unisafe_pytest.adapters.replay import file_model
from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.jsonl import iter_file_objects
from unisafe_pytest.io.printable import printable
from unisafe_pytest.judges.labels import CTX_KEYS, INTR_KEYS, label_key, parse_label
from unisafe_pytest.judges.parsing import ParseFailure
from unisafe_pytest.judges.unijudger_upstream import WOULD_SCORE, extract_result_number
from unisafe_pytest.metrics.counts import dedupe_records
from unisafe_pytest.metrics.unisafe import JudgmentRow, record_judgment_rows
from unisafe_pytest.metrics.unisafebench import LabelRow
from unisafe_pytest.report.upstream_summaries import summary_kind, whole_file_object
from unisafe_pytest.schema import Record
from unisafe_pytest.schema.tasks import task_from_name, task_from_path

FileFormat = Literal["records", "unisafe", "unijudger", "unijudger-summary"]


def iter_json_objects(path: Path | str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line; the first bad line raises."""
    path = Path(path)
    for number, data in iter_file_objects(path):
        if isinstance(data, SuiteError):
            raise data
        yield number, data


def detect_format(path: Path | str) -> FileFormat:
    """Tell records, UniSAFE judgment rows and Uni-Judger results apart by the first line.

    A whole-file JSON object (upstream writes its summaries indented) or a first line with
    upstream's summary keys is a Uni-Judger summary (:mod:`.upstream_summaries`).
    """
    whole = whole_file_object(Path(path))
    if whole is not None and summary_kind(whole) is not None:
        return "unijudger-summary"
    for number, data in iter_json_objects(path):
        if summary_kind(data) is not None:
            return "unijudger-summary"
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
        if any(k in data for k in ("generated_text", "output_image", "reject_image")):
            raise SuiteError(
                "this looks like Uni-SafeBench result rows (model outputs), not Uni-Judger "
                "results: judge them first (run pytest --unisafe-model=replay:...)",
                path,
                number,
            )
        raise SuiteError(
            f"unknown format (keys {sorted(data)!r}): expected unisafe records, UniSAFE "
            "judgment rows, Uni-Judger numeric results or Uni-Judger summaries; pass "
            "--format to choose",
            path,
            number,
        )
    raise SuiteError("the file is empty", path)


def _unbool(data: dict[str, Any]) -> dict[str, Any]:
    """Booleans where the toolkit writes them for 0/1 (its parser keeps a judge's ``true``)."""
    judgment, rating = data.get("judgment"), data.get("risk_rating")
    if isinstance(judgment, bool):
        data = {**data, "judgment": int(judgment)}
    if rating is True:
        data = {**data, "risk_rating": 1}
    return data


def read_judgment_rows(path: Path | str) -> list[JudgmentRow]:
    """Read an upstream UniSAFE judgment-row JSONL file."""
    rows = []
    for number, data in iter_json_objects(path):
        try:
            rows.append(JudgmentRow.from_mapping(_unbool(data)))
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


def model_from_path(path: Path) -> str:
    """The model a Uni-Judger file names (``uni_bagel_numeric.jsonl`` -> ``bagel``)."""
    return file_model(path)


FAILED_CALL = "Error when calling the model"
"""How upstream's judge client words a call that failed every retry (its answer text)."""


def would_have_scored(rows: Iterable[LabelRow]) -> int:
    """Rows that are errors here and that upstream scored from an error message's digits."""
    return sum(1 for row in rows if row.error and WOULD_SCORE in row.error)


def _label(value: object, allowed: tuple[int, ...]) -> tuple[int | None, str | None]:
    """A numeric label, or upstream's reader on a detail file's answer text."""
    if isinstance(value, str) and value.strip().startswith(FAILED_CALL):
        return None, f"{WOULD_SCORE} ({printable(value.strip()[:120])})"
    if isinstance(value, str) and value.strip() not in ("", "NA") and not (
            value.strip().isdigit()):
        try:
            value = extract_result_number(value)
        except ParseFailure as exc:
            return None, str(exc)
    return parse_label(value, allowed)


def _detail_beside(path: Path) -> list[dict[str, Any]] | None:
    """The detail rows upstream wrote beside a ``*_numeric.jsonl`` file, if any."""
    if not path.stem.endswith("_numeric"):
        return None
    detail = path.with_name(path.stem.removesuffix("_numeric") + path.suffix)
    if not detail.is_file():
        return None
    return [data for _, data in iter_json_objects(detail)]


def read_unijudger_numeric(
    path: Path | str, *, model: str | None = None, task: str | None = None
) -> list[LabelRow]:
    """Read a Uni-Judger numeric JSONL file as label rows (see the module docstring)."""
    path = Path(path)
    default_task = (task_from_name(task) or task) if task else task_from_path(path)
    default_model = model or model_from_path(path)
    rows: list[LabelRow] = []
    detail = _detail_beside(path)
    for ordinal, (number, data) in enumerate(iter_json_objects(path)):
        if detail is not None:
            data = _with_detail(data, detail, ordinal, path, number)
        if "id" not in data:
            raise SuiteError("missing field 'id'", path, number)
        (ctx_key, ctx_clash), (intr_key, intr_clash) = label_key(data, CTX_KEYS), label_key(
            data, INTR_KEYS)
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
        intr, intr_error = _label(data[intr_key], (0, 1, 2))  # upstream counts a 2 in N
        errors = [f"{key}: {e}" for key, e in ((ctx_key, ctx_error), (intr_key, intr_error)) if e]
        errors[:0] = [e for e in (ctx_clash, intr_clash) if e]
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


def _with_detail(data: dict[str, Any], detail: list[dict[str, Any]], index: int,
                 path: Path, number: int) -> dict[str, Any]:
    """A numeric row with its detail row's failed-call text, where upstream's call failed.

    Both files are written in one loop, row for row; rows that do not pair are an error of
    the file (the detail file is not this numeric file's).
    """
    row = detail[index] if index < len(detail) else None
    if row is None or str(row.get("id")) != str(data.get("id")):
        raise SuiteError(
            f"the detail file beside it does not pair with this row (id {data.get('id')!r}); "
            "move or fix one of the two files", path, number)
    failed = {k: row[k] for k in (*CTX_KEYS, *INTR_KEYS)
              if isinstance(row.get(k), str) and row[k].strip().startswith(FAILED_CALL)}
    return {**data, **failed}
