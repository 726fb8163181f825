"""Issue 11, SIGTERM (what CI runners send on cancel) ends a run like Ctrl-C.

No new calls start, xdist workers stop, what was finished is merged, and summary.json and the
terminal say the run is INCOMPLETE (planned vs recorded). The handler is installed only while
the plugin is active. The signal tests failed on the old code: SIGTERM killed pytest at once,
with no summary at all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import instance, write_suite
from tests.robustness.runs_model import MODEL_ARGS, SOURCE


@pytest.fixture
def runs(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(runs_model=SOURCE)
    pytester.syspathinsert()
    return pytester


def terminate_while_waiting(root: Path, *args: str, group: bool = False
                            ) -> tuple[int, str, list[str], list[str]]:
    """Run pytest, send SIGTERM once an instance waits; ``(rc, output, calls at the signal,
    calls at the end)``."""
    calls = root / "calls.log"
    env = {**os.environ, "RUNS_CALL_LOG": str(calls), "RUNS_WAIT_S": "3"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *MODEL_ARGS, "-p", "no:cacheprovider", *args],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (root / "waiting").exists() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.02)
        at_signal = calls.read_text().splitlines()
        if group:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    with pytest.raises(ProcessLookupError):  # no worker outlived the run
        for _ in range(100):
            os.killpg(proc.pid, 0)
            time.sleep(0.05)
    return proc.returncode, out, at_signal, calls.read_text().splitlines()


def test_sigterm_stops_the_run_and_merges_what_finished(runs: pytest.Pytester) -> None:
    write_suite(runs.path / "s.jsonl", [
        instance("i1"), instance("i2"), instance("i3", behaviour="wait"),
        *(instance(f"j{k}") for k in range(5))])
    rc, out, at_signal, at_end = terminate_while_waiting(
        runs.path, "--unisafe-suite=s.jsonl", "--unisafe-report-dir=out",
        "--unisafe-concurrency=1", "--unisafe-prefetch=0", "--unisafe-cache=off")
    assert rc == pytest.ExitCode.INTERRUPTED, out[-3000:]
    assert at_end == at_signal == ["i1", "i2", "i3"]  # no call started after the signal
    assert "INCOMPLETE run: 2 of 8 planned instances recorded (stopped by SIGTERM)" in out
    summary = json.loads((runs.path / "out" / "summary.json").read_text())
    assert summary["complete"] is False
    run = summary["run"]
    assert (run["planned"], run["recorded"], run["missing"]) == (8, 2, 6)
    assert run["stopped_by"] == "SIGTERM"
    ids = [json.loads(line)["id"] for line in
           (runs.path / "out" / "records.jsonl").read_text().splitlines()]
    assert ids == ["i1", "i2"]


@pytest.mark.slow
@pytest.mark.parametrize("group", [False, True], ids=["controller", "process-group"])
def test_sigterm_under_xdist_stops_the_workers_and_merges(runs: pytest.Pytester,
                                                          group: bool) -> None:
    write_suite(runs.path / "s.jsonl", [
        instance("i1"), instance("i2", behaviour="wait"),
        *(instance(f"j{k}", behaviour="wait") for k in range(30))])
    rc, out, _, _ = terminate_while_waiting(
        runs.path, "--unisafe-suite=s.jsonl", "--unisafe-report-dir=out", "-n", "2",
        "--unisafe-concurrency=1", "--unisafe-prefetch=0", "--unisafe-cache=off", group=group)
    assert rc == pytest.ExitCode.INTERRUPTED, out[-3000:]
    assert "INCOMPLETE run:" in out
    summary = json.loads((runs.path / "out" / "summary.json").read_text())
    assert summary["complete"] is False and summary["run"]["planned"] == 32
    assert summary["run"]["recorded"] < 32


def test_the_handler_is_installed_only_while_the_plugin_is_active(
    runs: pytest.Pytester,
) -> None:
    runs.makeconftest("""
        import signal

        def pytest_sessionstart(session):
            session.config.seen_handler = signal.getsignal(signal.SIGTERM)
    """)
    write_suite(runs.path / "s.jsonl", [instance("x")])
    before = signal.getsignal(signal.SIGTERM)
    seen = []
    for args in ((), (*MODEL_ARGS, "--unisafe-suite=s.jsonl")):
        reprec = runs.inline_run(*args, "-p", "no:cacheprovider")
        config = reprec.getcall("pytest_sessionstart").session.config
        seen.append(vars(config)["seen_handler"])
        assert signal.getsignal(signal.SIGTERM) is before
    assert seen[0] is before and seen[1] is not before
