"""A new user's path: a fresh virtual environment, the README's install and run commands.

``scripts/new_user_check.sh`` does the work (see its header); this test runs it and shows
its output when it fails. It installs the checkout with pip, so it takes about a minute.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "new_user_check.sh"


@pytest.mark.slow
def test_the_readme_commands_work_in_a_fresh_virtual_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "VIRTUAL_ENV")}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env,
                          timeout=900, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "== new user: OK" in done.stdout
    assert "58 passed" in done.stdout and "3 passed" in done.stdout
