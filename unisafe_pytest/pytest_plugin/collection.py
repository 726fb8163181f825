"""Building the suite collectors that the session adds under pytest's Session node."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.pytest_plugin.heap import paused
from unisafe_pytest.pytest_plugin.items import (
    HASH_MARK,
    BadInput,
    SuiteCollector,
    instance_nodeid,
    node_name,
    safe_name,
)
from unisafe_pytest.schema import Instance
from unisafe_pytest.suites.selection import select
from unisafe_pytest.suites.shards import in_shard

if TYPE_CHECKING:
    from unisafe_pytest.pytest_plugin.session import UnisafeSession
    from unisafe_pytest.suites import LoadedSuite


def suite_specs(unisafe: UnisafeSession) -> list[str]:
    specs = list(unisafe.settings.suites)
    for extra in unisafe.config.hook.pytest_unisafe_suites(config=unisafe.config):
        specs += [s for s in extra or [] if s not in specs]
    return specs


def _load(unisafe: UnisafeSession, spec: str) -> LoadedSuite:
    """Load a suite once per process (pre-flight and collection share it)."""
    known: LoadedSuite | SuiteError | None = unisafe.loaded.get(spec)
    if isinstance(known, SuiteError):
        raise known
    if known is None:
        try:
            with paused():  # the instances all stay alive: collector passes would be waste
                known = _load_uncached(unisafe, spec)
        except SuiteError as exc:
            unisafe.loaded[spec] = exc
            raise
        unisafe.loaded[spec] = known
    return known


def named_suites(unisafe: UnisafeSession) -> list[tuple[str, str, LoadedSuite | SuiteError]]:
    """``(spec, node name, suite or its load error)`` per suite spec, in spec order.

    The one naming of suites, shared by collection and the controller's planned map: the
    name is :func:`~.items.node_name` of the suite's name (``safe_name`` of the
    spec when it did not load: a collection error, no instances); a later suite of a name
    already taken gets ``~`` and a hash of its spec.
    """
    named: list[tuple[str, str, LoadedSuite | SuiteError]] = []
    used: set[str] = set()
    for spec in suite_specs(unisafe):
        loaded: LoadedSuite | SuiteError
        try:
            loaded = _load(unisafe, spec)
        except SuiteError as exc:
            loaded = exc
        name = safe_name(spec) if isinstance(loaded, SuiteError) else node_name(loaded.name)
        if name in used:
            digest = hashlib.sha256(spec.encode("utf-8", "surrogatepass")).hexdigest()[:8]
            name = f"{name}{HASH_MARK}{digest}"
        used.add(name)
        named.append((spec, name, loaded))
    return named


def planned_instances(unisafe: UnisafeSession) -> dict[str, Instance]:
    """The instances the run will hold (before -k/-m) by node id, as collection names them
    (pre-flight count, crash records, completeness)."""
    planned: dict[str, Instance] = {}
    for _, name, suite in named_suites(unisafe):
        if isinstance(suite, SuiteError):
            continue
        for instance in _renamed(_selected(unisafe, suite), name):
            planned[instance_nodeid(name, instance.task, instance.id)] = instance
    return planned


def _renamed(instances: list[Instance], name: str) -> list[Instance]:
    if instances and instances[0].suite != name:
        return [i.model_copy(update={"suite": name}) for i in instances]
    return instances


def _selected(unisafe: UnisafeSession, suite: LoadedSuite) -> list[Instance]:
    """The suite's instances after the --unisafe-* selection options and the shard."""
    s = unisafe.settings
    instances = select(suite.instances, tasks=s.tasks, categories=s.categories,
                       sample=s.sample, seed=s.seed, limit=s.limit)
    return in_shard(instances, s.shard)


def _load_uncached(unisafe: UnisafeSession, spec: str) -> LoadedSuite:
    config = unisafe.config
    try:
        suite: LoadedSuite | None = config.hook.pytest_unisafe_load_suite(
            spec=spec, registry=unisafe.registry(), config=config
        )
    except SuiteError:
        raise
    except Exception as exc:  # a loader bug must not take the other suites down
        raise SuiteError(f"loading suite {spec!r} failed: {type(exc).__name__}: {exc}") from exc
    if suite is None:
        raise SuiteError(f"no loader accepted the suite spec {spec!r}")
    return suite


def suite_collectors(
    unisafe: UnisafeSession, session: pytest.Session
) -> Iterator[pytest.Collector]:
    """One collector per suite spec; a suite that fails to load is one collection error."""
    registry = unisafe.registry()
    for _, name, suite in named_suites(unisafe):
        if isinstance(suite, SuiteError):
            yield BadInput.from_parent(session, name=name, nodeid=name, error=suite)
            continue
        instances = _renamed(_selected(unisafe, suite), name)
        tasks = {code: registry[code] for code in {i.task for i in instances}}
        unisafe.suites.append((suite, len(instances)))
        unisafe.selected += len(instances)
        yield SuiteCollector.from_parent(
            session, name=name, nodeid=name, suite=suite, instances=instances, tasks=tasks
        )
