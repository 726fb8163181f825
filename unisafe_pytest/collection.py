"""Building the suite collectors that the session adds under pytest's Session node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.heap import paused
from unisafe_pytest.items import BadInput, SuiteCollector, safe_name
from unisafe_pytest.schema import Instance
from unisafe_pytest.selection import select
from unisafe_pytest.shards import in_shard

if TYPE_CHECKING:
    from unisafe_pytest.session import UnisafeSession
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


def planned_instances(unisafe: UnisafeSession) -> list[Instance]:
    """The instances the run will hold (before -k/-m), for the pre-flight count."""
    instances: list[Instance] = []
    for spec in suite_specs(unisafe):
        try:
            suite = _load(unisafe, spec)
        except SuiteError:
            continue
        instances += _selected(unisafe, suite)
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
    used: set[str] = set()
    for spec in suite_specs(unisafe):
        try:
            suite = _load(unisafe, spec)
        except SuiteError as exc:
            name = _unique(safe_name(spec), used)
            yield BadInput.from_parent(session, name=name, nodeid=name, error=exc)
            continue
        name = _unique(safe_name(suite.name), used)
        instances = _selected(unisafe, suite)
        if name != suite.name:
            instances = [i.model_copy(update={"suite": name}) for i in instances]
        tasks = {code: registry[code] for code in {i.task for i in instances}}
        unisafe.suites.append((suite, len(instances)))
        unisafe.selected += len(instances)
        yield SuiteCollector.from_parent(
            session, name=name, nodeid=name, suite=suite, instances=instances, tasks=tasks
        )


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}-{n}"
    used.add(candidate)
    return candidate
