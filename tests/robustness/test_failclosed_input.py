"""Bad input files: a FIFO, a device or a huge file is one clear collection error, never a hang.

Class covered: every file the plugin reads from a user (suite files of every format, replay
prediction and judgment files) is read only when it is a regular file within the size limit
(``UNISAFE_MAX_FILE_MB``, default 256 MB). Anything else fails as a collection error of that
suite alone, naming the file, what it is (FIFO, device, directory) or its size and the limit,
and the fix; the other suites still run.

These tests failed on the old code: a FIFO suite file blocked collection forever (the run
was killed by the test's timeout), a ``.jsonl`` link to ``/dev/zero`` was read until memory
ran out, and ``UNISAFE_MAX_FILE_MB`` did not exist (the 2 MB file loaded, or failed only per
line), as did a FIFO prediction file given to ``replay:``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.conftest import MODEL_ARGS, instance, write_suite
from tests.robustness.helpers import only_run, outcome_of, records_by_id

pytestmark = pytest.mark.skipif(sys.platform == "win32" or not hasattr(os, "mkfifo"),
                                reason="FIFOs and /dev/zero are POSIX")

MEMORY_GUARD = '''
import resource

# If a device is ever read whole again, fail with MemoryError instead of eating the machine.
resource.setrlimit(resource.RLIMIT_AS, (3 * 1024 ** 3, 3 * 1024 ** 3))
'''

TIMEOUT_S = 60


def _error_lines(out: str, name: str) -> list[str]:
    return [line for line in out.splitlines() if name in line]


def test_fifo_device_and_huge_suite_files_are_collection_errors_of_their_suite_only(
    fakes: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes.makeconftest(MEMORY_GUARD)
    write_suite(fakes.path / "good.jsonl", [instance("good-1"), instance("good-2")])
    os.mkfifo(fakes.path / "pipe.jsonl")
    (fakes.path / "zero.jsonl").symlink_to("/dev/zero")
    write_suite(fakes.path / "big.jsonl", [instance("big", instruction="x" * 1000)] * 1)
    with (fakes.path / "big.jsonl").open("ab") as fh:  # 2 MB of blank lines: valid JSONL
        fh.write(b"\n" * (2 * 1024 * 1024))
    bench = fakes.path / "bench"
    (bench / "T2I").mkdir(parents=True)
    os.mkfifo(bench / "T2I" / "input.jsonl")
    monkeypatch.setenv("UNISAFE_MAX_FILE_MB", "1")
    result = fakes.runpytest_subprocess(
        *MODEL_ARGS, "--unisafe-suite=pipe.jsonl", "--unisafe-suite=zero.jsonl",
        "--unisafe-suite=big.jsonl", "--unisafe-suite=bench", "--unisafe-suite=good.jsonl",
        "--continue-on-collection-errors", "-rA", timeout=TIMEOUT_S)
    out = result.stdout.str()
    assert outcome_of(result) == {"passed": 2, "errors": 4}, out[-4000:]
    pipe = _error_lines(out, "pipe.jsonl: ")
    assert any("is a named pipe (FIFO), not a regular file" in x for x in pipe), out[-4000:]
    zero = _error_lines(out, "zero.jsonl: ")
    assert any("is a character device, not a regular file" in x for x in zero), out[-4000:]
    big = _error_lines(out, "big.jsonl: ")
    assert any("is 2.0 MB, over the 1.0 MB limit (not read)" in x
               and "UNISAFE_MAX_FILE_MB=<megabytes>" in x for x in big), out[-4000:]
    fifo_task = _error_lines(out, "T2I/input.jsonl: ")
    assert any("named pipe (FIFO)" in x for x in fifo_task), out[-4000:]
    records = records_by_id(only_run(fakes.path))
    assert {k: r["outcome"] for k, r in records.items()} == {"good-1": "passed",
                                                             "good-2": "passed"}


def test_raising_the_limit_loads_the_file(
    fakes: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_suite(fakes.path / "big.jsonl", [instance("big")])
    with path.open("ab") as fh:
        fh.write(b"\n" * (2 * 1024 * 1024))
    monkeypatch.setenv("UNISAFE_MAX_FILE_MB", "1")
    assert outcome_of(fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=big.jsonl")) == {
        "errors": 1}
    monkeypatch.setenv("UNISAFE_MAX_FILE_MB", "2.5")
    assert outcome_of(fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=big.jsonl")) == {
        "passed": 1}


def test_a_bad_limit_value_is_named(fakes: pytest.Pytester,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    write_suite(fakes.path / "s.jsonl", [instance("a")])
    monkeypatch.setenv("UNISAFE_MAX_FILE_MB", "lots")
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl")
    assert outcome_of(result) == {"errors": 1}
    result.stdout.fnmatch_lines(["*UNISAFE_MAX_FILE_MB='lots' is not a positive number of "
                                 "megabytes*"])


@pytest.mark.parametrize("what", ["fifo", "device"])
def test_a_replay_file_that_is_not_a_regular_file_is_an_error_not_a_hang(
    fakes: pytest.Pytester, what: str
) -> None:
    fakes.makeconftest(MEMORY_GUARD)
    write_suite(fakes.path / "s.jsonl", [instance("a")])
    if what == "fifo":
        os.mkfifo(fakes.path / "preds.jsonl")
    else:
        (fakes.path / "preds.jsonl").symlink_to("/dev/zero")
    result = fakes.runpytest_subprocess(
        "--unisafe-suite=s.jsonl", "--unisafe-model=replay:preds.jsonl",
        "--unisafe-judge=refusal-rule", timeout=TIMEOUT_S)
    out = result.stdout.str()
    assert outcome_of(result) == {"errors": 1}, out[-3000:]
    kind = "a named pipe (FIFO)" if what == "fifo" else "a character device"
    assert f"preds.jsonl: the file is {kind}, not a regular file" in out, out[-3000:]
    assert records_by_id(only_run(fakes.path))["a"]["outcome"] == "error"


def test_a_fifo_judgments_file_is_an_error_not_a_hang(fakes: pytest.Pytester) -> None:
    write_suite(fakes.path / "s.jsonl", [instance("a")])
    os.mkfifo(fakes.path / "judgments.jsonl")
    result = fakes.runpytest_subprocess(
        "--unisafe-suite=s.jsonl", "--unisafe-model=python:fakes:make_model",
        "--unisafe-judge=replay:judgments.jsonl", timeout=TIMEOUT_S)
    out = result.stdout.str()
    assert "judgments.jsonl: the file is a named pipe (FIFO), not a regular file" in out, (
        out[-3000:])
    assert "passed" not in outcome_of(result), out[-3000:]


def test_an_image_that_is_a_fifo_is_a_line_error(fakes: pytest.Pytester) -> None:
    os.mkfifo(fakes.path / "pipe.png")
    write_suite(fakes.path / "s.jsonl", [
        instance("good"), instance("img", task="IE", category="Violence", images=["pipe.png"])])
    result = fakes.runpytest_subprocess(*MODEL_ARGS, "--unisafe-suite=s.jsonl",
                                        "--continue-on-collection-errors", timeout=TIMEOUT_S)
    assert outcome_of(result) == {"passed": 1, "errors": 1}
    result.stdout.fnmatch_lines(["*s.jsonl:2: image 'pipe.png' is a named pipe (FIFO), not a "
                                 "regular file*"])


def test_the_default_limit_is_checked_before_reading(tmp_path: Path) -> None:
    """A sparse 300 MB file is refused from its size alone (default limit 256 MB)."""
    from unisafe_pytest.errors import SuiteError
    from unisafe_pytest.schema.tasks import TaskRegistry
    from unisafe_pytest.suites import load_suite

    path = tmp_path / "huge.jsonl"
    with path.open("wb") as fh:
        fh.truncate(300 * 1024 * 1024)
    with pytest.raises(SuiteError) as info:
        load_suite("huge.jsonl", TaskRegistry(), base_dir=tmp_path)
    assert str(info.value) == (
        "huge.jsonl: the suite file is 300.0 MB, over the 256.0 MB limit (not read); split "
        "it, or raise the limit with the environment variable UNISAFE_MAX_FILE_MB=<megabytes>")


def test_the_image_limit_is_raised_with_its_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.robustness.pngs import tiny_png
    from unisafe_pytest.errors import SuiteError
    from unisafe_pytest.suites.media import MediaResolver

    (tmp_path / "big.png").write_bytes(tiny_png() + b"\0" * (2 * 1024 * 1024))
    assert MediaResolver(tmp_path).resolve("big.png").mime == "image/png"  # 20 MB default
    monkeypatch.setenv("UNISAFE_MAX_IMAGE_MB", "1")
    with pytest.raises(SuiteError) as info:
        MediaResolver(tmp_path).resolve("big.png")
    assert "over the 1.0 MB limit" in str(info.value)
    assert "UNISAFE_MAX_IMAGE_MB=<megabytes>" in str(info.value)
    monkeypatch.setenv("UNISAFE_MAX_IMAGE_MB", "3")
    assert (MediaResolver(tmp_path).resolve("big.png").size_bytes or 0) > 2 * 1024 * 1024
