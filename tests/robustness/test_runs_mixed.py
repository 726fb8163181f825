"""Issue 11, class 7: a reused ``--unisafe-report-dir`` mixes runs.

The merge, the summary and the gates read only this run's records; two runs at once in one
folder do not disturb each other (each has its own limiter folder and record files). Both
tests failed on the old code: the second run's summary counted the first run's records (its
gate passed), and the first run to finish deleted the shared limiter folder under the other.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import instance, write_suite
from tests.robustness.runs_model import MODEL_ARGS, SOURCE


@pytest.fixture
def runs(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(runs_model=SOURCE)
    pytester.syspathinsert()
    return pytester


def overall(summary: dict[str, Any]) -> dict[str, Any]:
    """The model's overall UniSAFE cell (``n_total``, ``asr``, ...)."""
    result: dict[str, Any] = summary["unisafe"]["models"]["runs-model"]["overall"]
    return result


def test_a_reused_folder_summarises_and_gates_only_this_run(runs: pytest.Pytester) -> None:
    write_suite(runs.path / "safe.jsonl", [instance(f"s{k}") for k in range(30)])
    write_suite(runs.path / "bad.jsonl", [instance(f"u{k}", behaviour="unsafe")
                                          for k in range(10)])
    common = (*MODEL_ARGS, "--unisafe-report-dir=out", "-p", "no:cacheprovider")
    runs.runpytest(*common, "--unisafe-suite=safe.jsonl").assert_outcomes(passed=30)
    second = runs.runpytest(*common, "--unisafe-suite=bad.jsonl", "--unisafe-gate-only",
                            "--unisafe-max-asr=0.3")
    second.assert_outcomes(failed=10)
    assert second.ret == 1, "10 of 10 unsafe must fail --unisafe-max-asr=0.3"
    summary = json.loads((runs.path / "out" / "summary.json").read_text())
    assert overall(summary)["n_total"] == 10
    assert overall(summary)["asr"] == 1.0
    assert summary["complete"] is True
    ids = [json.loads(line)["id"] for line in
           (runs.path / "out" / "records.jsonl").read_text().splitlines()]
    assert sorted(ids) == sorted(f"u{k}" for k in range(10))
    gates = json.loads((runs.path / "out" / "gates.json").read_text())
    assert not all(g["passed"] for g in gates)


def test_two_runs_at_once_in_one_folder_do_not_disturb_each_other(
    runs: pytest.Pytester,
) -> None:
    write_suite(runs.path / "a.jsonl", [instance("a1"), instance("a2"),
                                        instance("a3", behaviour="wait"), instance("a4"),
                                        instance("a5")])
    write_suite(runs.path / "b.jsonl", [instance(f"b{k}", behaviour="unsafe")
                                        for k in range(3)])
    command = [sys.executable, "-m", "pytest", *MODEL_ARGS, "--unisafe-report-dir=shared",
               "-p", "no:cacheprovider", "--unisafe-concurrency=1", "--unisafe-cache=off"]
    first = subprocess.Popen([*command, "--unisafe-suite=a.jsonl"], cwd=runs.path,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (runs.path / "waiting").exists() and time.monotonic() < deadline:
            assert first.poll() is None, first.communicate()[0]
            time.sleep(0.05)
        second = subprocess.run([*command, "--unisafe-suite=b.jsonl"], cwd=runs.path,
                                capture_output=True, text=True, timeout=120, check=False)
        assert "3 failed" in second.stdout, second.stdout[-3000:]
        (runs.path / "go").write_text("")
        out, _ = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, out[-3000:]
    assert "5 passed" in out
    shared = runs.path / "shared"
    summary = json.loads((shared / "summary.json").read_text())  # the last run to finish
    assert overall(summary)["n_total"] == 5 and overall(summary)["n_error"] == 0
    assert overall(summary)["asr"] == 0.0
    earlier = [json.loads(p.read_text()) for p in (shared / "previous").glob("*/summary.json")]
    assert [overall(s)["n_total"] for s in earlier] == [3]
    assert [overall(s)["asr"] for s in earlier] == [1.0]


def test_unisafe_report_does_not_mix_the_unmerged_records_of_two_runs(tmp_path: Path) -> None:
    from unisafe_pytest.errors import SuiteError
    from unisafe_pytest.report.rundir import read_run_dir

    (tmp_path / "records").mkdir()
    for run in ("r1", "r2"):
        (tmp_path / "records" / f"{run}.main.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(SuiteError, match=r"unmerged records of 2 runs \(r1, r2\)"):
        read_run_dir(tmp_path)
