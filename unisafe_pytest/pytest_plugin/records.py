"""The per-instance records: built from items, reports and the stashed InstanceResult, and
written by :class:`RecordsPlugin` (one file per process, ``report/recorder.py``), with their
JUnit side (properties, attachments). The records are pydantic models (schema/record.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from unisafe_pytest.errors import ErrorKind, UnisafeError, error_kind
from unisafe_pytest.io.files import ensure_dir
from unisafe_pytest.pytest_plugin.collection import Collection
from unisafe_pytest.pytest_plugin.components import Components
from unisafe_pytest.pytest_plugin.failures import failure_repr
from unisafe_pytest.pytest_plugin.identity import RunIdentity
from unisafe_pytest.pytest_plugin.items import RESULT_KEY, InstanceItem
from unisafe_pytest.pytest_plugin.options import RunConfig
from unisafe_pytest.report import rundir
from unisafe_pytest.report.recorder import RecordWriter, write_json
from unisafe_pytest.runtime.instance import InstanceResult
from unisafe_pytest.runtime.verdict_text import clean, outcome_of
from unisafe_pytest.schema import Instance, Media, OutputSummary, Record
from unisafe_pytest.schema.tasks import Task

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


def instance_record(run: RunIdentity, instance: Instance, task: Task, *, model: str,
                    nodeid: str, **fields: Any) -> Record:
    """A record with the instance's identity filled in; ``fields`` give the outcome."""
    return Record(
        run_id=run.run_id, suite=instance.suite, protocol=task.protocol, model=model,
        id=instance.id, task=task.code, category=instance.category,
        subcategory=instance.subcategory, taxonomy=instance.taxonomy, risky=instance.risky,
        twin=instance.twin, nodeid=nodeid, prompt=prompt_text(instance),
        inputs=[describe_media(m, run.run_dir) for m in instance.images],
        worker=run.worker, timestamp=now(), **fields,
    )


def item_record(run: RunIdentity, item: Any, report: pytest.TestReport,
                excinfo: pytest.ExceptionInfo[BaseException] | None) -> Record:
    """The record of one instance item, from its setup or call report."""
    result: InstanceResult | None = item.stash.get(RESULT_KEY, None)
    outcome = "error" if report.when == "setup" and report.failed else report.outcome
    kind: ErrorKind | None = None
    error = None
    if outcome == "error":
        exc = excinfo.value if excinfo is not None else None
        kind = error_kind(exc)
        error = (result.error if result is not None and result.error else
                 str(exc).split("\n", 1)[0] if exc is not None else "unknown error")
    skip_reason = None
    if outcome == "skipped" and isinstance(report.longrepr, tuple):
        skip_reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    output = _summary(run, result) if result is not None else None
    return instance_record(
        run, item.unisafe_instance, item.unisafe_task,
        model=result.model if result is not None else run.model_label,
        nodeid=item.nodeid, outcome=outcome, skip_reason=skip_reason, error=error,
        error_kind=kind, verdict=result.verdict if result is not None else None,
        output=output, cache=result.cache if result is not None else {},
        sample=result.sample if result is not None else 0,
        duration_s=round(report.duration, 6),
    )


def sample_records(run: RunIdentity, item: Any, record: Record) -> list[Record]:
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
        extra.append(record.model_copy(update={
            "sample": other.sample, "outcome": outcome_of(other.verdict), "verdict": other.verdict,
            "error": other.error, "cache": other.cache, "output": _summary(run, other),
            "error_kind": error_kind(other.exception) if other.exception else None,
            "timestamp": now()}))
    return extra


def _summary(run: RunIdentity, result: InstanceResult) -> OutputSummary | None:
    out = result.output
    if out is None:
        return None
    return OutputSummary(
        text=clean(out.text, OUTPUT_TEXT_LIMIT) if out.text is not None else None,
        images=[describe_media(m, run.run_dir) for m in out.images],
        refusal=out.refusal, refusal_reason=out.refusal_reason,
        provenance=out.provenance.model_dump(exclude_none=True),
    )


def crash_record(run: RunIdentity, components: Components, instance: Instance, nodeid: str,
                 message: str) -> Record:
    """The record of an instance whose xdist worker died while running it."""
    adapter = components.built_adapter
    return instance_record(
        run, instance, components.registry()[instance.task],
        model=adapter.name if adapter is not None else run.model_label, nodeid=nodeid,
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


def attachments(run: RunIdentity, item: Any, record: Record) -> list[str]:
    """Output then input media paths (images, audio and video clips) relative to the
    rootdir, for JUnit attachments; files outside the rootdir are not attached."""
    rootdir = run.rootdir
    paths = [run.run_dir / str(m["ref"]) for m in (record.output.images if record.output
                                                       else []) if m.get("ref")]
    paths += [Path(m.path) for m in item.unisafe_instance.images if m.path]
    found = []
    for path in paths:
        with contextlib.suppress(ValueError):
            found.append(path.resolve().relative_to(rootdir.resolve()).as_posix())
    return [p for p in found if (rootdir / p).is_file()]


class RecordsPlugin:
    """Writes each instance item's record (this process's file) from its setup or call
    report, and puts its JUnit properties on the item."""

    def __init__(self, config: pytest.Config, settings: RunConfig, identity: RunIdentity,
                 components: Components, collection: Collection):
        self.config = config
        self.settings = settings
        self.identity = identity
        self.components = components
        self.collection = collection
        self.writer = RecordWriter(rundir.worker_records_file(
            identity.run_dir, identity.run_id, identity.worker))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if not isinstance(item, InstanceItem):
            return report
        excinfo = call.excinfo
        if call.when == "setup" and report.failed and excinfo is not None and isinstance(
            excinfo.value, UnisafeError
        ):
            report.longrepr = failure_repr(excinfo)
        if call.when == "call" or (call.when == "setup" and not report.passed):
            run = self.identity
            record = item_record(run, item, report, excinfo)
            for extra in sample_records(run, item, record):
                self.write(extra)
            if not self.settings.junit_strict:  # strict xunit2 consumers reject properties
                item.user_properties.extend(junit_properties(record))
                report.user_properties = list(item.user_properties)
            if record.outcome in ("failed", "error"):
                for path in attachments(run, item, record):
                    item.add_report_section("call", "stdout", f"[[ATTACHMENT|{path}]]\n")
            self.write(record)
            # recorded: let the result go (pytest keeps every item to the end of the run)
            if RESULT_KEY in item.stash:
                del item.stash[RESULT_KEY]
        return report

    def write_crash(self, nodeid: str, message: str) -> None:
        """Controller under xdist: an instance whose worker crashed still gets its record."""
        instance = self.collection.planned.get(nodeid)
        if instance is not None:
            self.write(crash_record(self.identity, self.components, instance, nodeid,
                                    message))

    def write(self, record: Record) -> None:
        if self.writer.written == 0 and self.components.described:
            run = self.identity
            path = rundir.worker_components_file(run.run_dir, run.run_id, run.worker)
            write_json(ensure_dir(path.parent) / path.name,
                       {**self.components.described, "suites": self.collection.suite_block()})
        self.writer.write(record)
        self.config.hook.pytest_unisafe_record(record=record, config=self.config)

    def close(self) -> None:
        self.writer.close()
