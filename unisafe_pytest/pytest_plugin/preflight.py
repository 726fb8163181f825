"""Pre-flight: how many model and judge calls a run needs, counted before the first call,
on the instances that will actually run (after pytest's own selection).

Cache hits are excluded when the cache can tell (the adapter is cacheable and the cache is
read). Judge calls are an upper bound: an output that turns out to be a refusal needs none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from unisafe_pytest.adapters.base import Adapter
from unisafe_pytest.errors import UnisafeError
from unisafe_pytest.pytest_plugin.collection import Collection
from unisafe_pytest.pytest_plugin.components import Components
from unisafe_pytest.pytest_plugin.items import InstanceItem
from unisafe_pytest.pytest_plugin.options import RunConfig
from unisafe_pytest.pytest_plugin.workers import is_worker
from unisafe_pytest.runtime.cache import Cache, OutputKeys
from unisafe_pytest.runtime.keys import adapter_description
from unisafe_pytest.schema import Instance
from unisafe_pytest.schema.tasks import TaskRegistry


@dataclass
class Plan:
    instances: int = 0
    unsupported: int = 0
    model_calls: int = 0
    cached_outputs: int = 0
    judge_calls_max: int = 0
    judges: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def calls_max(self) -> int:
        return self.model_calls + self.judge_calls_max

    def line(self) -> str:
        text = (f"unisafe: pre-flight: {self.instances} instances; {self.model_calls} model "
                f"calls needed ({self.cached_outputs} outputs cached); at most "
                f"{self.judge_calls_max} judge calls ({self.judges} judge(s))")
        if self.unsupported:
            text += f"; {self.unsupported} skipped as unsupported"
        return text + "".join(f"; {note}" for note in self.notes)


def plan(instances: Sequence[Instance], registry: TaskRegistry, adapter: Adapter | None,
         judges: int, cache: Cache | None, sample: int = 0) -> Plan:
    result = Plan(instances=len(instances), judges=judges)
    check_cache = (adapter is not None and cache is not None and cache.reads
                   and getattr(adapter, "cacheable", False) and cache.root.is_dir())
    keys = OutputKeys(adapter_description(adapter) if adapter is not None and check_cache
                      else {})
    for instance in instances:
        task = registry[instance.task]
        if adapter is not None and adapter.capabilities.unsupported_reason(task) is not None:
            result.unsupported += 1
            continue
        result.judge_calls_max += judges
        if check_cache and cache is not None and cache.has_output(keys.key(instance, sample)):
            result.cached_outputs += 1
            continue
        result.model_calls += 1
    if adapter is None:
        result.notes.append("model unknown before the run (a fixture): cache not checked")
    if check_cache:
        result.notes.append("judge calls exclude none: cached verdicts lower them")
    return result


class PreflightCheck:
    """The controller's pre-flight on what will actually run: the instance items left after
    pytest's own selection (``-k``, ``-m``, ``--lf``, pytest-split's group, ...), counted
    once collection is final and before any call. Over ``--unisafe-max-calls`` the run is a
    usage error; pytest-repeat's ``--count`` (which cannot repeat instances) is one too.

    A plain run checks at ``pytest_collection_finish`` (tryfirst: after every
    ``pytest_collection_modifyitems``); under xdist the controller checks the first worker's
    collection (xdist calls its hook before it schedules anything).
    """

    def __init__(self, config: pytest.Config, settings: RunConfig, components: Components,
                 collection: Collection, cache: Cache | None):
        self.config = config
        self.settings = settings
        self.components = components
        self.collection = collection
        self.cache = cache
        self.plan: Plan | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not is_worker(self.config):
            self.check([item.unisafe_instance for item in session.items
                        if isinstance(item, InstanceItem)])

    def pytest_report_collectionfinish(self, config: pytest.Config) -> str | None:
        return self.plan.line() if self.plan is not None else None

    def check_nodeids(self, nodeids: Sequence[str]) -> None:
        """Under xdist: the check on a worker's collected node ids (the controller's)."""
        if self.plan is not None:
            return
        planned = self.collection.planned
        self.check([planned[nodeid] for nodeid in nodeids if nodeid in planned])
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and self.plan is not None:
            reporter.write_line(self.plan.line())

    def check(self, instances: list[Instance]) -> None:
        """Count ``instances``' calls; refuse the run when it would break a rule."""
        if instances:
            repeat_problem(self.config, self.settings)
        adapter = None
        if self.settings.model:
            try:
                adapter = self.components.adapter()
            except UnisafeError:
                adapter = None  # every instance will report the error itself
        self.plan = plan(instances, self.components.registry(), adapter,
                         max(1, len(self.settings.judges)), self.cache)
        max_calls = self.settings.max_calls
        if (max_calls is not None and self.plan.calls_max > max_calls
                and not self.config.option.collectonly):
            raise pytest.UsageError(
                f"this run needs up to {self.plan.calls_max} model + judge calls "
                f"({self.plan.line().removeprefix('unisafe: pre-flight: ')}), over "
                f"--unisafe-max-calls={max_calls}; narrow it with --unisafe-task, "
                "--unisafe-subset, --unisafe-limit or pytest's own selection (-k, -m, a "
                "pytest-split group), or raise the limit")


def repeat_problem(config: pytest.Config, settings: RunConfig) -> None:
    """pytest-repeat's ``--count N`` repeats test functions through parametrization, which
    instance items do not use: refused (a usage error naming ``--unisafe-samples``) rather
    than silently ignored."""
    count = getattr(config.option, "count", None)
    if not config.pluginmanager.hasplugin("repeat") or not isinstance(count, int) or count < 2:
        return
    raise pytest.UsageError(
        f"unisafe: --count={count} (pytest-repeat) does not repeat benchmark instances; for "
        f"{count} generations of each instance use --unisafe-samples={count} (one outcome per "
        "instance, see --unisafe-reducer), or leave --count out of the safety run (name "
        "your own tests' paths to repeat them alone)")
