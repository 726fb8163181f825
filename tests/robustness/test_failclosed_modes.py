"""Reports and cache entries get the permissions any new file gets: the umask decides.

Class covered: every file the plugin writes through its atomic writer (records, summary,
protocol, report.html, judgments.jsonl, cache entries, the CLI's exports and merges) is
created with mode ``0o666`` less the umask, like a file written by any other tool: ``0644``
under umask ``022`` (a team can read a shared CI folder), ``0600`` under ``077``.

These tests failed on the old code: ``tempfile.mkstemp`` made every such file ``0600``
whatever the umask (the ``022`` cases failed; the ``077`` ones passed by accident).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MODEL_ARGS, instance, write_suite
from tests.robustness.helpers import only_run, outcome_of

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


@pytest.fixture(params=[0o022, 0o077, 0o027], ids=["umask022", "umask077", "umask027"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    mask: int = request.param
    old = os.umask(mask)
    try:
        yield mask
    finally:
        os.umask(old)


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode)
            for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


def test_run_files_and_cache_entries_follow_the_umask(fakes: pytest.Pytester,
                                                      umask: int) -> None:
    write_suite(fakes.path / "cases.jsonl",
                [instance("a"), instance("b", behaviour="unsafe")])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl")
    assert outcome_of(result) == {"passed": 1, "failed": 1}
    run = only_run(fakes.path)
    modes = _modes(fakes.path / ".unisafe")
    for premade in (".gitignore", "CACHEDIR.TAG"):  # written by conftest before the umask
        modes.pop(premade)
    names = {Path(name).name for name in modes}
    assert {"records.jsonl", "summary.json", "protocol.json", "report.html",
            "judgments.jsonl"} <= names, sorted(modes)
    cache = fakes.path / ".unisafe" / "cache"
    assert any(p.is_file() for p in cache.rglob("*")), "no cache entry was written"
    assert run.is_dir()
    wrong = {name: oct(mode) for name, mode in modes.items() if mode != 0o666 & ~umask}
    assert not wrong, f"expected {oct(0o666 & ~umask)} under umask {oct(umask)}: {wrong}"


def test_cli_exports_and_merges_follow_the_umask(
    fakes: pytest.Pytester, umask: int, capsys: pytest.CaptureFixture[str]
) -> None:
    from unisafe_pytest.cli import main

    write_suite(fakes.path / "cases.jsonl", [instance("a")])
    fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=cases.jsonl")
    run = only_run(fakes.path)
    out = fakes.path / "exported"
    out.mkdir()
    assert main(["export-judgments", str(run), "-o", str(out / "rows.jsonl")]) == 0
    assert main(["merge", str(run), "-o", str(out / "merged")]) == 0
    assert main(["compare", str(run), "--chart", str(out / "chart.svg")]) == 0
    capsys.readouterr()
    modes = _modes(out)
    assert {"rows.jsonl", "chart.svg", "merged/records.jsonl", "merged/report.html"} <= set(
        modes), sorted(modes)
    wrong = {name: oct(mode) for name, mode in modes.items() if mode != 0o666 & ~umask}
    assert not wrong, f"expected {oct(0o666 & ~umask)} under umask {oct(umask)}: {wrong}"


def test_the_writer_never_changes_the_process_umask(tmp_path: Path, umask: int) -> None:
    """The umask is applied by the system at creation: no os.umask() call that could race."""
    from unisafe_pytest.io.files import write_atomic

    write_atomic(tmp_path / "f.txt", "x")
    assert os.umask(umask) == umask
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # no temporary file left
