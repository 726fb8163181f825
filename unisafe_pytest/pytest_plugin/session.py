"""UnisafeSession: the run, registered only when the plugin is active.

It builds the run's parts, each with one job, and registers the pytest-facing ones:

- :class:`~.components.Components`: registry, adapter and judge panel (the fixtures' source)
- :class:`~.execution.Execution`: an instance item's setup, through the prefetch pipeline
- :class:`~.collection.Collection`: suites to collectors, the planned and to-run node ids
- :class:`~.records.RecordsPlugin`: one record per instance, this process's file
- :class:`~.finish.Finish`: the controller's merge, summary and gates
- :class:`~.preflight.PreflightCheck`: the call budget of what will actually run
- :class:`~.distributed.XdistHooks`: the controller's xdist hooks (with xdist only)

The session itself checks the run folder at the start, and at the end closes the parts,
then lets the controller finish.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from unisafe_pytest.pytest_plugin.collection import Collection
from unisafe_pytest.pytest_plugin.components import Components
from unisafe_pytest.pytest_plugin.distributed import XdistHooks
from unisafe_pytest.pytest_plugin.execution import Execution
from unisafe_pytest.pytest_plugin.finish import Finish
from unisafe_pytest.pytest_plugin.fixtures import fixtures_plugin, scope_problem
from unisafe_pytest.pytest_plugin.identity import RunIdentity
from unisafe_pytest.pytest_plugin.interrupt import SigtermHandler
from unisafe_pytest.pytest_plugin.items import FIXED_MARKERS, register_markers
from unisafe_pytest.pytest_plugin.options import RunConfig
from unisafe_pytest.pytest_plugin.preflight import PreflightCheck
from unisafe_pytest.pytest_plugin.records import RecordsPlugin
from unisafe_pytest.pytest_plugin.workers import is_worker
from unisafe_pytest.report import rundir
from unisafe_pytest.schema.tasks import BUILTIN_TASKS
from unisafe_pytest.suites import builtin_suite_names


def builtin_hooks() -> Any:
    """The built-in hooks module. import_module, not "from unisafe_pytest.pytest_plugin import
    builtin_hooks": the latter returns a stale package attribute when sys.modules was restored
    in between (pytester's inline runs)."""
    return importlib.import_module("unisafe_pytest.pytest_plugin.builtin_hooks")


SESSION_KEY: pytest.StashKey[UnisafeSession] = pytest.StashKey()
_PYTEST_SESSION = pytest.StashKey[pytest.Session]()
_NAMES = ("unisafe-xdist", "unisafe-records", "unisafe-collection", "unisafe-session",
          "unisafe-fixtures", "unisafe-builtin", "unisafe-preflight")


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
        self.preflight = PreflightCheck(config, self.settings, self.components,
                                        self.collection, self.execution.cache)

    # ----------------------------------------------------------------- (un)registering
    @classmethod
    def start(cls, config: pytest.Config, model_label: str) -> UnisafeSession:
        """Build the run and register its plugins (``pytest_configure``)."""
        session = cls(config, model_label)
        config.stash[SESSION_KEY] = session
        session.sigterm.install()
        register_markers(config, [*FIXED_MARKERS,
                                  *(f"unisafe_task_{task.code}" for task in BUILTIN_TASKS)])
        manager = config.pluginmanager
        manager.register(builtin_hooks(), "unisafe-builtin")
        manager.register(fixtures_plugin(session.components), "unisafe-fixtures")
        manager.register(session, "unisafe-session")
        manager.register(session.collection, "unisafe-collection")
        manager.register(session.records, "unisafe-records")
        manager.register(session.preflight, "unisafe-preflight")
        if manager.hasplugin("xdist") and not is_worker(config):
            manager.register(XdistHooks(session.identity, session.collection, session.records,
                                        session.preflight), "unisafe-xdist")
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
        self.config.stash[_PYTEST_SESSION] = session
        if is_worker(self.config):
            return
        self._check_usage()
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
        # the planned instances by node id; the call budget is checked on what will actually
        # run, once collection is final (preflight.PreflightCheck)
        self.collection.plan_instances()

    def _check_usage(self) -> None:
        """Configuration faults are one usage error (exit 4) before collection and before any
        file is written: the model and judges are built (an unknown profile, a bad value,
        an unset API key variable, a missing extra) and the suites loaded (a missing file;
        with --continue-on-collection-errors it is a collection error and the rest run)."""
        problems = self.settings.problems()
        if problems:
            raise pytest.UsageError("unisafe: " + "\n".join(problems))
        problem = self.components.usage_problem()
        if problem is not None:
            raise pytest.UsageError(f"unisafe: {problem}")
        self.collection.plan_instances()  # loads every suite once (collection reuses them)
        missing = builtin_hooks().missing_suites(self.config)
        if missing and not self.config.option.continue_on_collection_errors:
            given = self.config.getoption("unisafe_suite") or []
            lines = [(f"--unisafe-suite={spec!r}: not found at {path} (a relative path starts "
                      "at the folder pytest was run from)") if spec in given else
                     (f"suite {spec!r} (ini key unisafe_suites): not found at {path} (a "
                      "relative path starts at the rootdir)") for spec, path in missing.items()]
            builtins = ", ".join(builtin_suite_names()) or "none installed"
            raise pytest.UsageError(
                "unisafe: suite not found: no such file or folder, and no built-in suite of "
                f"that name (built-ins: {builtins}, or hf:unisafe / hf:unisafebench)\n"
                + "\n".join(lines))

    @pytest.hookimpl(tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[object]) -> None:
        """An override of the run's fixtures must be session-scoped (before its factory
        runs; each instance that uses it errors, naming the fix)."""
        problem = scope_problem(fixturedef)
        if problem is not None:
            raise pytest.UsageError(problem)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Any other stop (``session.shouldstop``/``shouldfail``, set by pytest or a plugin
        on this report): nothing more is started ahead."""
        session = self.config.stash.get(_PYTEST_SESSION, None)
        if session is not None and (session.shouldstop or session.shouldfail):
            self.execution.stop()

    # ----------------------------------------------------------------- end
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.sigterm.armed = False  # a SIGTERM now must not break the merge
        self.records.close()
        self.execution.close()
        self.components.close()
        if not is_worker(self.config):
            self.finish.finish(session)

    def pytest_unisafe_summary(self, summary: dict[str, Any]) -> list[str]:
        """A degraded judge is in summary.json (``degraded``) and the terminal summary."""
        problems = self.components.degraded()
        summary["degraded"] = problems
        return [f"DEGRADED: {p['what']}; fix: {p['fix']}" for p in problems]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.finish.summary_text is None:
            return
        terminalreporter.write_sep("=", "unisafe summary")
        terminalreporter.write_line(self.finish.summary_text)
