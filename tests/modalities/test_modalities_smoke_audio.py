"""The built-in smoke-audio suite is heard and checkable (issue 16), without the plugin:

- every committed clip, through the embedded model's transcript step (the packaged
  PocketSphinx), is heard as the text it speaks (at most one word off) and every risky clip's
  key word is heard, so the embedded model is asked the risky request itself;
- each scenario's category and subcategory are in the text taxonomy its suite names;
- ``make_smoke_audio.py --check`` runs no program at all (no speech engine needed, none
  called) and passes on the committed bytes; it fails, naming the file, on a changed clip
  byte, a missing clip, a changed suite line, or a manifest naming another voice;
- the manifest records the engine, voice, settings, the engine's version, its Debian package
  and each clip's sha256; the clips are 16 kHz mono 16-bit PCM and stay small.

On the old code (espeak-ng clips) PocketSphinx heard "two weeks due to how you'll like oh oh"
for the pipe-bomb request, the categories were not the text taxonomy's, and the manifest
named no voice or settings.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Any

import pytest

from scripts import make_smoke_audio as maker
from scripts.smoke_audio_wer import edits as word_edits
from scripts.smoke_audio_wer import words
from unisafe_pytest.adapters import speech
from unisafe_pytest.judges.rubric_prompts import TEXT_TAXONOMY

ROOT = maker.ROOT


@pytest.mark.skipif(not speech.available(), reason="pocketsphinx not installed")
def test_the_embedded_transcript_step_hears_what_each_clip_says() -> None:
    ears = speech.Recogniser("test")
    for ident, *_, risky, _twin, text in maker.SCENARIOS:
        heard = words(ears.transcribe((ROOT / "audio" / f"{ident}.wav").read_bytes()))
        assert word_edits(words(text), heard) <= 1, (ident, text, heard)
        if risky:
            assert maker.KEY_WORDS[ident] in heard, (ident, heard)


def test_every_scenario_is_a_risky_benign_pair_in_the_text_taxonomy() -> None:
    rows = [json.loads(line) for line in
            (ROOT / "smoke-audio.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows[0]["unisafe_suite"]["taxonomy"] == "unisafe-text"
    by_id = {row["id"]: row for row in rows[1:]}
    assert len(by_id) == len(maker.SCENARIOS) >= 8
    for ident, row in by_id.items():
        assert row["subcategory"] in TEXT_TAXONOMY[row["category"]], ident
        twin = by_id[row["twin"]]
        assert twin["twin"] == ident and twin["risky"] != row["risky"], ident
        assert (twin["category"], twin["subcategory"]) == (row["category"], row["subcategory"])
    assert set(maker.KEY_WORDS) == {i for i, row in by_id.items() if row["risky"]}


def no_programs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An empty PATH, and any attempt to start a program fails the test."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"--check started a program: {args!r}")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)


def test_check_passes_on_the_committed_bytes_without_any_speech_engine(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    no_programs(monkeypatch, tmp_path)
    assert maker.main(["--check"]) == 0
    out = capsys.readouterr().out
    assert "flite is not installed: regeneration not compared" in out and out.endswith("ok\n")


def committed_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "smoke-audio"
    shutil.copytree(ROOT, copy)
    return copy


@pytest.mark.parametrize("damage, named", [
    (lambda root: (root / "audio" / "sa-harm.wav").write_bytes(
        (root / "audio" / "sa-harm.wav").read_bytes()[:-1] + b"\x01"), "audio/sa-harm.wav"),
    (lambda root: (root / "audio" / "sa-drugs-b.wav").unlink(), "audio/sa-drugs-b.wav"),
    (lambda root: (root / "smoke-audio.jsonl").write_text(
        (root / "smoke-audio.jsonl").read_text(encoding="utf-8").replace("meth", "math"),
        encoding="utf-8"), "smoke-audio.jsonl"),
    (lambda root: (root / "MANIFEST.json").write_text(json.dumps(
        {**json.loads((root / "MANIFEST.json").read_text(encoding="utf-8")),
         "voice": "slt"}), encoding="utf-8"), "MANIFEST.json (voice is not flite rms)"),
    (lambda root: (root / "MANIFEST.json").write_text(json.dumps(
        {**json.loads((root / "MANIFEST.json").read_text(encoding="utf-8")),
         "settings": {"duration_stretch": "1.2"}}), encoding="utf-8"),
     "MANIFEST.json (voice is not flite rms)"),
], ids=["clip byte", "missing clip", "suite line", "other voice", "other settings"])
def test_check_names_what_differs(
        damage: Any, named: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = committed_copy(tmp_path)
    damage(root)
    no_programs(monkeypatch, tmp_path)
    assert maker.main(["--check", "--root", str(root)]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("differs: ") and named in last.removeprefix("differs: ").split(", ")


def test_the_manifest_records_the_voice_and_the_clips_are_small_16k_mono() -> None:
    manifest = json.loads((ROOT / "MANIFEST.json").read_text(encoding="utf-8"))
    assert {k: manifest[k] for k in ("engine", "voice", "settings")} == maker.VOICE.describe()
    assert "flite" in manifest["engine_version"] and manifest["rate"] == 16000
    assert set(manifest["debian_packages"]) == set(maker.VOICE.packages) == {"flite"}
    assert "apt-get install flite" in (maker.__doc__ or "")
    total = 0
    for ident, *_ in maker.SCENARIOS:
        data = (ROOT / "audio" / f"{ident}.wav").read_bytes()
        assert manifest["sha256"][f"audio/{ident}.wav"] == hashlib.sha256(data).hexdigest()
        with wave.open(io.BytesIO(data)) as clip:
            shape = clip.getframerate(), clip.getnchannels(), clip.getsampwidth()
        assert shape == (16000, 1, 2), ident
        total += len(data)
    assert total < 800_000


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")
def test_the_clips_are_what_the_script_makes(tmp_path: Path) -> None:
    """With flite at the manifest's version, regeneration gives the committed bytes."""
    manifest = json.loads((ROOT / "MANIFEST.json").read_text(encoding="utf-8"))
    if maker.engine_version(maker.VOICE) != manifest["engine_version"]:
        pytest.skip("flite is not the manifest's version")
    ident, *_, text = maker.SCENARIOS[0]
    assert maker.speak(text) == (ROOT / "audio" / f"{ident}.wav").read_bytes()
