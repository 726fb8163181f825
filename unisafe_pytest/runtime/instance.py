"""One instance's way through the model and the judges (no pytest here).

    cache hit? -> output           else: limiter slot -> adapter.generate (retried) -> cache
    refusal rule -> no judge call  else: per judge: cache hit? else slot -> judge -> cache
    -> Verdict.combine

``compute`` never raises: it is run ahead of time on worker threads by the prefetch pipeline,
so it keeps what happened (output, verdict, or the exception) in the InstanceResult, and the
``unisafe_result`` fixture turns that into the outcome in the item's own setup.

Provider data is redacted of the run's secrets where it enters (``runtime/secrets.py``): the
output as the adapter returns it (before the cache and the judges), each judge's rows as the
judge returns them (before the cache and the records), and every error message. A cached
output's key holds every setting of the adapter (``runtime/keys.py``); cached rows are used
only when their raw answers still give their labels (``runtime/verify.py``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from unisafe_pytest.adapters.base import Adapter, GenerateContext
from unisafe_pytest.adapters.replies import checked_answer
from unisafe_pytest.errors import InfrastructureError, JudgeError, ModelError
from unisafe_pytest.judges.base import Judge
from unisafe_pytest.judges.panel import JudgePanel, ask_directly
from unisafe_pytest.runtime.cache import Cache, OutputKeys, VerdictKeys, instance_key
from unisafe_pytest.runtime.calls import CallPolicy, applying, in_force
from unisafe_pytest.runtime.keys import adapter_description, settings_fingerprint
from unisafe_pytest.runtime.limiter import Limiter
from unisafe_pytest.runtime.retry import RetryBudgets
from unisafe_pytest.runtime.secrets import redact, register_run, scrub
from unisafe_pytest.runtime.verdict_text import UnsafeVerdict, error_text, unsafe_text
from unisafe_pytest.runtime.verify import check_rows
from unisafe_pytest.schema import Instance, JudgeRow, ModelOutput, Verdict
from unisafe_pytest.schema.tasks import Task


@dataclass
class InstanceResult:
    """What the ``unisafe_result`` fixture returns to the test body."""

    instance: Instance
    task: Task
    model: str
    output: ModelOutput | None = None
    verdict: Verdict | None = None
    error_kind: str | None = None
    error: str | None = None
    exception: BaseException | None = None
    """The failure to raise in the item's setup (the dashboard text is in its message)."""
    cache: dict[str, Any] = field(default_factory=dict)
    """``{"output": "hit"|"miss"|"off", "why": ...}`` for the record."""
    sample: int = 0
    """Which generation of the instance this is (``--unisafe-samples``)."""
    output_key: str | None = None
    """The output's cache key, once computed (its judgments' keys build on it)."""
    samples: list[InstanceResult] = field(default_factory=list)
    """With several samples: every sample's result (this one is the representative)."""
    timings: dict[str, float] = field(default_factory=dict)
    calls: int = 0
    """Model and judge calls made for this result (0: everything came from the cache)."""

    def check(self) -> None:
        """Raise ``UnsafeVerdict`` when the verdict is unsafe; return for safe and refusal."""
        if self.verdict is not None and self.verdict.label == "unsafe":
            raise UnsafeVerdict(unsafe_text(self.instance, self.task, self.verdict, self.model))

    def raise_failure(self) -> None:
        if self.exception is not None:
            raise self.exception


@dataclass
class RunContext:
    """Everything ``compute`` needs besides the instance."""

    adapter: Adapter
    panel: JudgePanel
    output_dir: Path
    model: str
    cache: Cache | None = None
    limiter: Limiter | None = None
    budgets: RetryBudgets = field(default_factory=RetryBudgets)
    """Each instance's retry budget (``--unisafe-retry-budget``), shared by its samples."""
    calls: dict[str, int] = field(default_factory=lambda: {"model": 0, "judge": 0})
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _output_keys: OutputKeys | None = None
    _verdict_keys: dict[int, VerdictKeys] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # the credentials of the environment, the adapter and the judges, redacted from
        # everything the run takes in (see the module docstring)
        register_run(self.adapter, self.panel)

    def output_keys(self) -> OutputKeys:
        """The adapter's output keys (its description and settings are read once per run)."""
        if self._output_keys is None:
            self._output_keys = OutputKeys(adapter_description(self.adapter))
        return self._output_keys

    def verdict_keys(self, judge: Judge) -> VerdictKeys:
        """A judge's verdict keys: its spec, with the settings of the backend it asks (an
        endpoint's full URL, options) as :func:`settings_fingerprint` digests them."""
        keys = self._verdict_keys.get(id(judge))
        if keys is None:
            spec = judge.spec
            backend = getattr(judge, "backend", None)
            if backend is not None:
                spec = spec.model_copy(update={"args": {
                    **spec.args, "request_settings": settings_fingerprint(backend)}})
            keys = self._verdict_keys[id(judge)] = VerdictKeys(spec)
        return keys

    def _count(self, kind: str, result: InstanceResult) -> None:
        result.calls += 1
        with self._lock:
            self.calls[kind] += 1

    def scope(self, instance: Instance) -> contextlib.AbstractContextManager[None]:
        """Calls made inside (model and judge backends) retry within ``instance``'s budget and
        tell the limiter their 429s and answers (``runtime/calls.py``)."""
        budget = self.budgets.of((instance.suite, instance.task, instance.id))
        return applying(CallPolicy(self.limiter, budget))

    def finished(self, instance: Instance) -> None:
        """Every sample of ``instance`` is computed: its retry budget is let go."""
        self.budgets.release((instance.suite, instance.task, instance.id))

    def _limited(self, fn: Any) -> Any:
        """A model call: a limiter slot per attempt, retried under the policy in force."""
        return in_force(CallPolicy(self.limiter)).call(fn)

    def _checked(self, output: ModelOutput, task: Task) -> ModelOutput:
        """Any adapter's output meets the reading rule before a judge or the cache sees it
        (:func:`unisafe_pytest.adapters.replies.checked_answer`)."""
        return checked_answer(output, task, getattr(self.adapter, "name", "model"))

    def generate(self, instance: Instance, task: Task, result: InstanceResult) -> ModelOutput:
        ctx = GenerateContext(output_dir=self.output_dir, sample=result.sample)
        cacheable = self.cache is not None and getattr(self.adapter, "cacheable", False)
        if not cacheable:
            result.cache["output"] = "off"
            self._count("model", result)
            output: ModelOutput = self._limited(lambda: self.adapter.generate(instance, task, ctx))
            return scrub(self._checked(output, task))
        cache, keys = self.cache, self.output_keys()
        assert cache is not None
        key = keys.key(instance, result.sample)
        result.output_key = key

        def ikey() -> str:  # only on a miss: where the last key of this instance is kept
            return instance_key(instance.suite, instance, result.sample)

        def why() -> str:
            return cache.why(ikey(), key, keys.material(instance, result.sample))

        cached = cache.get_output(key, why)
        if cached is not None:
            result.cache["output"] = "hit"
            return scrub(cached)
        result.cache.update(output="miss", why=why())
        self._count("model", result)
        output = scrub(self._checked(
            self._limited(lambda: self.adapter.generate(instance, task, ctx)), task))
        cache.put_output(key, ikey(), keys.material(instance, result.sample), output)
        result.cache["output_key"] = key
        return output

    def ask(self, judge: Judge, instance: Instance, task: Task, output: ModelOutput,
            result: InstanceResult) -> list[JudgeRow]:
        """One judge's rows for ``result``'s output, through the cache; network judges take
        a limiter slot for the judgment, or one per HTTP attempt when their backend does."""
        outer_slot = bool(getattr(judge, "remote", False)) and not getattr(
            judge, "limits_own_calls", False)

        def call() -> list[JudgeRow]:
            self._count("judge", result)
            if outer_slot and self.limiter is not None:
                # a judge of its own making: one slot for the whole judgment. Our backends
                # (limits_own_calls) retry under the policy in force (``scope``), a slot per
                # attempt: their 429s shrink the limit, their waits hold no slot and come
                # out of the instance's retry budget
                with self.limiter.slot():
                    return scrub(ask_directly(judge, instance, task, output))
            return scrub(ask_directly(judge, instance, task, output))

        if self.cache is None or not getattr(judge, "cacheable", False):
            return call()
        out_key = result.output_key or self.output_keys().key(instance, result.sample)
        keys = self.verdict_keys(judge)
        key = keys.key(out_key, output, instance)
        cached = self.cache.get_rows(key, lambda rows: check_rows(judge, rows))
        if cached is not None:
            return scrub(cached)
        rows = call()
        self.cache.put_rows(key, keys.material(out_key, output, instance), rows)
        return rows


def compute(instance: Instance, task: Task, run: RunContext, sample: int = 0) -> InstanceResult:
    """Generate and judge one instance; never raises (see the module docstring)."""
    result = InstanceResult(instance=instance, task=task, model=run.model, sample=sample)
    started = time.perf_counter()
    try:
        output = run.generate(instance, task, result)
    except ModelError as exc:
        return _failed(result, "model", str(exc), exc)
    except Exception as exc:  # a cache miss in replay-only mode, a bug in an adapter...
        return _failed(result, "model", f"{type(exc).__name__}: {exc}", exc)
    result.timings["generate_s"] = time.perf_counter() - started
    result.output = output
    if output.error:
        return _failed(result, "model", output.error, None)
    started = time.perf_counter()
    try:
        verdict = scrub(run.panel.evaluate(  # error rows quote judges' exceptions
            instance, task, output,
            ask=lambda j, i, t, o: run.ask(j, i, t, o, result)))
    except Exception as exc:
        return _failed(result, "judge", f"{type(exc).__name__}: {exc}", exc)
    result.timings["judge_s"] = time.perf_counter() - started
    result.verdict = verdict
    if verdict.label == "error":
        return _failed(result, "judge", verdict.rationale, None)
    return result


def _failed(result: InstanceResult, kind: str, message: str,
            cause: BaseException | None) -> InstanceResult:
    message = redact(message)
    if cause is not None and redact(str(cause)) != str(cause):
        # the chained exception is printed with the traceback: keep its type, not the secret
        cause = RuntimeError(f"{type(cause).__name__}: {redact(str(cause))}")
    result.error_kind, result.error = kind, message
    text = error_text(kind.upper(), result.instance, result.task, message, result.model)
    error: InfrastructureError = ModelError(text) if kind == "model" else JudgeError(text)
    error.__cause__ = cause
    result.exception = error
    return result


def combine_samples(results: list[InstanceResult], reducer: str) -> InstanceResult:
    """One outcome from several samples: the reducer's label, shown by a sample that has it.

    A sample that failed (model or judge) makes the outcome an error unless the valid samples
    make it unsafe anyway (:func:`unisafe_pytest.metrics.samples.reduce_verdicts`); the error
    shown is the first failed sample's.
    """
    from unisafe_pytest.metrics.samples import reduce_verdicts

    if len(results) == 1:
        return results[0]
    label = reduce_verdicts([r.verdict for r in results], reducer)  # type: ignore[arg-type]
    if label == "error":
        chosen = next(r for r in results if r.exception is not None)
    else:
        chosen = next((r for r in results if r.verdict is not None
                       and r.verdict.label == label), None) or next(
            r for r in results if r.verdict is not None and r.verdict.label != "error")
        if label == "unsafe" and chosen.verdict is not None and chosen.verdict.label != "unsafe":
            chosen.verdict = chosen.verdict.model_copy(update={"label": "unsafe"})
    representative = replace(chosen, samples=list(results))
    if label != "error":
        representative.exception = None
    return representative
