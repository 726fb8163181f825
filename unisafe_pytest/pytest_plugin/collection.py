"""Collection: the suites become collectors under pytest's Session node; the controller
also keeps the planned instances by node id (pre-flight count, crash records,
completeness) and the node ids the run set out to run."""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.pytest_plugin.components import Components
from unisafe_pytest.pytest_plugin.heap import paused
from unisafe_pytest.pytest_plugin.identity import RunIdentity
from unisafe_pytest.pytest_plugin.items import (
    HASH_MARK,
    BadInput,
    InstanceItem,
    InstanceRunner,
    SuiteCollector,
    instance_nodeid,
    node_name,
    safe_name,
)
from unisafe_pytest.pytest_plugin.options import RunConfig
from unisafe_pytest.pytest_plugin.workers import is_worker
from unisafe_pytest.schema import Instance
from unisafe_pytest.suites.selection import select
from unisafe_pytest.suites.shards import in_shard

if TYPE_CHECKING:
    from unisafe_pytest.suites import LoadedSuite


class Collection:
    """The collection hooks of a run, and what the run set out to run."""

    def __init__(self, config: pytest.Config, settings: RunConfig, identity: RunIdentity,
                 components: Components, runner: InstanceRunner):
        self.config = config
        self.settings = settings
        self.identity = identity
        self.components = components
        self.runner = runner
        self._loaded: dict[str, LoadedSuite | SuiteError] = {}
        self._suites: list[tuple[LoadedSuite, int]] = []
        self.planned: dict[str, Instance] = {}
        """The instances of the run by node id, before -k/-m (the controller's)."""
        self.to_run: list[str] | None = None
        """Node ids of the instance items this run set out to run (after -k/-m/--lf)."""

    # ----------------------------------------------------------------- hooks
    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        report = yield
        if isinstance(collector, pytest.Session) and report.passed:
            report.result.extend(self._suite_collectors(collector))
        return report

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not is_worker(self.config):
            self.to_run = [item.nodeid for item in session.items
                           if isinstance(item, InstanceItem)]

    def pytest_report_collectionfinish(self, config: pytest.Config) -> str | None:
        if is_worker(config):
            return None
        if not self.suites_wanted():
            return (f"unisafe: model {self.identity.model_label}; suites not collected: the "
                    "command line names tests to run; add --unisafe-suite=SUITE to run "
                    "suites beside them")
        suites = ", ".join(f"{s.name} ({n})" for s, n in self._suites) or "none"
        return (f"unisafe: model {self.identity.model_label}; suites {suites}; judges "
                f"{self.components.judges_line()}; run dir "
                f"{self.identity.display(self.identity.run_dir)}")

    # ----------------------------------------------------------------- the controller's view
    def plan_instances(self) -> dict[str, Instance]:
        """The instances the run will hold (before -k/-m) by node id, as collection names
        them; kept as :attr:`planned`."""
        planned: dict[str, Instance] = {}
        for _, name, suite in self._named_suites():
            if isinstance(suite, SuiteError):
                continue
            for instance in _renamed(self._selected(suite), name):
                planned[instance_nodeid(name, instance.task, instance.id)] = instance
        self.planned = planned
        return planned

    def note_to_run(self, nodeids: Iterable[str]) -> None:
        """Under xdist: the node ids a worker collected (every worker collects the same)."""
        if not self.to_run:
            self.to_run = [nodeid for nodeid in nodeids if nodeid in self.planned]

    def suite_block(self) -> dict[str, dict[str, Any]]:
        """Per suite: source kind, protocol, data-file sha256s, selected and invalid counts."""
        return {
            suite.name: {"kind": suite.kind, "protocol": suite.protocol, "files": suite.files,
                         "selected": count, "invalid_records": len(suite.errors)}
            for suite, count in self._suites
        }

    # ----------------------------------------------------------------- suites
    def suites_wanted(self) -> bool:
        """Whether the suites join this run: always with ``--unisafe-suite`` (command line or
        addopts); otherwise only when the command line names no test path or node id (the
        run takes ``testpaths`` or the current folder). ``pytest tests/test_x.py::test_y``
        runs that test alone, whatever model or fixture the run has."""
        if self.config.getoption("unisafe_suite", None):
            return True
        return self.config.args_source != pytest.Config.ArgsSource.ARGS

    def _suite_specs(self) -> list[str]:
        if not self.suites_wanted():
            return []
        specs = list(self.settings.suites)
        for extra in self.config.hook.pytest_unisafe_suites(config=self.config):
            specs += [s for s in extra or [] if s not in specs]
        return specs

    def _load(self, spec: str) -> LoadedSuite:
        """Load a suite once per process (pre-flight and collection share it)."""
        known = self._loaded.get(spec)
        if isinstance(known, SuiteError):
            raise known
        if known is None:
            try:
                with paused():  # the instances all stay alive: collector passes would be waste
                    known = self._load_uncached(spec)
            except SuiteError as exc:
                self._loaded[spec] = exc
                raise
            self._loaded[spec] = known
        return known

    def _load_uncached(self, spec: str) -> LoadedSuite:
        try:
            suite: LoadedSuite | None = self.config.hook.pytest_unisafe_load_suite(
                spec=spec, registry=self.components.registry(), config=self.config
            )
        except SuiteError:
            raise
        except Exception as exc:  # a loader bug must not take the other suites down
            raise SuiteError(
                f"loading suite {spec!r} failed: {type(exc).__name__}: {exc}") from exc
        if suite is None:
            raise SuiteError(f"no loader accepted the suite spec {spec!r}")
        return suite

    def _named_suites(self) -> list[tuple[str, str, LoadedSuite | SuiteError]]:
        """``(spec, node name, suite or its load error)`` per suite spec, in spec order.

        The one naming of suites, shared by collection and the controller's planned map:
        the name is :func:`~.items.node_name` of the suite's name (``safe_name`` of the spec
        when it did not load: a collection error, no instances); a later suite of a name
        already taken gets ``~`` and a hash of its spec.
        """
        named: list[tuple[str, str, LoadedSuite | SuiteError]] = []
        used: set[str] = set()
        for spec in self._suite_specs():
            loaded: LoadedSuite | SuiteError
            try:
                loaded = self._load(spec)
            except SuiteError as exc:
                loaded = exc
            name = safe_name(spec) if isinstance(loaded, SuiteError) else node_name(loaded.name)
            if name in used:
                digest = hashlib.sha256(spec.encode("utf-8", "surrogatepass")).hexdigest()[:8]
                name = f"{name}{HASH_MARK}{digest}"
            used.add(name)
            named.append((spec, name, loaded))
        return named

    def _selected(self, suite: LoadedSuite) -> list[Instance]:
        """The suite's instances after the --unisafe-* selection options and the shard."""
        s = self.settings
        instances = select(suite.instances, tasks=s.tasks, categories=s.categories,
                           sample=s.subset, seed=s.seed, limit=s.limit)
        return in_shard(instances, s.shard)

    def _suite_collectors(self, session: pytest.Session) -> Iterator[pytest.Collector]:
        """One collector per suite spec; a suite that fails to load is one collection error."""
        registry = self.components.registry()
        for _, name, suite in self._named_suites():
            if isinstance(suite, SuiteError):
                yield BadInput.from_parent(session, name=name, nodeid=name, error=suite)
                continue
            instances = _renamed(self._selected(suite), name)
            tasks = {code: registry[code] for code in {i.task for i in instances}}
            self._suites.append((suite, len(instances)))
            yield SuiteCollector.from_parent(
                session, name=name, nodeid=name, suite=suite, instances=instances,
                tasks=tasks, runner=self.runner,
            )


def _renamed(instances: list[Instance], name: str) -> list[Instance]:
    if instances and instances[0].suite != name:
        return [i.model_copy(update={"suite": name}) for i in instances]
    return instances
