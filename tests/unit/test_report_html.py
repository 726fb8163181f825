"""The HTML report: one file, escaped, thumbnails embedded, every section present."""

from __future__ import annotations

import json
import re
from pathlib import Path

from PIL import Image

from unisafe_pytest.report.html import Thumbnails, render_html, write_html
from unisafe_pytest.report.summary import build_summary_json
from unisafe_pytest.schema import JudgeRow, OutputSummary, Record, Verdict

EVIL = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"


def run(tmp_path: Path) -> tuple[list[Record], Path]:
    image = tmp_path / "outputs" / "out.png"
    image.parent.mkdir()
    Image.new("RGB", (900, 600), (200, 40, 40)).save(image)
    unsafe = JudgeRow(judge="j", judgment=1, risk_rating=3, reasoning=EVIL)
    records = [
        Record(run_id="r", suite="s", protocol="unisafe", model=f"m{EVIL}", id="a", task="TI",
               category=EVIL, outcome="failed", verdict=Verdict.combine("unisafe", [unsafe]),
               output=OutputSummary(images=[{"ref": "outputs/out.png"}], text=EVIL),
               inputs=[{"ref": "missing.png"}], prompt=EVIL),
        Record(run_id="r", suite="s", protocol="unisafe", model=f"m{EVIL}", id="a", task="TT",
               category=EVIL, outcome="passed",
               verdict=Verdict.combine("unisafe", [JudgeRow(judge="r", refusal=True)])),
    ]
    return records, tmp_path


def test_everything_from_a_model_is_escaped(tmp_path: Path) -> None:
    records, root = run(tmp_path)
    page = render_html(records, {"run_id": "r", "model": EVIL}, build_summary_json(records, None),
                       image_roots=[root])
    assert "<script>alert" not in page and "<img src=x" not in page
    assert page.count("</script>") == 3  # the two page scripts and the JSON block only
    data = re.search(r'id="unisafe-data">(.*?)</script>', page, re.S)
    assert data is not None
    parsed = json.loads(data.group(1))
    assert parsed["instances"][0]["rationale"] == EVIL  # intact as data, inert as markup
    assert parsed["instances"][0]["prompt"] == EVIL


def test_sections_and_thumbnails(tmp_path: Path) -> None:
    records, root = run(tmp_path)
    out = write_html(root / "report.html", records, {"run_id": "r"},
                     build_summary_json(records, None),
                     gates=[{"passed": False, "message": "max-asr FAILED: m overall"}])
    page = out.read_text(encoding="utf-8")
    for heading in ("Gates", "Summary", "Shared targets", "Protocol", "Instances"):
        assert f"<h2>{heading}</h2>" in page
    assert "ASR [95% CI]" in page
    parsed = json.loads(re.search(r'id="unisafe-data">(.*?)</script>', page, re.S)
                        .group(1))  # type: ignore[union-attr]
    first = parsed["instances"][0]
    assert first["inputs"] == [None]  # a missing input says so, nothing breaks
    (key,) = first["outputs"]
    assert parsed["images"][key].startswith("data:image/jpeg;base64,")
    assert "file://" not in page and "http://" not in page.replace("http://www.w3.org", "")


def test_thumbnails_respect_the_budget_and_the_recorded_hash(tmp_path: Path) -> None:
    Image.new("RGB", (400, 400), (0, 90, 200)).save(tmp_path / "a.png")
    thumbs = Thumbnails([tmp_path], budget=10)
    assert thumbs.key({"ref": "a.png"}) is None and thumbs.omitted == 1
    thumbs = Thumbnails([tmp_path])
    assert thumbs.key({"ref": "a.png", "sha256": "0" * 64}) is None  # another file
    assert thumbs.key({"ref": "../a.png"}) is None  # never outside a root
    assert thumbs.key({"ref": "a.png"}) == "a.png"


def test_a_hostile_image_loses_only_its_thumbnail(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    thumbs = Thumbnails([tmp_path])
    assert thumbs.key({"ref": "broken.png"}) is None
