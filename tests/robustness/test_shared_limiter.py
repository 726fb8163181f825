"""Issue 11, class 7 (runtime side): the concurrency limiter survives its folder being removed.

Two runs in one report folder shared ``limiter/``; the first to finish removed it and every
later call of the other run failed with ``FileNotFoundError``. The limiter now makes its folder
again and goes on. On the old code (dd7bba9) each test here failed with that error.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import instance
from tests.robustness.helpers import outcome_of
from unisafe_pytest.runtime.limiter import Limiter

VANISH = '''
import glob
import shutil

from unisafe_pytest import Capabilities, ModelOutput


class Model:
    """Removes the run's limiter folder on every call, as another run's clean-up would."""

    name = "vanishing-model"
    capabilities = Capabilities()

    def generate(self, instance, task, ctx):
        for folder in glob.glob(".unisafe/runs/*/limiter"):
            shutil.rmtree(folder)
        return ModelOutput(text="a harmless answer")

    def describe(self):
        return {"kind": "test"}

    def close(self):
        pass


def make_model():
    return Model()
'''


def test_a_removed_folder_is_made_again(tmp_path: Path) -> None:
    limiter = Limiter(tmp_path / "limiter", 2)
    with limiter.slot():
        pass
    shutil.rmtree(tmp_path / "limiter")
    with limiter.slot():
        pass
    shutil.rmtree(tmp_path / "limiter")
    limiter.rate_limited()
    assert limiter.effective() == 1
    shutil.rmtree(tmp_path / "limiter")
    limiter.succeeded()
    with limiter.slot(deadline_s=1.0):
        pass


def test_a_folder_removed_while_a_slot_is_held(tmp_path: Path) -> None:
    limiter = Limiter(tmp_path / "limiter", 1)
    held, release, errors = threading.Event(), threading.Event(), []

    def hold() -> None:
        try:
            with limiter.slot():
                held.set()
                release.wait(5)
        except Exception as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(5)
    shutil.rmtree(tmp_path / "limiter")
    with limiter.slot(deadline_s=1.0):  # another thread of the same process
        pass
    release.set()
    thread.join(5)
    assert not errors, errors


def test_a_run_whose_limiter_folder_vanishes_completes(
        fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("s.jsonl", [instance(f"c{i}") for i in range(3)])
    fakes.makepyfile(vanish=VANISH)
    result = fakes.runpytest_subprocess(
        "--unisafe-model=python:vanish:make_model", "--unisafe-judge=python:fakes:make_judge",
        "--unisafe-suite=s.jsonl", "--unisafe-concurrency=1", "-p", "no:cacheprovider")
    outcomes = outcome_of(result)
    outcomes.pop("warnings", None)
    assert outcomes == {"passed": 3}, (outcomes, result.stdout.str()[-3000:])
