"""Use an in-process judge: ``--unisafe-judge=python:package.module:factory``.

The factory returns an object that follows the ``Judge`` protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unisafe_pytest.adapters.callable import load_object
from unisafe_pytest.errors import ConfigError
from unisafe_pytest.judges.base import Judge


def as_judge(obj: object) -> Judge:
    if isinstance(obj, Judge):
        return obj
    raise ConfigError(
        f"the judge is {type(obj).__name__}, not a Judge (it needs a 'spec' JudgeSpec and "
        "judge(instance, task, output) and close() methods)"
    )


def make_judge(spec: str, *, base_dir: Path, settings: dict[str, Any]) -> Judge:
    return as_judge(load_object(spec, "--unisafe-judge=python:..."))
