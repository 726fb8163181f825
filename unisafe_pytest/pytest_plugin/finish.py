"""The controller's end of a run: merge worker records, write the protocol block, the
summary JSON and the upstream judgment rows, judge the gates (the exit status) and print
the terminal summary."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

import unisafe_pytest
from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.files import ensure_dir, write_atomic
from unisafe_pytest.io.jsonl import write_jsonl
from unisafe_pytest.judges.agreement import PairAgreement
from unisafe_pytest.judges.refusal import POLICY as REFUSAL_POLICY
from unisafe_pytest.pytest_plugin.collection import Collection
from unisafe_pytest.pytest_plugin.heap import paused
from unisafe_pytest.pytest_plugin.identity import RunIdentity
from unisafe_pytest.pytest_plugin.options import RunConfig
from unisafe_pytest.pytest_plugin.records import RecordsPlugin
from unisafe_pytest.report import rundir
from unisafe_pytest.report.recorder import write_json
from unisafe_pytest.report.summary import (
    build_summary_json,
    completeness,
    protocol_line,
    render_agreement,
    render_completeness,
)
from unisafe_pytest.report.terminal import render_unisafe, render_unisafebench
from unisafe_pytest.report.upstream import records_to_judgment_rows
from unisafe_pytest.schema import Record, RunProtocol


def _git_revision(root: Any) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _judges(records: list[Record]) -> list[dict[str, Any]]:
    """The judges that wrote the verdicts' rows, each once, in order of appearance."""
    seen: dict[str, dict[str, Any]] = {}
    for record in records:
        for row in record.verdict.rows if record.verdict else []:
            if row.judge not in seen:
                spec = row.spec.model_dump() if row.spec else {"id": row.judge}
                seen[row.judge] = {**spec, "id": row.judge}
    return list(seen.values())


class Finish:
    """The end of the run on the controller, and what ended it."""

    def __init__(self, config: pytest.Config, settings: RunConfig, identity: RunIdentity,
                 collection: Collection, records: RecordsPlugin):
        self.config = config
        self.settings = settings
        self.identity = identity
        self.collection = collection
        self.records = records
        self.stopped_by: str | None = None
        """What ended the run early: ``"SIGTERM"``, ``"KeyboardInterrupt"``, ``-x``'s reason."""
        self.summary_text: str | None = None
        self.gate_results: list[Any] = []
        """The gates judged at the end (``metrics.gates.GateResult``)."""
        self.unsafe_failures = 0
        """Instances that failed on an unsafe verdict (``--unisafe-gate-only``)."""

    def note_stop(self, reason: str) -> None:
        """The first reason the run stopped early wins."""
        self.stopped_by = self.stopped_by or reason

    def merge_records(self, notes: list[str] | None = None) -> list[tuple[Record, str]]:
        """This run's records from every process, with their JSON lines: the last of each key,
        sorted. Only files named for this run id are read (a reused folder may hold others).

        This process's own records come from its writer's memory, not from reading them back.
        A torn or foreign line is skipped and named in ``notes``.
        """
        notes = [] if notes is None else notes
        own, written = self.records.writer.path, self.records.writer.contents()
        pairs: list[tuple[Record, str]] = []
        for file in rundir.run_worker_files(own.parent, self.identity.run_id, ".jsonl"):
            if written is not None and file == own:
                pairs.extend((Record.model_validate_json(line), line) for line in written)
                continue
            try:
                pairs.extend(rundir.read_record_lines(file, notes))
            except SuiteError as exc:  # a bad line loses its file, never the run's summary
                notes.append(f"{exc}; the file's records were left out")
        foreign = [record.run_id for record, _ in pairs if record.run_id != self.identity.run_id]
        if foreign:
            notes.append(f"left out {len(foreign)} records of other runs ({foreign[0]}, ...) "
                         "found in this run's files")
        merged = list({record.key: (record, line) for record, line in pairs
                       if record.run_id == self.identity.run_id}.values())
        merged.sort(key=lambda pair: (pair[0].suite, pair[0].task, pair[0].id, pair[0].sample,
                                      pair[0].model))
        return merged

    def _components(self) -> dict[str, Any]:
        """What the processes reported of their adapter and judges (the first one wins)."""
        run = self.identity
        folder = rundir.worker_components_file(run.run_dir, run.run_id, "main").parent
        for file in rundir.run_worker_files(folder, self.identity.run_id, ".json"):
            data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
            return data
        return {}

    def build_protocol(self, records: list[Record]) -> RunProtocol:
        components = self._components()
        judges = _judges(records) or components.get("judges", [])
        adapter = components.get("adapter", {})
        deciding = [j for j in judges if j.get("kind") != "rule"]
        return RunProtocol(
            run_id=self.identity.run_id,
            unisafe_pytest_version=unisafe_pytest.__version__,
            pytest_version=pytest.__version__,
            code_revision=_git_revision(self.settings.rootdir),
            model=self.identity.model_label,
            adapter=adapter,
            # under xdist only the workers collect: their description of the suites is used
            suites=self.collection.suite_block() or components.get("suites", {}),
            tasks=sorted({r.task for r in records}),
            judges=judges,
            single_judge=len(deciding) <= 1,
            screening_only=bool(deciding) and all(j.get("screening") for j in deciding),
            refusal_policy=REFUSAL_POLICY,
            mt_protocol=str(adapter.get("mt_protocol", "")),
            it_prompt_policy=str(adapter.get("it_prompt_policy", "")),
            selection=self.settings.selection(),
        )

    def finish(self, session: pytest.Session) -> None:
        """The controller's end of the run: merge and summarise when this run has records (or
        set out to run instances), then let the gates decide the exit status."""
        wrote = rundir.run_worker_files(self.records.writer.path.parent,
                                        self.identity.run_id, ".jsonl")
        if not wrote and not (self.collection.to_run and not self.config.option.collectonly):
            return
        if self.stopped_by is None:
            stop = session.shouldstop or session.shouldfail
            self.stopped_by = (str(stop) if stop else "KeyboardInterrupt"
                               if session.exitstatus == pytest.ExitCode.INTERRUPTED else None)
        self.summary_text = self.finish_run()
        if self.gate_results or self.settings.gate_only:
            from unisafe_pytest.metrics.gates import exit_status

            status = exit_status(int(session.exitstatus),
                                 gates_passed=all(r.passed for r in self.gate_results),
                                 gate_only=self.settings.gate_only,
                                 tests_failed=session.testsfailed,
                                 unsafe_failures=self.unsafe_failures)
            session.exitstatus = pytest.ExitCode(status) if status in (0, 1) else status

    def finish_run(self) -> str:
        """Merge and write the run's files; return the terminal summary text (with the garbage
        collector paused: ``heap.py``)."""
        with paused():
            return self._finish_run()

    def _finish_run(self) -> str:
        notes: list[str] = []
        merged = self.merge_records(notes)
        records = [record for record, _ in merged]
        run_dir = ensure_dir(self.identity.run_dir)
        # this run's slot files, done (another run's, in a reused folder, are left alone)
        shutil.rmtree(rundir.limiter_dir(run_dir, self.identity.run_id), ignore_errors=True)
        rundir.retire_outputs(run_dir)  # a run that finished here meanwhile steps aside
        protocol = self.build_protocol(records).model_dump()
        write_json(run_dir / rundir.PROTOCOL_FILE, protocol)  # first: it names the run
        write_atomic(run_dir / rundir.RECORDS_FILE, "".join(line + "\n" for _, line in merged))
        done = completeness(records, self.collection.to_run, stopped_by=self.stopped_by,
                            notes=notes)
        summary = build_summary_json(records, protocol, done)
        extra: list[str] = []
        for lines in self.config.hook.pytest_unisafe_summary(
            records=records, summary=summary, config=self.config
        ):
            extra += list(lines or [])
        write_json(run_dir / rundir.SUMMARY_FILE, summary)
        write_jsonl(run_dir / rundir.JUDGMENTS_FILE, records_to_judgment_rows(records))
        blocks = [*render_completeness(done), *render_unisafe(summary["unisafe"]),
                  *render_unisafebench(summary["unisafebench"])]
        agreement = render_agreement(PairAgreement(**pair) for pair in summary["agreement"])
        if agreement:
            blocks.append("\n".join(agreement))
        blocks.append(protocol_line(protocol))
        blocks += self._html_and_gates(records, protocol, summary)
        return "\n\n".join([*blocks, *extra, f"run directory: {self.identity.display(run_dir)}"])

    def _html_and_gates(self, records: list[Record], protocol: dict[str, Any],
                        summary: dict[str, Any]) -> list[str]:
        """Write report.html (unless --unisafe-html=off) and judge the gates (issue 6)."""
        from unisafe_pytest.metrics import gates

        settings = self.settings
        self.unsafe_failures = len({r.nodeid or r.id for r in records if r.outcome == "failed"})
        self.gate_results = gates.evaluate(summary, max_asr=settings.max_asr,
                                              baseline=settings.baseline,
                                              allowance=settings.allowed_regression)
        gate_rows = [r.as_dict() for r in self.gate_results]
        blocks: list[str] = []
        if settings.html:
            from unisafe_pytest.report.html import suite_image_roots, write_html

            try:
                write_html(self.identity.run_dir / rundir.HTML_FILE, records, protocol, summary,
                           image_roots=suite_image_roots(settings.rootdir, settings.suites),
                           gates=gate_rows)
            except (OSError, ValueError) as exc:  # the report must not take the summary down
                blocks.append(f"unisafe: could not write report.html: {exc}")
        if gate_rows:
            write_json(self.identity.run_dir / rundir.GATES_FILE, gate_rows)
            blocks.append(gates.render(self.gate_results))
        return blocks
