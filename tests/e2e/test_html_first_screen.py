"""The HTML report's first screen (issue 15), measured in headless Chromium at 1400 and 400 px.

A probe script is appended to a copy of the report (same folder, same CSP) and writes what it
measures into the page, which ``--dump-dom`` returns: the page's scroll width against the
viewport, where the judge banner, the verdict and the headline chart sit, the order of the
instance rows, whether badges wrap, whether a thumbnail opens enlarged, and whether the
filters follow the URL's hash. On the old code (dd7bba9) there was no banner, verdict line or
chart, instances came in record order, a 400 px page was about 980 px wide and the hash did
nothing: these tests failed there.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageStat

from tests.conftest import MODEL_ARGS, instance
from tests.e2e.test_html_screenshot import chromium

pytestmark = pytest.mark.slow

RANK = {"unsafe": 0, "error": 1, "refusal": 2, "safe": 3, "skipped": 4}

PROBE = """
<script>
window.addEventListener("load", function () {
  function box(el) { if (!el) { return null; } var r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width,
            height: r.height}; }
  var out = {inner: window.innerWidth, innerHeight: window.innerHeight,
             scroll: document.documentElement.scrollWidth,
             bodyScroll: document.body.scrollWidth,
             banner: box(document.getElementById("judge-banner")),
             bannerText: (document.getElementById("judge-banner") || {}).textContent || "",
             verdict: box(document.getElementById("verdict")),
             verdictText: (document.getElementById("verdict") || {}).textContent || "",
             chart: box(document.querySelector("#headline .chart")),
             charts: document.querySelectorAll("#headline .chart").length,
             bars: document.querySelectorAll("#headline .bar-row").length,
             whiskers: document.querySelectorAll("#headline .whisker").length,
             stats: Array.prototype.map.call(document.querySelectorAll("#headline .stat"),
                                             function (s) { return s.textContent; }),
             verdicts: Array.prototype.map.call(
               document.querySelectorAll("#instances tbody td:first-child .badge"),
               function (b) { return b.textContent; }),
             badgeHeights: Array.prototype.map.call(document.querySelectorAll(".badge"),
               function (b) { return b.getBoundingClientRect().height; }),
             verdictColumn: box(document.querySelector("#instances thead th")),
             filterVerdict: document.getElementById("f-verdict").value,
             count: document.getElementById("f-count").textContent};
  var img = document.querySelector("#instances img");
  out.thumb = box(img);
  if (img) {
    img.click();
    var lb = document.getElementById("lightbox");
    out.lightboxHidden = lb.hidden;
    out.lightboxImg = box(lb.querySelector("img"));
    out.lightboxLink = lb.querySelector("a").getAttribute("href");
    lb.click();
    out.lightboxClosed = lb.hidden;
  }
  var select = document.getElementById("f-verdict");
  select.value = "safe";
  select.dispatchEvent(new Event("change"));
  out.hashAfter = location.hash;
  var pre = document.createElement("pre"); pre.id = "probe";
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
  if (window.parent !== window) { window.parent.postMessage(JSON.stringify(out), "*"); }
});
</script>
"""

FRAME = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{margin:0}
iframe{border:0;display:block}</style></head><body>
<iframe src="SRC" width="WIDTH" height="HEIGHT"></iframe>
<script>window.addEventListener("message", function (e) {
  var pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = e.data;
  document.body.appendChild(pre); });</script></body></html>
"""
"""Headless Chromium's window is at least 500 px wide: a 400 px phone screen is an iframe of
that width (its viewport, media queries included, is 400 px)."""


def make_report(fakes: pytest.Pytester, suite: Callable[..., Path]) -> Path:
    """A run of the smoke suite plus an unsafe, a failed and a refused instance, with a gate."""
    suite("extra.jsonl", [instance("x1", behaviour="unsafe"),
                          instance("x2", behaviour="model-error"),
                          instance("x3", behaviour="refuse")])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=smoke", "--unisafe-suite=extra.jsonl",
                             "--unisafe-report-dir=run", "--unisafe-max-asr=0.5")
    assert (fakes.path / "run" / "report.html").is_file(), result.stdout.str()[-3000:]
    return fakes.path / "run" / "report.html"


def browse(page: Path, profile: Path, *args: str,
           url: str = "") -> subprocess.CompletedProcess[str]:
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--hide-scrollbars",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args,
               url or page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def probe(page: Path, tmp_path: Path, width: int, height: int, hash_: str = "") -> dict[str, Any]:
    copy = page.with_name(f"probe-{width}.html")
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                    encoding="utf-8")
    url = copy.as_uri() + hash_
    if width < 500:
        frame = copy.with_suffix(".frame.html")
        frame.write_text(FRAME.replace("SRC", copy.name + hash_).replace(
            "WIDTH", str(width)).replace("HEIGHT", str(height)), encoding="utf-8")
        url = frame.as_uri()
    dom = browse(copy, tmp_path / f"profile-{width}{len(hash_)}",
                 f"--window-size={max(width, 500)},{height}", "--virtual-time-budget=5000",
                 "--dump-dom", url=url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert [line for line in dom.stderr.splitlines() if ":CONSOLE" in line] == []
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stdout[-2000:]
    text = found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    return dict(json.loads(text.replace("&amp;", "&")))


def shoot(page: Path, tmp_path: Path, width: int, height: int) -> Image.Image:
    """A screenshot of the page ``width`` px wide (cropped from the 500 px window when
    narrower: the page is then shown in an iframe of that width)."""
    shot = tmp_path / f"report-{width}.png"
    url = page.as_uri()
    if width < 500:
        frame = page.with_name(f"shot-{width}.frame.html")
        frame.write_text(FRAME.replace("SRC", page.name).replace("WIDTH", str(width)).replace(
            "HEIGHT", str(height)), encoding="utf-8")
        url = frame.as_uri()
    done = browse(page, tmp_path / f"profile-shot-{width}", f"--screenshot={shot}",
                  f"--window-size={max(width, 500)},{height}", "--virtual-time-budget=5000",
                  url=url)
    assert done.returncode == 0, done.stderr[-2000:]
    image = Image.open(shot).crop((0, 0, width, height))
    assert ImageStat.Stat(image.convert("L")).stddev[0] > 10  # not a blank page
    print(f"screenshot: {shot}")
    return image


def test_first_screen_at_1400_px(
        fakes: pytest.Pytester, suite: Callable[..., Path], tmp_path: Path) -> None:
    page = make_report(fakes, suite)
    got = probe(page, tmp_path, 1400, 900)
    assert got["inner"] == 1400 and got["scroll"] <= 1400
    # the judge's kind is the first thing on the page, then the verdict and the headline
    assert got["banner"]["top"] < 40 and got["banner"]["bottom"] <= 900
    assert got["bannerText"].strip()
    assert got["verdict"]["bottom"] <= 900 and "Gates" in got["verdictText"]
    assert re.search(r"Gates (PASSED|FAILED)", got["verdictText"])
    assert got["chart"] is not None and got["chart"]["top"] < 900  # a chart on screen one
    assert got["bars"] >= 7 and got["whiskers"] >= 1  # one bar per task, intervals shown
    stats = " ".join(got["stats"])
    assert "ASR" in stats and "[" in stats  # the headline rate has its interval
    assert "false-flag" in stats and "over-refusal" in stats  # smoke has benign twins
    # unsafe and errors first, skipped last: ranks never go down
    ranks = [RANK.get(v, 3) for v in got["verdicts"]]
    assert ranks == sorted(ranks) and ranks[0] == 0, got["verdicts"]
    assert max(got["badgeHeights"]) < 30  # no badge wraps onto a second line
    # a thumbnail opens enlarged, and closes again
    assert got["thumb"] is not None and got["lightboxHidden"] is False
    assert got["lightboxImg"]["width"] > 3 * got["thumb"]["width"]
    assert got["lightboxLink"] and not got["lightboxLink"].startswith(("/", "file:"))
    assert (page.parent / got["lightboxLink"].replace("%20", " ")).resolve().is_file()
    assert got["lightboxClosed"] is True
    assert got["hashAfter"] == "#verdict=safe"  # the filter state went into the URL
    shoot(page, tmp_path, 1400, 900)


def test_first_screen_at_400_px_and_filters_from_the_hash(
        fakes: pytest.Pytester, suite: Callable[..., Path], tmp_path: Path) -> None:
    page = make_report(fakes, suite)
    got = probe(page, tmp_path, 400, 860, "#verdict=unsafe")
    assert got["inner"] == 400
    assert got["scroll"] <= 400 and got["bodyScroll"] <= 400, got  # no sideways page scroll
    assert got["banner"]["right"] <= 400 and got["banner"]["bottom"] <= 860
    assert got["verdict"]["right"] <= 400
    assert got["verdictColumn"]["right"] <= 400  # the verdict column is on screen
    # opened with #verdict=unsafe: the filter is set and only unsafe rows are listed
    assert got["filterVerdict"] == "unsafe"
    assert got["verdicts"] and set(got["verdicts"]) == {"unsafe"}, got["verdicts"]
    assert re.match(r"\d+ of \d+ shown", got["count"])
    image = shoot(page, tmp_path, 400, 860)
    top = image.convert("L").crop((0, 0, 400, 200))
    darkest = top.getextrema()[0]
    assert isinstance(darkest, int) and darkest < 80  # the banner's text is drawn at the top
