"""UnisafeSession: the run, registered only when the plugin is active.

It builds the run's parts, each with one job, and registers the pytest-facing ones:

- :class:`~.components.Components`: registry, adapter and judge panel (the fixtures' source)
- :class:`~.execution.Execution`: an instance item's setup, through the prefetch pipeline
- :class:`~.collection.Collection`: suites to collectors, the planned and to-run node ids
- :class:`~.records.RecordsPlugin`: one record per instance, this process's file
- :class:`~.finish.Finish`: the controller's merge, summary and gates
- :class:`~.distributed.XdistHooks`: the controller's xdist hooks (with xdist only)

The session itself checks the run folder and the call budget at the start (pre-flight),
and at the end closes the parts, then lets the controller finish.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from unisafe_pytest.errors import UnisafeError
from unisafe_pytest.pytest_plugin.collection import Collection
from unisafe_pytest.pytest_plugin.components import Components
from unisafe_pytest.pytest_plugin.distributed import XdistHooks
from unisafe_pytest.pytest_plugin.execution import Execution
from unisafe_pytest.pytest_plugin.finish import Finish
from unisafe_pytest.pytest_plugin.fixtures import fixtures_plugin
from unisafe_pytest.pytest_plugin.identity import RunIdentity
from unisafe_pytest.pytest_plugin.interrupt import SigtermHandler
from unisafe_pytest.pytest_plugin.items import FIXED_MARKERS, register_markers
from unisafe_pytest.pytest_plugin.options import RunConfig
from unisafe_pytest.pytest_plugin.preflight import Plan, plan
from unisafe_pytest.pytest_plugin.records import RecordsPlugin
from unisafe_pytest.pytest_plugin.workers import is_worker
from unisafe_pytest.report import rundir
from unisafe_pytest.tasks import BUILTIN_TASKS

SESSION_KEY: pytest.StashKey[UnisafeSession] = pytest.StashKey()
_NAMES = ("unisafe-xdist", "unisafe-records", "unisafe-collection", "unisafe-session",
          "unisafe-fixtures", "unisafe-builtin")


class UnisafeSession:
    """The run. One per process; the controller alone merges and summarises."""

    def __init__(self, config: pytest.Config, model_label: str):
        self.config = config
        self.settings = RunConfig.of(config)
        self.identity = RunIdentity.from_config(config, self.settings, model_label)
        self.components = Components(config, self.settings, model_label)
        self.execution = Execution(config, self.settings, self.identity, self.components)
        self.collection = Collection(config, self.settings, self.identity, self.components,
                                     self.execution)
        self.records = RecordsPlugin(config, self.settings, self.identity, self.components,
                                     self.collection)
        self.finish = Finish(config, self.settings, self.identity, self.collection,
                             self.records)
        self.sigterm = SigtermHandler(lambda: self.finish.note_stop("SIGTERM"))
        self.plan: Plan | None = None

    # ----------------------------------------------------------------- (un)registering
    @classmethod
    def start(cls, config: pytest.Config, model_label: str) -> UnisafeSession:
        """Build the run and register its plugins (``pytest_configure``)."""
        # import_module, not "from unisafe_pytest.pytest_plugin import builtin_hooks": the
        # latter returns a stale package attribute when sys.modules was restored in between
        # (pytester's inline runs).
        builtin_hooks = importlib.import_module("unisafe_pytest.pytest_plugin.builtin_hooks")
        session = cls(config, model_label)
        config.stash[SESSION_KEY] = session
        session.sigterm.install()
        register_markers(config, [*FIXED_MARKERS,
                                  *(f"unisafe_task_{task.code}" for task in BUILTIN_TASKS)])
        manager = config.pluginmanager
        manager.register(builtin_hooks, "unisafe-builtin")
        manager.register(fixtures_plugin(session.components), "unisafe-fixtures")
        manager.register(session, "unisafe-session")
        manager.register(session.collection, "unisafe-collection")
        manager.register(session.records, "unisafe-records")
        if manager.hasplugin("xdist") and not is_worker(config):
            manager.register(XdistHooks(session.identity, session.collection, session.records),
                             "unisafe-xdist")
        return session

    @staticmethod
    def stop(config: pytest.Config) -> None:
        """Unregister the run's plugins (``pytest_unconfigure``)."""
        session = config.stash.get(SESSION_KEY, None)
        if session is None:
            return
        session.sigterm.restore()
        for name in _NAMES:
            plugin = config.pluginmanager.get_plugin(name)
            if plugin is not None:
                config.pluginmanager.unregister(plugin)
        del config.stash[SESSION_KEY]

    # ----------------------------------------------------------------- start
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if is_worker(self.config):
            return
        run_dir = self.identity.run_dir
        problem = rundir.writable_problem(run_dir)
        if problem is not None:
            raise pytest.UsageError(
                f"unisafe: cannot write the run folder {self.identity.display(run_dir)} "
                f"({problem}); pass a writable --unisafe-report-dir=DIR (or set the ini key "
                "unisafe_report_root), or fix the folder's permissions")
        if run_dir.is_dir() and not self.config.option.collectonly:
            # a reused folder: the earlier run's outputs step aside
            rundir.retire_outputs(run_dir)
        self.plan = self._preflight()
        max_calls = self.settings.max_calls
        if self.plan is not None and max_calls is not None and self.plan.calls_max > max_calls:
            raise pytest.UsageError(
                f"this run needs up to {self.plan.calls_max} model + judge calls "
                f"({self.plan.line().removeprefix('unisafe: pre-flight: ')}), over "
                f"--unisafe-max-calls={max_calls}; narrow it with --unisafe-task, "
                "--unisafe-subset or --unisafe-limit, or raise the limit"
            )

    def _preflight(self) -> Plan | None:
        adapter = None
        if self.settings.model:
            try:
                adapter = self.components.adapter()
            except UnisafeError:
                return None  # every instance will report the error itself
        planned = self.collection.plan_instances()
        return plan(list(planned.values()), self.components.registry(), adapter,
                    max(1, len(self.settings.judges)), self.execution.cache)

    def pytest_report_header(self, config: pytest.Config) -> str | None:
        return self.plan.line() if self.plan is not None else None

    # ----------------------------------------------------------------- end
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.sigterm.armed = False  # a SIGTERM now must not break the merge
        self.records.close()
        self.execution.close()
        self.components.close()
        if not is_worker(self.config):
            self.finish.finish(session)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.finish.summary_text is None:
            return
        terminalreporter.write_sep("=", "unisafe summary")
        terminalreporter.write_line(self.finish.summary_text)
