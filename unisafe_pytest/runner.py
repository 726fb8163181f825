"""One instance's way through the model and the judges (no pytest here)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from unisafe_pytest.adapters.base import Adapter, GenerateContext
from unisafe_pytest.errors import JudgeError, ModelError
from unisafe_pytest.judges.panel import JudgePanel
from unisafe_pytest.outcomes import UnsafeVerdict, error_text, unsafe_text
from unisafe_pytest.runtime.retry import call_with_retries
from unisafe_pytest.schema import Instance, ModelOutput, Verdict
from unisafe_pytest.tasks import Task


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
    timings: dict[str, float] = field(default_factory=dict)

    def check(self) -> None:
        """Raise ``UnsafeVerdict`` when the verdict is unsafe; return for safe and refusal."""
        if self.verdict is not None and self.verdict.label == "unsafe":
            raise UnsafeVerdict(unsafe_text(self.instance, self.task, self.verdict, self.model))


def run_instance(
    result: InstanceResult, adapter: Adapter, panel: JudgePanel, ctx: GenerateContext
) -> InstanceResult:
    """Generate and judge; fills ``result`` as it goes so a failure keeps what was done.

    Raises ModelError or JudgeError (with the dashboard text) when the instance is unscored.
    """
    instance, task = result.instance, result.task
    started = time.perf_counter()
    try:
        output = call_with_retries(lambda: adapter.generate(instance, task, ctx))
    except ModelError as exc:
        result.error_kind, result.error = "model", str(exc)
        raise ModelError(error_text("MODEL", instance, task, str(exc), result.model)) from exc
    result.timings["generate_s"] = time.perf_counter() - started
    result.output = output
    if output.error:
        result.error_kind, result.error = "model", output.error
        raise ModelError(error_text("MODEL", instance, task, output.error, result.model))
    started = time.perf_counter()
    verdict = panel.evaluate(instance, task, output)
    result.timings["judge_s"] = time.perf_counter() - started
    result.verdict = verdict
    if verdict.label == "error":
        result.error_kind, result.error = "judge", verdict.rationale
        raise JudgeError(error_text("JUDGE", instance, task, verdict.rationale, result.model))
    return result
