"""The adapter protocol: how a model under test is asked one instance.

An adapter *translates* (Instance -> request -> ModelOutput) and classifies its errors.
Retries, limits and caching live above it, in ``unisafe_pytest.runtime``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from unisafe_pytest.schema import Instance, ModelOutput
from unisafe_pytest.schema.tasks import Modality, Task


@dataclass(frozen=True)
class Capabilities:
    """What an adapter can serve, per modality: what it reads (``inputs``) and writes
    (``outputs``), and how many media of each kind it takes. Instances outside it are
    skipped with the reason."""

    inputs: frozenset[Modality] = frozenset({"text"})
    outputs: frozenset[Modality] = frozenset({"text"})
    max_input_images: int = 0
    multi_turn: bool = False
    """True when the adapter can run a task with several turns (MT)."""
    max_input_media: tuple[tuple[Modality, int], ...] = ()
    """At most how many input media of each non-image kind one request takes, e.g.
    ``(("audio", 1),)``; a kind in ``inputs`` that is not listed has no count limit."""

    def max_inputs(self, kind: Modality) -> int | None:
        """At most how many input media of ``kind`` (None: no limit; 0 when not read)."""
        if kind not in self.inputs:
            return 0
        if kind == "image":
            return self.max_input_images
        return dict(self.max_input_media).get(kind)

    def unsupported_reason(self, task: Task) -> str | None:
        """Why this adapter cannot serve ``task``, or None when it can."""
        missing_in = sorted(task.inputs - self.inputs)
        if missing_in:
            return f"model does not take {'/'.join(missing_in)} input (task {task.code})"
        if task.output not in self.outputs:
            return f"model does not produce {task.output} output (task {task.code})"
        if task.input_images > self.max_input_images:
            return (
                f"task {task.code} needs {task.input_images} input image(s); "
                f"model takes at most {self.max_input_images}"
            )
        for kind in task.media_inputs:
            limit, wanted = self.max_inputs(kind), task.input_count(kind)
            if kind != "image" and limit is not None and (wanted < 0 or wanted > limit):
                needs = "any number of" if wanted < 0 else str(wanted)
                return (f"task {task.code} needs {needs} input {kind} file(s); model takes at "
                        f"most {limit}")
        if task.turns > 1 and not self.multi_turn:
            return f"model does not support multi-turn tasks (task {task.code})"
        return None

    @classmethod
    def everything(cls) -> Capabilities:
        return cls(
            inputs=frozenset({"text", "image", "audio", "video"}),
            outputs=frozenset({"text", "image", "audio"}),
            max_input_images=8,
            multi_turn=True,
        )


@dataclass
class GenerateContext:
    """Per-call context handed to adapters by the runtime."""

    output_dir: Path
    """Where generated images are saved (inside the run directory)."""
    sample: int = 0
    """Sample index when several generations per instance are drawn."""
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Adapter(Protocol):
    """A model under test."""

    name: str
    """Adapter label (written to records and the protocol block)."""
    capabilities: Capabilities

    # Optional attributes the runtime reads with getattr():
    #   cacheable: bool = False   outputs may be cached: describe() names everything that
    #                             shapes an output (model, version, generation settings)
    #   max_concurrency: int = 1  calls that may run at once in one process (thread safety)

    def generate(self, instance: Instance, task: Task, ctx: GenerateContext) -> ModelOutput:
        """Ask the model one instance. Raise ``ModelError`` on failure (never return a guess)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Adapter kind, model id and generation settings for the run protocol. No secrets."""
        ...

    def close(self) -> None:
        """Release connections and processes."""
        ...
