"""The HTML report in headless Chromium: it loads with no console error, the script runs,
and a screenshot shows the page (Debian's ``chromium``; CI installs it in ``.ci/run``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from tests.conftest import MODEL_ARGS, instance

pytestmark = pytest.mark.slow

EVIL = "<img src=x onerror=console.error('xss')><script>console.error('xss')</script>"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed: apt-get install -y chromium (see .ci/run)")
    pytest.skip("chromium is not installed (apt-get install -y chromium)")


def browse(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
               "--enable-logging=stderr", "--v=0", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_report_renders_without_console_errors(
    fakes: pytest.Pytester, suite: Callable[..., Path], tmp_path: Path
) -> None:
    suite("evil.jsonl", [instance("x1", behaviour="unsafe", category=EVIL),
                         instance("x2", behaviour="model-error"),
                         instance("x3", behaviour="refuse")])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=smoke", "--unisafe-suite=evil.jsonl",
                             "--unisafe-report-dir=run", "--unisafe-max-asr=0.5")
    result.assert_outcomes(passed=59, failed=1, errors=1)
    page = fakes.path / "run" / "report.html"

    dom = browse(page, tmp_path / "profile-dom", "--virtual-time-budget=5000", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    assert 'data-ready="1"' in dom.stdout  # the instance list's script ran to its end
    errors = re.search(r'id="js-errors"[^>]*data-count="(\d+)"', dom.stdout)
    assert errors is not None and errors.group(1) == "0"
    assert dom.stdout.count("<tr>") > 60  # summary tables and instance rows were built

    shot = tmp_path / "report.png"
    shooting = browse(page, tmp_path / "profile-shot", f"--screenshot={shot}",
                      "--window-size=1280,1600")
    assert shooting.returncode == 0, shooting.stderr[-2000:]
    assert [line for line in shooting.stderr.splitlines() if ":CONSOLE" in line] == []
    with Image.open(shot) as image:
        assert image.size == (1280, 1600)
        gray = image.convert("L")
        assert ImageStat.Stat(gray).stddev[0] > 10  # not a blank page
        top = gray.crop((0, 0, 1280, 400))
        assert top.getextrema()[0] < 80  # dark text in the header and the gate table
    print(f"screenshot: {shot}")
