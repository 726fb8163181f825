"""Running instances: an instance item's setup generates and judges through the run's
prefetch pipeline, looking ahead at the items this process runs next.

Two rules hold whatever other plugins do to an item's setup:

- an unsafe verdict stands for the rest of the run: a rerun of the item (pytest-rerunfailures,
  flaky) gets the same verdict back without a call, so it fails again. A model or judge error
  is retried by a rerun like any failure;
- an interruption of the calls from outside (pytest-timeout's ``pytest.fail``) is the model's
  error (the judge's, when it hit a judge call), recorded under the run's model.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from unisafe_pytest.adapters.base import Adapter
from unisafe_pytest.errors import InfrastructureError, JudgeError, ModelError
from unisafe_pytest.judges.panel import JudgePanel
from unisafe_pytest.pytest_plugin.components import Components
from unisafe_pytest.pytest_plugin.identity import RunIdentity
from unisafe_pytest.pytest_plugin.items import RESULT_KEY, InstanceItem
from unisafe_pytest.pytest_plugin.options import RunConfig
from unisafe_pytest.pytest_plugin.workers import upcoming_indices
from unisafe_pytest.report import rundir
from unisafe_pytest.runtime.cache import Cache
from unisafe_pytest.runtime.instance import InstanceResult, RunContext, combine_samples, compute
from unisafe_pytest.runtime.limiter import Limiter
from unisafe_pytest.runtime.pipeline import Prefetcher
from unisafe_pytest.runtime.retry import RetryBudgets
from unisafe_pytest.runtime.verdict_text import error_text

_UNSAFE_KEY = pytest.StashKey[InstanceResult]()
"""An item's unsafe result, kept for the rest of the run (a rerun gets it back)."""


class Execution:
    """This process's run context and prefetch pipeline, and the setup of instance items."""

    def __init__(self, config: pytest.Config, settings: RunConfig, identity: RunIdentity,
                 components: Components):
        self.config = config
        self.settings = settings
        self.identity = identity
        self.components = components
        self.cache = Cache(settings.cache_dir, settings.cache_mode) if (  # type: ignore[arg-type]
            settings.cache_dir is not None and settings.cache_mode != "off") else None
        """The response and verdict cache (``None`` with ``--unisafe-cache=off``)."""
        self._run: tuple[tuple[int, int], RunContext, Prefetcher[Any, InstanceResult]] | None = (
            None)
        self._order: dict[str, int] | None = None

    def run(self, item: InstanceItem, model: Any, judge: Any) -> InstanceResult:
        """Generate and judge ``item``'s instance, in its setup (failures are pytest errors).

        The calls may already have run ahead on the prefetch pipeline; this takes their
        result. The result is stashed on the item for its test body and its record.
        """
        earlier = item.stash.get(_UNSAFE_KEY, None)
        if earlier is not None:  # a rerun: the unsafe verdict stands, nothing is asked again
            item.stash[RESULT_KEY] = earlier
            return earlier
        adapter = self.components.wrapped_adapter(model)
        reason = adapter.capabilities.unsupported_reason(item.unisafe_task)
        if reason is not None:
            item.stash[RESULT_KEY] = InstanceResult(
                instance=item.unisafe_instance, task=item.unisafe_task, model=adapter.name)
            pytest.skip(f"{reason} [--unisafe-model={self.identity.model_label}]")
        panel = self.components.wrapped_panel(judge)
        self.components.describe(adapter, panel)
        run, pipeline = self._runtime(adapter, panel)
        samples = range(self.settings.samples)
        mine = [(item, s) for s in samples]
        pipeline.ahead(itertools.chain(
            mine, ((nxt, s) for nxt in self._upcoming(item, adapter) for s in samples)))
        # until the result is in, the item's record names the run's model (an interruption)
        item.stash[RESULT_KEY] = InstanceResult(
            instance=item.unisafe_instance, task=item.unisafe_task, model=adapter.name)
        try:
            taken = [pipeline.take(key) for key in mine]
        except pytest.fail.Exception as exc:  # pytest-timeout (or a fail() from outside)
            raise _interrupted(item.stash[RESULT_KEY], exc) from None
        finally:
            run.finished(item.unisafe_instance)
        result = combine_samples(taken, self.settings.reducer)
        item.stash[RESULT_KEY] = result
        if _failing(result) and _reaches_maxfail(item):
            self.stop()  # -x / --maxfail: this failure ends the run; start nothing more
        if result.verdict is not None and result.verdict.label == "unsafe":
            item.stash[_UNSAFE_KEY] = result
        result.raise_failure()
        if result.output is not None and result.verdict is not None:
            item.config.hook.pytest_unisafe_verdict(
                instance=item.unisafe_instance, output=result.output, verdict=result.verdict,
                item=item,
            )
        return result

    def _runtime(self, adapter: Adapter, panel: JudgePanel
                 ) -> tuple[RunContext, Prefetcher[Any, InstanceResult]]:
        """The run context and prefetch pipeline of this process for (adapter, panel)."""
        ident = (id(adapter), id(panel))
        if self._run is None or self._run[0] != ident:
            s = self.settings
            run_dir, run_id = self.identity.run_dir, self.identity.run_id
            limiter = Limiter(rundir.limiter_dir(run_dir, run_id), s.concurrency)
            run = RunContext(adapter=adapter, panel=panel, output_dir=rundir.outputs_dir(run_dir),
                             model=adapter.name, cache=self.cache, limiter=limiter,
                             budgets=RetryBudgets(s.retry_budget))
            threads = min(s.concurrency, int(getattr(adapter, "max_concurrency", 1)))
            window = s.prefetch if s.prefetch is not None else 2 * s.concurrency

            stops = int(self.config.getoption("maxfail", 0) or 0) > 0

            def work(key: tuple[Any, int]) -> InstanceResult:
                item, sample = key
                with run.scope(item.unisafe_instance):
                    result = compute(item.unisafe_instance, item.unisafe_task, run, sample)
                if stops and _failing(result):
                    # under -x / --maxfail a failure may end the run once its item is reached:
                    # start nothing more ahead from now on (the items before it are still
                    # computed when they are taken); the check at the item stays for the rest
                    self.stop()
                return result

            if self._run is not None:
                self._run[2].close()
            self._run = (ident, run, Prefetcher(work, threads=threads, window=window,
                                                waited=lambda result: result.calls > 0))
        return self._run[1], self._run[2]

    def _upcoming(self, item: pytest.Item, adapter: Adapter) -> Iterator[InstanceItem]:
        """The instance items this process will run after ``item``, in order."""
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

    def stop(self) -> None:
        """The run is stopping (``-x``, ``--maxfail``, ``session.shouldstop``): nothing more
        is started ahead; calls in flight finish (their cache entries are written)."""
        if self._run is not None:
            self._run[2].close()

    def close(self) -> None:
        self.stop()


def _failing(result: InstanceResult) -> bool:
    """The result fails its test: an error, or an unsafe verdict."""
    return result.exception is not None or (
        result.verdict is not None and result.verdict.label == "unsafe")


def _reaches_maxfail(item: pytest.Item) -> bool:
    """Whether one more failure stops the run (``-x`` is ``--maxfail=1``)."""
    maxfail = int(item.config.getoption("maxfail", 0) or 0)
    return maxfail > 0 and item.session.testsfailed + 1 >= maxfail


def _interrupted(partial: InstanceResult, exc: BaseException) -> InfrastructureError:
    """The error of an instance whose calls were stopped from outside (pytest-timeout's
    ``pytest.fail`` in the test's thread): a judge error when a judge call was running, else a
    model error; ``partial`` (the stashed result) carries it to the record."""
    in_judge = False
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith("unisafe_pytest.judges"):
            in_judge = True
        tb = tb.tb_next
    what = "a judge" if in_judge else "the model"
    cause = " ".join(str(exc).split()) or type(exc).__name__
    message = (f"stopped from outside while {what} was being asked ({cause}); nothing was "
               "judged. Give the calls more time (pytest-timeout's --timeout) or set the "
               "model's own request timeout below it")
    kind = "judge" if in_judge else "model"
    text = error_text(kind.upper(), partial.instance, partial.task, message, partial.model)
    error: InfrastructureError = JudgeError(text) if in_judge else ModelError(text)
    partial.error_kind, partial.error, partial.exception = kind, message, error
    return error
