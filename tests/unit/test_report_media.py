"""The HTML report plays audio and shows video (issue 16): each clip is an ``<audio controls>``
or ``<video controls preload="metadata">`` element whose ``src`` is the clip's file relative to
the report, never an absolute path and never a broken ``<img>`` thumbnail; a clip whose file is
missing, or whose bytes do not match the recorded sha256, says it is not available."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from unisafe_pytest.report.html import write_html
from unisafe_pytest.report.summary import build_summary_json
from unisafe_pytest.schema import JudgeRow, OutputSummary, Record, Verdict

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28)
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(16)


class Elements(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def clip(root: Path, ref: str, data: bytes, kind: str, mime: str) -> dict[str, object]:
    (root / ref).parent.mkdir(parents=True, exist_ok=True)
    (root / ref).write_bytes(data)
    return {"ref": ref, "kind": kind, "mime": mime, "sha256": hashlib.sha256(data).hexdigest()}


def report(tmp_path: Path) -> tuple[str, list[tuple[str, dict[str, str | None]]]]:
    suite = tmp_path / "suite"
    run = tmp_path / "runs" / "r1"
    spoken = clip(suite, "audio/ask me.wav", WAV, "audio", "audio/wav")
    said = clip(run, "outputs/a/answer.wav", WAV + b"x", "audio", "audio/wav")
    film = clip(suite, "video/v.mp4", MP4, "video", "video/mp4")
    stale = {**clip(suite, "audio/stale.wav", WAV, "audio", "audio/wav"), "sha256": "0" * 64}
    unsafe = JudgeRow(judge="j", judgment=1, risk_rating=3, reasoning="r")
    records = [
        Record(run_id="r", suite="s", protocol="unisafe", model="m", id="a", task="AT",
               category="c", outcome="failed", verdict=Verdict.combine("unisafe", [unsafe]),
               inputs=[spoken], output=OutputSummary(text="t", images=[said])),
        Record(run_id="r", suite="s", protocol="unisafe", model="m", id="v", task="VT",
               category="c", outcome="failed", verdict=Verdict.combine("unisafe", [unsafe]),
               inputs=[film, stale, {"ref": "audio/gone.wav", "kind": "audio"}],
               output=OutputSummary(text="t")),
    ]
    out = write_html(run / "report.html", records, {"run_id": "r"},
                     build_summary_json(records, None), image_roots=[suite])
    page = out.read_text(encoding="utf-8")
    parser = Elements()
    parser.feed(page)
    return page, parser.found


def test_audio_and_video_are_players_with_relative_src(tmp_path: Path) -> None:
    page, found = report(tmp_path)
    players = {str(a["src"]): (tag, a) for tag, a in found if tag in ("audio", "video")}
    assert set(players) == {"../../suite/audio/ask%20me.wav", "outputs/a/answer.wav",
                            "../../suite/video/v.mp4"}
    for src, (tag, attrs) in players.items():
        assert "controls" in attrs and not Path(src).is_absolute()
        assert tag == ("video" if src.endswith(".mp4") else "audio")
    assert players["../../suite/video/v.mp4"][1]["preload"] == "metadata"
    assert str(tmp_path) not in page  # no absolute path of this machine
    assert not any(tag == "img" and "src" in a for tag, a in found)  # no <img> for clips
    csp = next(a["content"] for tag, a in found if a.get("http-equiv") ==
               "Content-Security-Policy")
    assert csp is not None and "media-src 'self' file:" in csp


def test_instances_point_at_their_players_and_say_what_is_missing(tmp_path: Path) -> None:
    page, found = report(tmp_path)
    keys = {a["data-key"] for tag, a in found if tag in ("audio", "video")}
    data = re.search(r'id="unisafe-data">(.*?)</script>', page, re.S)
    assert data is not None
    rows = {r["id"]: r for r in json.loads(data.group(1))["instances"]}
    assert rows["a"]["inputs"][0] in keys and rows["a"]["outputs"][0] in keys
    film, stale, gone = rows["v"]["inputs"]
    assert film in keys and film.startswith("video:")
    assert stale == gone == "unavailable:audio"  # wrong bytes or no file: not played
