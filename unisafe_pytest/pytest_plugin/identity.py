"""The run's identity: run id, run folder, this process's worker name, the model label.

Built once per process; a worker takes the controller's run id and folder from
``workerinput`` (put there by :class:`~.distributed.XdistHooks`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from unisafe_pytest.pytest_plugin.items import safe_name
from unisafe_pytest.pytest_plugin.options import RunConfig
from unisafe_pytest.pytest_plugin.workers import worker_id, worker_input

RUN_ID_KEY = "unisafe_run_id"
RUN_DIR_KEY = "unisafe_run_dir"
"""The ``workerinput`` keys that carry the controller's run id and folder to workers."""


def new_run_id(model: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{safe_name(model)[:40]}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class RunIdentity:
    run_id: str
    run_dir: Path
    worker: str
    """``"main"`` for the controller (or a run without xdist), else xdist's worker id."""
    model_label: str
    """``--unisafe-model``'s value, or ``conftest:unisafe_model``."""
    rootdir: Path

    @classmethod
    def from_config(cls, config: pytest.Config, settings: RunConfig,
                    model_label: str) -> RunIdentity:
        winput = worker_input(config)
        run_id: str = winput.get(RUN_ID_KEY) or new_run_id(model_label)
        run_dir = winput.get(RUN_DIR_KEY)
        return cls(
            run_id=run_id,
            run_dir=Path(run_dir) if run_dir else (
                settings.report_dir or settings.report_root / run_id),
            worker=worker_id(config), model_label=model_label, rootdir=settings.rootdir)

    def display(self, path: Path) -> str:
        """``path`` as messages show it: relative to the rootdir when inside it."""
        try:
            return path.relative_to(self.rootdir).as_posix()
        except ValueError:
            return str(path)
