"""unisafe-pytest: safety evaluation of unified multimodal models as a pytest plugin."""

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
