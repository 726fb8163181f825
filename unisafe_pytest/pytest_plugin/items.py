"""Collectors and items: every benchmark instance becomes a test ``<suite>::<TASK>::<id>``.

The model call and the judging happen in the item's *setup* (after its two fixtures,
``unisafe_model`` and ``unisafe_judge``), so a model or judge failure is a pytest error (JUnit
``<error>``); the test body only checks the verdict, so an unsafe verdict is a failure.
"""

from __future__ import annotations

import hashlib
import re
import types
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from unisafe_pytest.errors import SuiteError, UnisafeError
from unisafe_pytest.pytest_plugin.failures import failure_repr
from unisafe_pytest.runtime.instance import InstanceResult
from unisafe_pytest.runtime.verdict_text import MESSAGE_CHARS, UnisafeFailure, shown
from unisafe_pytest.schema import Instance
from unisafe_pytest.schema.tasks import Task

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from unisafe_pytest.suites import LoadedSuite

RESULT_KEY = pytest.StashKey[InstanceResult]()
"""An instance item's result, stashed by its setup for its test body and its record."""


class InstanceRunner(Protocol):
    """What an instance item's setup calls (the run's ``execution.Execution``)."""

    def run(self, item: InstanceItem, model: Any, judge: Any) -> InstanceResult:
        """Generate and judge ``item``'s instance; stash the result; raise its failure."""


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def safe_name(value: str) -> str:
    """A marker and file-name friendly spelling: ``[A-Za-z0-9_-]`` only."""
    return _UNSAFE_NAME.sub("_", value).strip("_") or "_"


HASH_MARK = "~"
"""Separates an escaped name from the hash of its original spelling (never kept by
:func:`node_name`, so only a hashed name holds it)."""


def _kept(char: str) -> bool:
    return char.isalnum() or char in "_-."


def node_name(value: str) -> str:
    """The node-id part for a suite name or instance id: a pure function of ``value``.

    A value made only of letters and digits (any script), ``_``, ``-`` and ``.`` is kept as
    it is. Any other value has each other character replaced by ``_`` and gets ``~`` plus 8
    hex digits of the sha256 of the original value, so two values never share a name (``a b``
    and ``a/b`` differ) and a name never depends on what else is in the file or its order.
    """
    if value and all(_kept(char) for char in value):
        return value
    escaped = "".join(char if _kept(char) else "_" for char in value)
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{escaped}{HASH_MARK}{digest}"


def instance_nodeid(suite_name: str, task: str, instance_id: str) -> str:
    """``<suite>::<TASK>::<id>``: the one node id of an instance, used by collection, the
    controller's planned map (crash records, completeness) and the records."""
    return f"{suite_name}::{task}::{node_name(instance_id)}"


FIXED_MARKERS = ("unisafe", "unisafe_risky", "unisafe_benign")
"""Markers every run registers up front (with ``unisafe_task_<code>`` for each known task),
so ``--strict-markers -m unisafe_benign`` is fine on a suite without benign instances."""


def register_markers(config: pytest.Config, names: Iterable[str]) -> None:
    """Add each name not yet registered to the ``markers`` ini value (once per run)."""
    registered = config.stash.setdefault(_REGISTERED_KEY, set())
    for name in names:
        if name not in registered:
            config.addinivalue_line("markers", f"{name}: unisafe-pytest selection marker")
            registered.add(name)


def marker_names(instance: Instance) -> list[str]:
    names = ["unisafe", f"unisafe_suite_{safe_name(instance.suite)}",
             f"unisafe_task_{instance.task}", f"unisafe_category_{safe_name(instance.category)}"]
    if instance.subcategory:
        names.append(f"unisafe_subcategory_{safe_name(instance.subcategory)}")
    names.append("unisafe_risky" if instance.risky else "unisafe_benign")
    return names


def unisafe_check(unisafe_model: object, unisafe_judge: object) -> None:
    """The fixtures every instance test needs (its body is ``InstanceItem.runtest``).

    Only these two session-scoped fixtures: a function-scoped fixture, or one taking
    ``request``, would cost pytest a fixture definition per instance.
    """


def description(instance: Instance, task: Task) -> str:
    """What an instance test checks, as reports show a test's docstring (Allure's
    description, pytest-html recipes reading ``item.function.__doc__``): the instance, its
    category, the request (cut, printable) and the pass rule. Nothing internal."""
    where = f"{instance.category}/{instance.subcategory}" if instance.subcategory else (
        instance.category)
    request = " ".join((instance.instruction or " | ".join(instance.turns) or "").split())
    lines = [
        f"unisafe {instance.suite} {task.code} ({task.name}) {instance.id}: "
        f"{'risky' if instance.risky else 'benign'} request, category {where}.",
    ]
    if request:
        lines.append(f"Request: {request}")
    if instance.images:
        lines.append(f"Input images: {len(instance.images)}.")
    lines.append("Passes when the model answers and every judge finds the answer safe or a "
                 "refusal; fails on an unsafe verdict; a model or judge error is an error.")
    return "\n".join(shown(line, MESSAGE_CHARS + 100) for line in lines)


class _ErrorRepr(pytest.Collector):
    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, UnisafeError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class BadInput(_ErrorRepr):
    """A suite that could not be loaded at all, or one invalid record of a suite: a
    collection error naming the file (and line); the rest still runs."""

    def __init__(self, *, error: SuiteError, **kwargs: Any):
        super().__init__(**kwargs)
        self.error = error

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        raise self.error


class SuiteCollector(_ErrorRepr):
    """A loaded suite; children are one collector per task, plus one per invalid record."""

    def __init__(self, *, suite: LoadedSuite, instances: list[Instance],
                 tasks: dict[str, Task], runner: InstanceRunner, **kwargs: Any):
        super().__init__(**kwargs)
        self.suite = suite
        self.instances = instances
        self.tasks = tasks
        self.runner = runner

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        by_task: dict[str, list[Instance]] = {}
        for instance in self.instances:
            by_task.setdefault(instance.task, []).append(instance)
        for code, instances in by_task.items():
            yield TaskCollector.from_parent(
                self, name=code, nodeid=f"{self.nodeid}::{code}",
                task=self.tasks[code], instances=instances, runner=self.runner,
            )
        for number, error in enumerate(self.suite.errors, start=1):
            label = f"invalid-line-{error.line}" if error.line else f"invalid-{number}"
            yield BadInput.from_parent(self, name=label, nodeid=f"{self.nodeid}::{label}",
                                        error=error)


class TaskCollector(pytest.Collector):
    """The instances of one task in one suite."""

    def __init__(self, *, task: Task, instances: list[Instance], runner: InstanceRunner,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.task = task
        self.instances = instances
        self.runner = runner

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        fixtureinfo = None
        seen: set[str] = set()
        for instance in self.instances:
            # ids are unique per (suite, task): the loader reports a repeated one at its line
            name = node_name(instance.id)
            if name in seen:  # two escaped ids whose 8-digit hashes collide
                yield BadInput.from_parent(self, name=f"{name}-duplicate",
                                            nodeid=f"{self.nodeid}::{name}-duplicate",
                                            error=_name_clash(instance, name))
                continue
            seen.add(name)
            item = InstanceItem.from_parent(
                self, name=name, callobj=unisafe_check, fixtureinfo=fixtureinfo,
                instance=instance, task=self.task, runner=self.runner,
            )
            # the same for every instance of the task; pytest has no public accessor (a new
            # closure per item would cost a fixture lookup per instance)
            fixtureinfo = item._fixtureinfo
            yield item


def _name_clash(instance: Instance, name: str) -> SuiteError:
    source = instance.source
    return SuiteError(
        f"instance id {instance.id!r} has the node id {name!r} of an earlier instance of "
        f"task {instance.task}; rename one of the two ids",
        source.file if source is not None else None,
        source.line if source is not None else None)


class InstanceItem(pytest.Function):
    """One benchmark instance as a test."""

    def __init__(self, *, instance: Instance, task: Task, runner: InstanceRunner,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.unisafe_instance = instance
        self.unisafe_task = task
        self.unisafe_runner = runner
        decorators = _marker_decorators(self.config)
        for name in marker_names(instance):
            decorator = decorators.get(name)
            if decorator is None:
                register_markers(self.config, [name])
                decorator = decorators[name] = getattr(pytest.mark, name)
            self.add_marker(decorator)
        self.extra_keyword_matches.update(
            k for k in (instance.category, instance.subcategory) if k
        )

    def setup(self) -> None:
        super().setup()
        self.unisafe_runner.run(self, self.funcargs["unisafe_model"],
                                self.funcargs["unisafe_judge"])

    def runtest(self) -> None:
        """Fail on an unsafe verdict (the result was computed in setup)."""
        self.stash[RESULT_KEY].check()

    @property
    def function(self) -> Any:
        """The test function as reporting tools read it: the shared check, with this
        instance's :func:`description` as its docstring (made on each read, kept nowhere)."""
        check = types.FunctionType(unisafe_check.__code__, unisafe_check.__globals__,
                                   f"unisafe_{self.unisafe_task.code}")
        check.__doc__ = description(self.unisafe_instance, self.unisafe_task)
        return check

    def reportinfo(self) -> tuple[Any, int, str]:
        source = self.unisafe_instance.source
        line = source.line - 1 if source is not None and source.line else 0
        return self.path, line, f"unisafe: {self.unisafe_task.code} {self.unisafe_instance.id}"

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, UnisafeFailure | UnisafeError):
            return failure_repr(excinfo)
        return super().repr_failure(excinfo)


_MARKERS_KEY = pytest.StashKey[dict[str, pytest.MarkDecorator]]()
_REGISTERED_KEY = pytest.StashKey[set[str]]()


def _marker_decorators(config: pytest.Config) -> dict[str, pytest.MarkDecorator]:
    """Registered marker decorators by name (registering once per name, not per item)."""
    known = config.stash.get(_MARKERS_KEY, None)
    if known is None:
        known = config.stash[_MARKERS_KEY] = {}
    return known
