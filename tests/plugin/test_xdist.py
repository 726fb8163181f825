"""Under -n 2: the same records and summary as a serial run; JUnit properties survive."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from junitparser import JUnitXml, Properties, Property

from tests.conftest import MODEL_ARGS, instance, stable_records

pytestmark = pytest.mark.slow



def lines(n: int) -> list[dict[str, Any]]:
    kinds = ["safe", "unsafe", "refuse", "model-error", "judge-error"]
    return [instance(f"i{k}", behaviour=kinds[k % len(kinds)]) for k in range(n)] + [
        instance("v1", task="TI", category="Violence", behaviour="unsafe")]




def summary_table(result: pytest.RunResult) -> list[str]:
    text = result.stdout.lines
    start = next(i for i, line in enumerate(text) if "unisafe summary" in line)
    return [line for line in text[start:] if not line.startswith(("protocol:", "run directory"))
            and "short test summary" not in line][:12]


def test_serial_and_two_workers_agree(fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("s.jsonl", lines(12))
    serial = fakes.runpytest_subprocess(*MODEL_ARGS, "--unisafe-suite=s.jsonl",
                                        "--unisafe-report-dir=serial")
    dist = fakes.runpytest_subprocess(*MODEL_ARGS, "--unisafe-suite=s.jsonl",
                                      "--unisafe-report-dir=dist", "-n", "2")
    assert serial.parseoutcomes() == dist.parseoutcomes()
    assert stable_records(fakes.path / "serial") == stable_records(fakes.path / "dist")
    run_id = json.loads((fakes.path / "dist" / "protocol.json").read_text())["run_id"]
    workers = sorted(p.name for p in (fakes.path / "dist" / "records").iterdir())
    assert workers == [f"{run_id}.gw0.jsonl", f"{run_id}.gw1.jsonl"]
    assert summary_table(serial) == summary_table(dist)
    for run in ("serial", "dist"):  # the controller under xdist collects nothing itself
        protocol = json.loads((fakes.path / run / "protocol.json").read_text())
        assert protocol["suites"]["s"]["selected"] == 13
        assert [j["id"] for j in protocol["judges"]] == ["fake-judge", "refusal-rule"]


def test_junit_properties_under_two_workers(fakes: pytest.Pytester,
                                            suite: Callable[..., Path]) -> None:
    suite("s.jsonl", [instance("a", behaviour="unsafe"), instance("b"),
                      instance("c", behaviour="model-error"), instance("d", behaviour="refuse")])
    result = fakes.runpytest_subprocess(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "-n", "2",
                                        "--junitxml=out.xml")
    result.assert_outcomes(passed=2, failed=1, errors=1)
    cases = {c.name: c for suite_ in JUnitXml.fromfile(str(fakes.path / "out.xml"))
             for c in suite_}
    assert set(cases) == {"a", "b", "c", "d"}
    props = {name: {p.name: p.value for group in case.iterchildren(Properties)  # type: ignore[no-untyped-call]
                    for p in group.iterchildren(Property)}
             for name, case in cases.items()}
    assert props["a"] == {"suite": "s", "task": "TT", "category": "Hate", "subcategory": "H1",
                          "verdict": "unsafe", "risk_rating": "3", "refusal": "false",
                          "judges": "fake-judge", "model": "fake-model", "id": "a"}
    assert props["d"]["verdict"] == "refusal" and props["d"]["refusal"] == "true"
    assert props["c"]["verdict"] == "error"
    assert cases["a"].classname == "s.TT"
    failure = cases["a"].result[0]
    assert failure.message.startswith("UNSAFE TT a Hate/H1")
    assert "\n" not in failure.message and len(failure.message) <= 200
    assert "task: TT" in failure.text
    error = cases["c"].result[0]
    assert "MODEL ERROR TT c" in error.message


def test_worksteal_is_the_default_under_n_and_the_header_says_so(
        fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    """Without --dist, an active run under -n schedules with worksteal (a worker's queue is
    long enough to prefetch from) and the header names it; every instance runs once, with
    the same outcomes. Failed on the old code (xdist's load, no header line)."""
    suite("s.jsonl", lines(12))
    result = fakes.runpytest_subprocess(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "-n", "2",
                                        "-v")
    result.stdout.fnmatch_lines([
        "unisafe: xdist --dist worksteal (the plugin's default under -n*give --dist*",
        "*scheduling tests via WorkStealingScheduling*"])
    result.assert_outcomes(passed=5, failed=4, errors=4)


@pytest.mark.parametrize("how", [("--dist", "load"), ("--dist=loadfile",), ("-d", "--tx",
                                                                              "2*popen")])
def test_a_given_dist_is_kept(fakes: pytest.Pytester, suite: Callable[..., Path],
                              how: tuple[str, ...]) -> None:
    """A --dist (or -d) the user gave is kept, and the header says it was given."""
    suite("s.jsonl", lines(4))
    numprocs = [] if "-d" in how else ["-n", "2"]
    result = fakes.runpytest_subprocess(*MODEL_ARGS, "--unisafe-suite=s.jsonl", *numprocs,
                                        *how, "-v")
    chosen = "loadfile" if "--dist=loadfile" in how else "load"
    result.stdout.fnmatch_lines([f"unisafe: xdist --dist {chosen} (given)"])
    result.stdout.no_fnmatch_line("*WorkStealingScheduling*")


def test_a_dist_in_addopts_is_kept(fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    """--dist from the ini file's addopts (or PYTEST_ADDOPTS) counts as the user's choice."""
    suite("s.jsonl", lines(4))
    fakes.makeini("[pytest]\naddopts = --dist load\n")
    result = fakes.runpytest_subprocess(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "-n", "2",
                                        "-v")
    result.stdout.fnmatch_lines(["unisafe: xdist --dist load (given)",
                                 "*scheduling tests via LoadScheduling*"])


def test_an_inactive_run_keeps_xdists_default(pytester: pytest.Pytester) -> None:
    """Without --unisafe-model the plugin leaves xdist's scheduling alone and says nothing."""
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess("-n", "2", "-v")
    result.stdout.fnmatch_lines(["*scheduling tests via LoadScheduling*"])
    result.stdout.no_fnmatch_line("unisafe*")
