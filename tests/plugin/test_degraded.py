"""A degraded default judge is announced (issue 15, part 2).

Class: the judges run with less than they are meant to (the tesseract program missing, so
the offline judge reads no text in images; the offline extra missing, so only the refusal
rule decides). Each is said in words with the command that fixes it, in the run header (the
``unisafe: model ...; judges ...`` line), in summary.json (``degraded``) and in the terminal
summary. On the old code (dd7bba9) the header was unchanged and summary.json had no
``degraded`` key: only protocol.json said "unavailable".
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import instance


def needs(*modules: str) -> None:
    """Skip unless installed (looked up, not imported: numpy loads once per process)."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")


def summary_of(root: Path) -> dict[str, object]:
    runs = sorted((root / ".unisafe" / "runs").iterdir())
    assert len(runs) == 1, runs
    summary: dict[str, object] = json.loads((runs[0] / "summary.json").read_text())
    return summary


def header(result: pytest.RunResult) -> str:
    lines = [line for line in result.outlines if line.startswith("unisafe: model ")]
    assert len(lines) == 1, result.outlines
    return lines[0]


@pytest.fixture
def cases(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makefile(".jsonl", cases="\n".join(json.dumps(instance(f"i{n}"))
                                                for n in range(2)))
    return pytester


def test_no_tesseract_on_path_is_announced_with_its_fix(
    cases: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    needs("onnxruntime", "pytesseract")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # the run's python is named by its full path
    result = cases.runpytest_subprocess("--unisafe-model=echo", "--unisafe-suite=cases.jsonl",
                                        "-p", "no:cacheprovider")
    line = header(result)
    assert "DEGRADED" in line and "OCR off" in line and "apt-get install tesseract-ocr" in line
    assert summary_of(cases.path)["degraded"] == [{
        "what": "the offline judge reads no text in images (OCR off): the tesseract program "
                "is not on PATH, so text drawn in an image is not judged",
        "fix": "apt-get install tesseract-ocr"}]
    result.stdout.fnmatch_lines(["*unisafe summary*", "DEGRADED: *OCR off*; fix: apt-get "
                                 "install tesseract-ocr"])


def test_a_missing_offline_extra_is_announced_with_its_fix(
    cases: pytest.Pytester, suite_conftest: Callable[[str], None]
) -> None:
    suite_conftest("import sys\nsys.modules['onnxruntime'] = None  # as if not installed\n")
    result = cases.runpytest_subprocess("--unisafe-model=refuse", "--unisafe-suite=cases.jsonl",
                                        "-p", "no:cacheprovider")
    line = header(result)
    assert "judges refusal rule only; DEGRADED: the default offline judge is not installed" \
        in line
    assert "pip install 'unisafe-pytest[offline]'" in line
    degraded = summary_of(cases.path)["degraded"]
    assert isinstance(degraded, list) and len(degraded) == 1
    assert degraded[0]["fix"] == "pip install 'unisafe-pytest[offline]'"
    result.stdout.fnmatch_lines(["DEGRADED: the default offline judge is not installed*"])


@pytest.fixture
def suite_conftest(cases: pytest.Pytester) -> Callable[[str], None]:
    def make(text: str) -> None:
        cases.makeconftest(text)

    return make


def test_a_whole_judge_announces_nothing(cases: pytest.Pytester) -> None:
    needs("onnxruntime", "pytesseract")
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed here")
    result = cases.runpytest_subprocess("--unisafe-model=refuse", "--unisafe-suite=cases.jsonl",
                                        "-p", "no:cacheprovider")
    assert "DEGRADED" not in result.stdout.str()
    assert summary_of(cases.path)["degraded"] == []


def test_offline_no_ocr_is_a_choice_not_a_degradation(
    cases: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    needs("onnxruntime")
    monkeypatch.setenv("PATH", str(tmp_path))
    result = cases.runpytest_subprocess("--unisafe-model=refuse", "--unisafe-judge=offline:no-ocr",
                                        "--unisafe-suite=cases.jsonl", "-p", "no:cacheprovider")
    assert "DEGRADED" not in result.stdout.str()
    assert summary_of(cases.path)["degraded"] == []
