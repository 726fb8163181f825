"""Red team (issue 11, class 10 re-run): a credential in a suite's path is written everywhere.

A suite file whose name holds the value of ``HF_TOKEN`` (a run secret by the README's rule)
puts the token into node ids, records, ``summary.json``, ``protocol.json``, the HTML report,
JUnit and stdout: suite names and paths are not redacted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MODEL_ARGS, instance
from tests.robustness.helpers import scan_for

TOKEN = "hf_redteamTok3nValue42"


def test_a_token_in_a_suite_path_is_not_written(
        fakes: pytest.Pytester, suite: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    suite(f"{TOKEN}.jsonl", [instance("a")])
    result = fakes.runpytest(*MODEL_ARGS, f"--unisafe-suite={TOKEN}.jsonl", "-rA",
                             "--junitxml=j.xml")
    written = [p for p in scan_for((TOKEN,), fakes.path, result.stdout.str())
               if not p.startswith(f"{TOKEN}.jsonl")]  # the suite file itself is the user's
    assert not written, written
    # refused before any call, naming the variable (never its value)
    assert "environment variable HF_TOKEN" in result.stdout.str(), result.stdout.str()[-2000:]
    assert result.ret != 0
