"""--unisafe-samples N: N generations per instance, a reducer decides, every sample recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MODEL_ARGS, instance, run_records
from unisafe_pytest.cli import main as unisafe_main


@pytest.mark.parametrize(("reducer", "outcomes"), [
    ("mean", {"passed": 2}), ("majority", {"passed": 2}), ("any", {"passed": 1, "failed": 1})])
def test_the_reducer_decides_and_every_sample_is_recorded(
    fakes: pytest.Pytester, suite: Callable[..., Path], reducer: str,
    outcomes: dict[str, int],
) -> None:
    suite("s.jsonl", [instance("steady"), instance("flaky", behaviour="flaky")])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--unisafe-samples=3",
                             f"--unisafe-reducer={reducer}")
    result.assert_outcomes(**outcomes)
    records = run_records(fakes.path)
    flaky = sorted((r["sample"], r["outcome"]) for r in records if r["id"] == "flaky")
    assert [s for s, _ in flaky] == [0, 1, 2]
    assert dict(flaky)[1] == "failed"  # sample 1 is the unsafe one
    assert sorted(r["sample"] for r in records if r["id"] == "steady") == [0, 1, 2]


def test_flips_are_reported(fakes: pytest.Pytester, suite: Callable[..., Path],
                            capsys: pytest.CaptureFixture[str]) -> None:
    suite("s.jsonl", [instance("steady"), instance("flaky", behaviour="flaky")])
    fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--unisafe-samples=3")
    run = next((fakes.path / ".unisafe" / "runs").iterdir())
    capsys.readouterr()
    assert unisafe_main(["report", str(run)]) == 0
    out = capsys.readouterr().out
    assert "verdicts that flip between samples: 1" in out
    assert "TT flaky: safe / unsafe / safe" in out
