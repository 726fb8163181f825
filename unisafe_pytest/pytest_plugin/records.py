"""Building the per-instance records and their JUnit side (properties, attachments).

The pytest layer's half of recording: it reads items, reports and the stashed
InstanceResult; the records themselves are plain pydantic models (schema/record.py).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from unisafe_pytest.errors import JudgeError, ModelError, SuiteError
from unisafe_pytest.outcomes import clean
from unisafe_pytest.runner import InstanceResult
from unisafe_pytest.schema import Instance, Media, OutputSummary, Record
from unisafe_pytest.tasks import Task

if TYPE_CHECKING:
    from unisafe_pytest.pytest_plugin.session import UnisafeSession

RESULT_KEY = pytest.StashKey[InstanceResult]()
OUTPUT_TEXT_LIMIT = 20_000


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def describe_media(media: Media, run_dir: Path) -> dict[str, Any]:
    """An image as recorded: reference (relative to the run dir when inside it) and sha256."""
    with contextlib.suppress(OSError):
        media.digest()
    described = media.describe()
    if media.path is not None:
        with contextlib.suppress(ValueError):
            rel = Path(media.path).resolve().relative_to(run_dir.resolve())
            described["ref"] = rel.as_posix()
    return described


def prompt_text(instance: Instance) -> str | None:
    """The request as recorded (see ``Record.prompt``)."""
    parts = [instance.instruction] if instance.instruction else []
    parts += [f"turn {number}: {turn}" for number, turn in enumerate(instance.turns, start=1)]
    return clean("\n".join(parts), OUTPUT_TEXT_LIMIT) if parts else None


def instance_record(unisafe: UnisafeSession, instance: Instance, task: Task, *, model: str,
                    nodeid: str, **fields: Any) -> Record:
    """A record with the instance's identity filled in; ``fields`` give the outcome."""
    return Record(
        run_id=unisafe.run_id, suite=instance.suite, protocol=task.protocol, model=model,
        id=instance.id, task=task.code, category=instance.category,
        subcategory=instance.subcategory, taxonomy=instance.taxonomy, risky=instance.risky,
        twin=instance.twin, nodeid=nodeid, prompt=prompt_text(instance),
        inputs=[describe_media(m, unisafe.run_dir) for m in instance.images],
        worker=unisafe.worker, timestamp=now(), **fields,
    )


def item_record(unisafe: UnisafeSession, item: Any, report: pytest.TestReport,
                excinfo: pytest.ExceptionInfo[BaseException] | None) -> Record:
    """The record of one instance item, from its setup or call report."""
    result: InstanceResult | None = item.stash.get(RESULT_KEY, None)
    outcome = "error" if report.when == "setup" and report.failed else report.outcome
    error_kind: Literal["model", "judge", "input", "internal"] | None = None
    error = None
    if outcome == "error":
        exc = excinfo.value if excinfo is not None else None
        error_kind = ("judge" if isinstance(exc, JudgeError) else
                      "model" if isinstance(exc, ModelError) else
                      "input" if isinstance(exc, SuiteError) else "internal")
        error = (result.error if result is not None and result.error else
                 str(exc).split("\n", 1)[0] if exc is not None else "unknown error")
    skip_reason = None
    if outcome == "skipped" and isinstance(report.longrepr, tuple):
        skip_reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    output = _summary(unisafe, result) if result is not None else None
    return instance_record(
        unisafe, item.unisafe_instance, item.unisafe_task,
        model=result.model if result is not None else unisafe.model_label,
        nodeid=item.nodeid, outcome=outcome, skip_reason=skip_reason, error=error,
        error_kind=error_kind, verdict=result.verdict if result is not None else None,
        output=output, cache=result.cache if result is not None else {},
        sample=result.sample if result is not None else 0,
        duration_s=round(report.duration, 6),
    )


def sample_records(unisafe: UnisafeSession, item: Any, record: Record) -> list[Record]:
    """With --unisafe-samples N > 1: the records of the samples other than ``record``'s.

    ``record`` is the item's (its outcome is the reducer's); each other sample gets a record
    of its own outcome, so metrics see every generation and flips can be found.
    """
    result: InstanceResult | None = item.stash.get(RESULT_KEY, None)
    if result is None or len(result.samples) < 2:
        return []
    extra = []
    for other in result.samples:
        if other.sample == result.sample:
            continue
        label = other.verdict.label if other.verdict is not None else "error"
        outcome = {"unsafe": "failed", "error": "error"}.get(label, "passed")
        extra.append(record.model_copy(update={
            "sample": other.sample, "outcome": outcome, "verdict": other.verdict,
            "error": other.error, "error_kind": other.error_kind, "cache": other.cache,
            "output": _summary(unisafe, other), "timestamp": now()}))
    return extra


def _summary(unisafe: UnisafeSession, result: InstanceResult) -> OutputSummary | None:
    out = result.output
    if out is None:
        return None
    return OutputSummary(
        text=clean(out.text, OUTPUT_TEXT_LIMIT) if out.text is not None else None,
        images=[describe_media(m, unisafe.run_dir) for m in out.images],
        refusal=out.refusal, refusal_reason=out.refusal_reason,
        provenance=out.provenance.model_dump(exclude_none=True),
    )


def crash_record(unisafe: UnisafeSession, instance: Instance, nodeid: str,
                 message: str) -> Record:
    """The record of an instance whose xdist worker died while running it."""
    adapter = unisafe.built_adapter
    return instance_record(
        unisafe, instance, unisafe.registry()[instance.task],
        model=adapter.name if adapter is not None else unisafe.model_label, nodeid=nodeid,
        outcome="error", error_kind="internal",
        error=f"the worker process died while running this instance ({message})",
    )


def junit_properties(record: Record) -> list[tuple[str, str]]:
    verdict = record.verdict
    rating = "" if verdict is None or verdict.risk_rating is None else f"{verdict.risk_rating:g}"
    return [("suite", record.suite), ("task", record.task), ("category", record.category),
            ("subcategory", record.subcategory),
            ("verdict", verdict.label if verdict else record.outcome), ("risk_rating", rating),
            ("refusal", str(bool(verdict and verdict.label == "refusal")).lower()),
            ("judges", ",".join(verdict.judges) if verdict else ""),
            ("model", record.model), ("id", record.id)]


def attachments(unisafe: UnisafeSession, item: Any, record: Record) -> list[str]:
    """Output then input image paths relative to the rootdir, for JUnit attachments."""
    rootdir = unisafe.settings.rootdir
    paths = [unisafe.run_dir / str(m["ref"]) for m in (record.output.images if record.output
                                                       else []) if m.get("ref")]
    paths += [Path(m.path) for m in item.unisafe_instance.images if m.path]
    found = []
    for path in paths:
        with contextlib.suppress(ValueError):
            found.append(path.resolve().relative_to(rootdir.resolve()).as_posix())
    return [p for p in found if (rootdir / p).is_file()]
