"""Wrap an in-process Python model: ``--unisafe-model=python:package.module:factory``.

The factory is called with no arguments and returns either an object that follows the
``Adapter`` protocol or a plain callable ``fn(instance) -> str | ModelOutput``. A plain
callable is text-in, text-out unless it carries a ``capabilities`` attribute. Its answer is
read as the live adapters' are: an empty or whitespace-only answer with no image and no
refusal flag is a model error (neither safe nor a refusal), and lone surrogates in its strings
are replaced (:mod:`unisafe_pytest.adapters.encodable`). An object that follows the
``Adapter`` protocol is used as it is, and the runner applies the same reading rule to what
its ``generate`` returns.
The same wrapping applies to a ``unisafe_model`` fixture overridden in a conftest.py.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from unisafe_pytest.adapters.base import Adapter, Capabilities, GenerateContext
from unisafe_pytest.adapters.replies import checked_answer
from unisafe_pytest.errors import ConfigError, ModelError
from unisafe_pytest.schema import Instance, ModelOutput, OutputProvenance
from unisafe_pytest.schema.tasks import Task


class CallableAdapter:
    """An adapter around ``fn(instance) -> str | ModelOutput``."""

    def __init__(self, fn: Callable[[Instance], Any], *, name: str | None = None,
                 capabilities: Capabilities | None = None):
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__qualname__", repr(fn)))
        declared = capabilities or getattr(fn, "capabilities", None)
        self.capabilities: Capabilities = declared or Capabilities()

    def generate(self, instance: Instance, task: Task, ctx: GenerateContext) -> ModelOutput:
        started = time.perf_counter()
        answer = self.fn(instance)
        latency = time.perf_counter() - started
        provenance = OutputProvenance(adapter="python", model=self.name, latency_s=latency)
        if isinstance(answer, ModelOutput):
            if not answer.provenance.adapter:
                answer.provenance = provenance
            output = answer
        elif isinstance(answer, str):
            output = ModelOutput(text=answer, provenance=provenance)
        else:
            raise ModelError(
                f"python model {self.name!r} returned {type(answer).__name__}; "
                "return a str or a unisafe_pytest.ModelOutput"
            )
        return checked_answer(output, task, f"python model {self.name!r}")

    def describe(self) -> dict[str, Any]:
        return {"kind": "python", "model": self.name}

    def close(self) -> None:
        return None


def as_adapter(obj: object, *, name: str | None = None) -> Adapter:
    """An Adapter from an adapter-like object or a plain callable."""
    if isinstance(obj, Adapter):
        return obj
    if callable(obj):
        return CallableAdapter(obj, name=name)
    raise ConfigError(
        f"the model under test is {type(obj).__name__}, neither an Adapter (with generate(), "
        "describe(), close(), name and capabilities) nor a callable"
    )


def load_object(spec: str, what: str) -> object:
    """Import ``package.module:attribute`` and call it when it is a factory function."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{what}: expected python:package.module:factory, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or any error raised while importing it
        raise ConfigError(
            f"{what}: cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"{what}: module {module_name!r} has no attribute {attr!r}") from None
    return factory() if callable(factory) else factory


def make_adapter(spec: str, *, base_dir: Path, settings: dict[str, Any]) -> Adapter:
    return as_adapter(load_object(spec, "--unisafe-model=python:..."), name=spec)
