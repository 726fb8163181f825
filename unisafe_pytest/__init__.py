"""unisafe-pytest: safety evaluation of unified multimodal models as a pytest plugin.

The public names are imported on first use (PEP 562): pytest imports this package to load
the plugin's entry point on every run, and an inactive plugin must not import pydantic and
the schema (``tests/plugin/test_inert.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unisafe_pytest.adapters.base import Adapter, Capabilities, GenerateContext
    from unisafe_pytest.judges.base import Judge
    from unisafe_pytest.schema import (
        Instance,
        JudgeRow,
        JudgeSpec,
        Media,
        ModelOutput,
        Record,
        Verdict,
    )
    from unisafe_pytest.schema.tasks import Task

__version__ = "0.1.0"

_PUBLIC = {
    "Adapter": "unisafe_pytest.adapters.base",
    "Capabilities": "unisafe_pytest.adapters.base",
    "GenerateContext": "unisafe_pytest.adapters.base",
    "Instance": "unisafe_pytest.schema",
    "Judge": "unisafe_pytest.judges.base",
    "JudgeRow": "unisafe_pytest.schema",
    "JudgeSpec": "unisafe_pytest.schema",
    "Media": "unisafe_pytest.schema",
    "ModelOutput": "unisafe_pytest.schema",
    "Record": "unisafe_pytest.schema",
    "Task": "unisafe_pytest.schema.tasks",
    "Verdict": "unisafe_pytest.schema",
}


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'unisafe_pytest' has no attribute {name!r}")
    # not cached here: the module may be imported afresh later (pytester's inline runs restore
    # sys.modules), and this package would then hand out a stale class
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])


__all__ = [
    "Adapter",
    "Capabilities",
    "GenerateContext",
    "Instance",
    "Judge",
    "JudgeRow",
    "JudgeSpec",
    "Media",
    "ModelOutput",
    "Record",
    "Task",
    "Verdict",
    "__version__",
]
