"""Pre-flight: how many model and judge calls a run needs, counted before the first call.

Cache hits are excluded when the cache can tell (the adapter is cacheable and the cache is
read). Judge calls are an upper bound: an output that turns out to be a refusal needs none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from unisafe_pytest.adapters.base import Adapter
from unisafe_pytest.runtime.cache import Cache, OutputKeys
from unisafe_pytest.runtime.keys import adapter_description
from unisafe_pytest.schema import Instance
from unisafe_pytest.tasks import TaskRegistry


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
