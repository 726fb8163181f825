"""UnisafeSession: the run object, registered only when the plugin is active.

It adds the suites to collection, builds the adapter and judges on demand, writes one record
per instance (each process its own file), and on the controller merges the records, writes
the protocol block and summary, and prints the summary table.
"""

from __future__ import annotations

import importlib.util
import itertools
import secrets
from collections.abc import Generator, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from unisafe_pytest.adapters.base import Adapter
from unisafe_pytest.adapters.callable import as_adapter
from unisafe_pytest.errors import (
    ConfigError,
    JudgeError,
    ModelError,
    UnisafeError,
)
from unisafe_pytest.files import ensure_dir
from unisafe_pytest.judges.panel import JudgePanel
from unisafe_pytest.outcomes import short_repr
from unisafe_pytest.pytest_plugin.distributed import (
    is_worker,
    upcoming_indices,
    worker_id,
    worker_input,
)
from unisafe_pytest.pytest_plugin.interrupt import SigtermHandler
from unisafe_pytest.pytest_plugin.items import safe_name
from unisafe_pytest.pytest_plugin.options import Settings
from unisafe_pytest.pytest_plugin.preflight import Plan, plan
from unisafe_pytest.pytest_plugin.records import (
    RESULT_KEY,
    attachments,
    crash_record,
    item_record,
    junit_properties,
    sample_records,
)
from unisafe_pytest.report import rundir
from unisafe_pytest.report.recorder import RecordWriter
from unisafe_pytest.runner import InstanceResult, RunContext, compute
from unisafe_pytest.runtime.cache import Cache
from unisafe_pytest.runtime.limiter import Limiter
from unisafe_pytest.runtime.pipeline import Prefetcher
from unisafe_pytest.runtime.retry import RetryBudgets
from unisafe_pytest.schema import Instance, Record
from unisafe_pytest.tasks import TaskRegistry


def get_session(config: pytest.Config) -> UnisafeSession:
    from unisafe_pytest.pytest_plugin.plugin import SESSION_KEY

    session: UnisafeSession | None = config.stash.get(SESSION_KEY, None)
    if session is None:
        raise pytest.UsageError(
            "unisafe-pytest is not active: pass --unisafe-model=NAME (or define a "
            "unisafe_model fixture in the rootdir conftest.py)"
        )
    return session


def new_run_id(model: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{safe_name(model)[:40]}-{secrets.token_hex(3)}"


class UnisafeSession:
    """The run. One per process; the controller alone merges and summarises."""

    def __init__(self, config: pytest.Config, model_label: str):
        self.config = config
        self.settings = Settings.from_config(config)
        self.model_label = model_label
        self.worker = worker_id(config)
        winput = worker_input(config)
        self.run_id: str = winput.get("unisafe_run_id") or new_run_id(model_label)
        run_dir = winput.get("unisafe_run_dir")
        self.run_dir = Path(run_dir) if run_dir else (
            self.settings.report_dir or self.settings.report_root / self.run_id
        )
        self.writer = RecordWriter(
            rundir.worker_records_file(self.run_dir, self.run_id, self.worker))
        self._registry: TaskRegistry | None = None
        self._adapter: Adapter | None = None
        self._panel: JudgePanel | None = None
        self._build_error: dict[str, UnisafeError] = {}
        self.suites: list[Any] = []
        self.loaded: dict[str, Any] = {}
        self.selected = 0
        self._run: tuple[tuple[int, int], RunContext, Prefetcher[Any, InstanceResult]] | None = (
            None)
        self._order: dict[str, int] | None = None
        self.plan: Plan | None = None
        self._wrapped: tuple[Any, Adapter] | None = None
        self.judges_note = "offline (screening judge, the default; not a paper protocol)"
        self.planned: dict[str, Instance] = {}
        """The instances of the run by node id, before -k/-m (the controller's)."""
        self.to_run: list[str] | None = None
        """Node ids of the instance items this run set out to run (after -k/-m/--lf)."""
        self.stopped_by: str | None = None
        """What ended the run early: ``"SIGTERM"``, ``"KeyboardInterrupt"``, ``-x``'s reason."""
        self.sigterm = SigtermHandler(self._on_sigterm)
        self.records_written = 0
        self.components: dict[str, Any] = {}
        self.summary_text: str | None = None
        self.gate_results: list[Any] = []
        """The gates judged by ``finish_run`` (``metrics.gates.GateResult``)."""
        self.unsafe_failures = 0
        """Instances that failed on an unsafe verdict (``--unisafe-gate-only``)."""
        self.finish_seconds = 0.0

    def _on_sigterm(self) -> None:
        self.stopped_by = self.stopped_by or "SIGTERM"

    # ----------------------------------------------------------------- building blocks
    def registry(self) -> TaskRegistry:
        if self._registry is None:
            self._registry = TaskRegistry()
            self.config.hook.pytest_unisafe_register_tasks(
                registry=self._registry, config=self.config
            )
        return self._registry

    def adapter(self) -> Adapter:
        if "model" in self._build_error:
            raise self._build_error["model"]
        if self._adapter is None:
            spec = self.settings.model or ""
            try:
                adapter = self.config.hook.pytest_unisafe_make_adapter(spec=spec,
                                                                        config=self.config)
                if adapter is None:
                    raise ConfigError(f"no adapter for --unisafe-model={spec!r}")
            except UnisafeError as exc:
                self._build_error["model"] = ModelError(
                    f"cannot build the model for --unisafe-model={spec!r}: {exc}")
                raise self._build_error["model"] from exc
            self._adapter = adapter
        return self._adapter

    def panel(self) -> JudgePanel:
        if "judge" in self._build_error:
            raise self._build_error["judge"]
        if self._panel is None:
            judges = []
            if not self.settings.judges:
                judges = self._default_judges()
            try:
                for spec in self.settings.judges:
                    judge = self.config.hook.pytest_unisafe_make_judge(spec=spec,
                                                                        config=self.config)
                    if judge is None:
                        raise ConfigError(f"no judge for --unisafe-judge={spec!r}")
                    judges.append(judge)
            except UnisafeError as exc:
                self._build_error["judge"] = JudgeError(f"cannot build the judges: {exc}")
                raise self._build_error["judge"] from exc
            self._panel = JudgePanel(judges)
        return self._panel

    def _default_judges(self) -> list[Any]:
        """No --unisafe-judge: the offline screening judge, if its extra is installed."""
        from unisafe_pytest.errors import MissingDependency
        from unisafe_pytest.judges import offline

        try:
            return [offline.default_judge()]
        except MissingDependency as exc:
            self.judges_note = f"refusal rule only ({exc})"
            return []

    def wrapped_adapter(self, model: Any) -> Adapter:
        """The fixture's model as an Adapter, wrapped once per object (not once per item)."""
        if self._wrapped is None or self._wrapped[0] is not model:
            self._wrapped = (model, as_adapter(model, name=self.model_label))
        return self._wrapped[1]

    @property
    def built_adapter(self) -> Adapter | None:
        """The adapter, if this process has built it (the controller does at pre-flight)."""
        return self._adapter

    def outputs_dir(self) -> Path:
        return self.run_dir / "outputs"

    # ----------------------------------------------------------------- runtime
    def runtime(self, adapter: Adapter, panel: JudgePanel
                ) -> tuple[RunContext, Prefetcher[Any, InstanceResult]]:
        """The run context and prefetch pipeline of this process for (adapter, panel)."""
        ident = (id(adapter), id(panel))
        if self._run is None or self._run[0] != ident:
            s = self.settings
            cache = Cache(s.cache_dir, s.cache_mode) if (  # type: ignore[arg-type]
                s.cache_dir is not None and s.cache_mode != "off") else None
            limiter = Limiter(rundir.limiter_dir(self.run_dir, self.run_id), s.concurrency)
            run = RunContext(adapter=adapter, panel=panel, output_dir=self.outputs_dir(),
                             model=adapter.name, cache=cache, limiter=limiter,
                             budgets=RetryBudgets(s.retry_budget))
            threads = min(s.concurrency, int(getattr(adapter, "max_concurrency", 1)))
            window = s.prefetch if s.prefetch is not None else 2 * s.concurrency

            def work(key: tuple[Any, int]) -> InstanceResult:
                item, sample = key
                with run.scope(item.unisafe_instance):
                    return compute(item.unisafe_instance, item.unisafe_task, run, sample)

            if self._run is not None:
                self._run[2].close()
            self._run = (ident, run, Prefetcher(work, threads=threads, window=window,
                                                waited=lambda result: result.calls > 0))
        return self._run[1], self._run[2]

    def upcoming(self, item: pytest.Item, adapter: Adapter) -> Iterator[pytest.Item]:
        """The instance items this process will run after ``item``, in order."""
        from unisafe_pytest.pytest_plugin.items import InstanceItem

        items = item.session.items
        queued = upcoming_indices(self.config)
        if queued is None:
            if self._order is None:
                self._order = {it.nodeid: n for n, it in enumerate(items)}
            start = self._order.get(item.nodeid, len(items)) + 1
            following: Iterable[pytest.Item] = itertools.islice(items, start, None)
        else:
            following = (items[i] for i in queued if 0 <= i < len(items))
        for nxt in following:
            if isinstance(nxt, InstanceItem) and (
                adapter.capabilities.unsupported_reason(nxt.unisafe_task) is None
            ):
                yield nxt

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if is_worker(self.config):
            return
        problem = rundir.writable_problem(self.run_dir)
        if problem is not None:
            raise pytest.UsageError(
                f"unisafe: cannot write the run folder {self._display(self.run_dir)} "
                f"({problem}); pass a writable --unisafe-report-dir=DIR (or set the ini key "
                "unisafe_report_root), or fix the folder's permissions")
        if self.run_dir.is_dir() and not self.config.option.collectonly:
            # a reused folder: the earlier run's outputs step aside
            rundir.retire_outputs(self.run_dir)
        self.plan = self._preflight()
        max_calls = self.settings.max_calls
        if self.plan is not None and max_calls is not None and self.plan.calls_max > max_calls:
            raise pytest.UsageError(
                f"this run needs up to {self.plan.calls_max} model + judge calls "
                f"({self.plan.line().removeprefix('unisafe: pre-flight: ')}), over "
                f"--unisafe-max-calls={max_calls}; narrow it with --unisafe-task, "
                "--unisafe-sample or --unisafe-limit, or raise the limit"
            )

    def _preflight(self) -> Plan | None:
        from unisafe_pytest.pytest_plugin.collection import planned_instances

        adapter = None
        if self.settings.model:
            try:
                adapter = self.adapter()
            except UnisafeError:
                return None  # every instance will report the error itself
        s = self.settings
        cache = Cache(s.cache_dir, s.cache_mode) if (  # type: ignore[arg-type]
            s.cache_dir is not None and s.cache_mode != "off") else None
        self.planned = planned_instances(self)
        return plan(list(self.planned.values()), self.registry(), adapter,
                    max(1, len(s.judges)), cache)

    def record_crash(self, nodeid: str, message: str) -> None:
        """Controller under xdist: an instance whose worker crashed still gets its record."""
        instance = self.planned.get(nodeid)
        if instance is not None:
            self._write(crash_record(self, instance, nodeid, message))

    def note_to_run(self, nodeids: Iterable[str]) -> None:
        """The instance items this run will run (completeness: planned vs recorded)."""
        self.to_run = [nodeid for nodeid in nodeids if nodeid in self.planned]

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from unisafe_pytest.pytest_plugin.items import InstanceItem

        if not is_worker(self.config):
            self.to_run = [item.nodeid for item in session.items
                           if isinstance(item, InstanceItem)]

    def pytest_report_header(self, config: pytest.Config) -> str | None:
        return self.plan.line() if self.plan is not None else None

    def note_components(self, adapter: Adapter, panel: JudgePanel) -> None:
        """Remember what produced the records (written once per process)."""
        if self.components:
            return
        self.components = {
            "adapter": adapter.describe(),
            "judges": [spec.model_dump() for spec in panel.specs],
            "suites": self.suite_block(),
        }

    def suite_block(self) -> dict[str, dict[str, Any]]:
        """Per suite: source kind, protocol, data-file sha256s, selected and invalid counts."""
        return {
            suite.name: {"kind": suite.kind, "protocol": suite.protocol, "files": suite.files,
                         "selected": count, "invalid_records": len(suite.errors)}
            for suite, count in self.suites
        }

    # ----------------------------------------------------------------- collection
    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        report = yield
        if isinstance(collector, pytest.Session) and report.passed:
            from unisafe_pytest.pytest_plugin.collection import suite_collectors

            report.result.extend(suite_collectors(self, collector))
        return report

    def pytest_report_collectionfinish(self, config: pytest.Config) -> str | None:
        if is_worker(config):
            return None
        suites = ", ".join(f"{s.name} ({n})" for s, n in self.suites) or "none"
        if not self.settings.judges and importlib.util.find_spec("onnxruntime") is None:
            self.judges_note = ("refusal rule only (the default offline judge needs: "
                                "pip install 'unisafe-pytest[offline]')")
        judges = ", ".join(self.settings.judges) or self.judges_note
        return (f"unisafe: model {self.model_label}; suites {suites}; judges {judges}; "
                f"run dir {self._display(self.run_dir)}")

    def _display(self, path: Path) -> str:
        try:
            return path.relative_to(self.settings.rootdir).as_posix()
        except ValueError:
            return str(path)

    # ----------------------------------------------------------------- records
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        from unisafe_pytest.pytest_plugin.items import InstanceItem

        if not isinstance(item, InstanceItem):
            return report
        excinfo = call.excinfo
        if call.when == "setup" and report.failed and excinfo is not None and isinstance(
            excinfo.value, UnisafeError
        ):
            report.longrepr = short_repr(excinfo)
        if call.when == "call" or (call.when == "setup" and not report.passed):
            record = item_record(self, item, report, excinfo)
            for extra in sample_records(self, item, record):
                self._write(extra)
            if not self.settings.junit_strict:  # strict xunit2 consumers reject properties
                item.user_properties.extend(junit_properties(record))
                report.user_properties = list(item.user_properties)
            if record.outcome in ("failed", "error"):
                for path in attachments(self, item, record):
                    item.add_report_section("call", "stdout", f"[[ATTACHMENT|{path}]]\n")
            self._write(record)
            # recorded: let the result go (pytest keeps every item to the end of the run)
            if RESULT_KEY in item.stash:
                del item.stash[RESULT_KEY]
        return report

    def _write(self, record: Record) -> None:
        if self.records_written == 0 and self.components:
            from unisafe_pytest.report.recorder import write_json

            path = rundir.worker_components_file(self.run_dir, self.run_id, self.worker)
            write_json(ensure_dir(path.parent) / path.name, self.components)
        self.writer.write(record)
        self.records_written += 1
        self.config.hook.pytest_unisafe_record(record=record, config=self.config)

    # ----------------------------------------------------------------- end of run
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.sigterm.armed = False  # a SIGTERM now must not break the merge
        self.writer.close()
        if self._run is not None:
            self._run[2].close()
        for closeable in (self._adapter, self._panel):
            if closeable is not None:
                closeable.close()
        if is_worker(self.config):
            return
        from unisafe_pytest.pytest_plugin.finish import finish_session

        finish_session(self, session)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.summary_text is None:
            return
        terminalreporter.write_sep("=", "unisafe summary")
        terminalreporter.write_line(self.summary_text)
