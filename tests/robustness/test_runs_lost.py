"""Issue 11, class 8: records lost.

Each test failed on the old code: a crashed xdist worker's instance in a renamed suite with an
escaped id got no record (the controller's planned map was keyed by a hand-built node id); a
lone surrogate in a reply stopped the run with INTERNALERROR; a torn last line left by kill -9
made the next run into the folder fail its merge and kept the earlier summary in place; a
failed finish left the earlier run's summary.json looking current; an unwritable report
folder was found only after the calls were made.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import instance, write_suite
from tests.robustness.runs_model import MODEL_ARGS, SOURCE
from unisafe_pytest.report.rundir import read_record_lines
from unisafe_pytest.schema import Record


@pytest.fixture
def runs(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(runs_model=SOURCE)
    pytester.syspathinsert()
    return pytester


def records(run: Path) -> dict[str, dict[str, object]]:
    lines = (run / "records.jsonl").read_text(encoding="utf-8").splitlines()
    return {f"{r['suite']}/{r['id']}": r for r in map(json.loads, lines)}


@pytest.mark.slow
def test_a_worker_crash_in_a_renamed_suite_on_an_escaped_id_is_recorded(
    runs: pytest.Pytester,
) -> None:
    write_suite(runs.path / "one" / "s.jsonl", [instance("a1"), instance("a2")])
    write_suite(runs.path / "two" / "s.jsonl", [instance("b1"),  # the suite is renamed
                                                instance("crash me/1", behaviour="crash"),
                                                instance("b3")])
    result = runs.runpytest_subprocess(
        *MODEL_ARGS, "--unisafe-suite=one/s.jsonl", "--unisafe-suite=two/s.jsonl", "-n", "2",
        "--unisafe-report-dir=out", "-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=4, failed=1)  # xdist reports the crash as a failure
    found = records(runs.path / "out")
    crashed = [r for r in found.values() if r["id"] == "crash me/1"]
    assert len(crashed) == 1, sorted(found)
    assert crashed[0]["outcome"] == "error"
    assert "worker process died" in str(crashed[0]["error"])
    assert str(crashed[0]["nodeid"]) in result.stdout.str()
    assert len(found) == 5
    summary = json.loads((runs.path / "out" / "summary.json").read_text())
    assert summary["run"]["planned"] == 5 and summary["run"]["recorded"] == 5


def test_a_lone_surrogate_in_a_reply_is_written_with_a_replacement(
    runs: pytest.Pytester,
) -> None:
    write_suite(runs.path / "s.jsonl", [instance("x", behaviour="surrogate"), instance("y")])
    result = runs.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--unisafe-report-dir=out",
                            "--junitxml=out.xml", "-p", "no:cacheprovider")
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=2)
    text = (runs.path / "out" / "records.jsonl").read_bytes().decode("utf-8")  # valid UTF-8
    assert "here you go \ufffd (safe)" in text
    assert json.loads((runs.path / "out" / "summary.json").read_text())["complete"] is True


def test_a_torn_last_line_does_not_break_the_next_run_into_the_folder(
    runs: pytest.Pytester,
) -> None:
    write_suite(runs.path / "s.jsonl", [instance("x"), instance("y")])
    args = (*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--unisafe-report-dir=out",
            "-p", "no:cacheprovider")
    runs.runpytest(*args).assert_outcomes(passed=2)
    first = json.loads((runs.path / "out" / "protocol.json").read_text())["run_id"]
    for file in (runs.path / "out" / "records").glob("*.jsonl"):  # what kill -9 leaves
        whole = file.read_text(encoding="utf-8").splitlines()[0]
        with file.open("a", encoding="utf-8") as fh:
            fh.write(whole[: len(whole) // 2])
    second = runs.runpytest(*args, "--unisafe-cache=off")
    assert "INTERNALERROR" not in second.stdout.str() + second.stderr.str()
    second.assert_outcomes(passed=2)
    summary = json.loads((runs.path / "out" / "summary.json").read_text())
    assert summary["protocol"]["run_id"] != first
    assert summary["complete"] is True and summary["run"]["recorded"] == 2


def test_a_failed_finish_leaves_no_earlier_summary_looking_current(
    runs: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs.makeconftest("""
        import os

        def pytest_unisafe_summary(records, summary, config):
            if os.environ.get("BREAK_SUMMARY"):
                raise RuntimeError("summary hook broke")
            return []
    """)
    write_suite(runs.path / "s.jsonl", [instance("x")])
    args = (*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--unisafe-report-dir=out",
            "-p", "no:cacheprovider")
    runs.runpytest(*args).assert_outcomes(passed=1)
    first = json.loads((runs.path / "out" / "summary.json").read_text())["protocol"]["run_id"]
    monkeypatch.setenv("BREAK_SUMMARY", "1")
    runs.runpytest(*args)
    current = runs.path / "out" / "summary.json"
    assert not current.exists() or (
        json.loads(current.read_text())["protocol"]["run_id"] != first)
    assert (runs.path / "out" / "previous" / first / "summary.json").is_file()


def test_an_unwritable_report_folder_is_a_usage_error_before_any_call(
    runs: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_suite(runs.path / "s.jsonl", [instance("x")])
    (runs.path / "blocker").write_text("a file, not a folder")
    calls = runs.path / "calls.log"
    monkeypatch.setenv("RUNS_CALL_LOG", str(calls))
    result = runs.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl",
                            "--unisafe-report-dir=blocker/run", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    message = result.stderr.str()
    assert "blocker" in message and "--unisafe-report-dir" in message, message
    assert not calls.exists()


def test_the_merge_names_a_torn_last_line_by_file_and_line(tmp_path: Path) -> None:
    good = Record(run_id="r", suite="s", protocol="unisafe", model="m", id="a", task="TT",
                  category="A", subcategory="A1", outcome="passed", worker="gw0")
    path = tmp_path / "r.gw0.jsonl"
    line = good.model_dump_json()
    path.write_bytes((line + "\n" + line[:40]).encode() + "é".encode()[:1])  # cut mid-char
    notes: list[str] = []
    assert [r.id for r, _ in read_record_lines(path, notes)] == ["a"]
    assert len(notes) == 1 and f"{path}:2: skipped a torn last record" in notes[0]
