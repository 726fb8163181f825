"""Modalities as data (issue 16): the registry, task counts, and audio/video references
checked from their headers at collection (signature, size, duration, confinement)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.modalities.clips import MP3, MP4, OGG, WEBM, flac_header, wav
from unisafe_pytest.errors import ConfigError, SuiteError
from unisafe_pytest.schema import Media
from unisafe_pytest.schema.modalities import AUDIO, VIDEO, MediaFormat, ModalitySpec
from unisafe_pytest.schema.tasks import Task, TaskRegistry
from unisafe_pytest.suites import load_suite
from unisafe_pytest.suites.media import MediaResolver, media_from_bytes


def test_builtin_modalities_and_audio_task_counts() -> None:
    registry = TaskRegistry()
    assert set(registry.modalities) == {"text", "image", "audio", "video"}
    task = registry["AT"]
    assert (task.inputs, task.output, task.input_count("audio"), task.input_count("image"),
            task.media_inputs) == (frozenset({"text", "audio"}), "text", 1, 0, ("audio",))
    assert registry["TI"].output_count("image") == 1


def test_a_task_with_an_unregistered_modality_is_refused_until_the_modality_is_added() -> None:
    registry = TaskRegistry()
    task = Task(code="PC", name="pointcloud-to-text", protocol="unisafe",
                inputs=frozenset({"text", "pointcloud"}), output="text")
    with pytest.raises(ConfigError, match=r"modality 'pointcloud'.*not registered"):
        registry.add(task)
    registry.add_modality(ModalitySpec("pointcloud", (MediaFormat("model/x-ply", ".ply",
                                                                  ((0, b"ply\n"),)),)))
    registry.add(task)
    assert registry["PC"].input_count("pointcloud") == 1
    with pytest.raises(ConfigError, match="registered twice"):
        registry.add_modality(ModalitySpec("pointcloud"))


def test_counts_per_kind_are_declared_and_checked() -> None:
    registry = TaskRegistry()
    task = Task(code="A2", name="two clips", protocol="unisafe",
                inputs=frozenset({"text", "audio"}), output="audio",
                input_media=(("audio", 2),))
    registry.add(task)
    assert (task.input_count("audio"), task.output_count("audio")) == (2, 1)
    with pytest.raises(ConfigError, match="media count"):
        registry.add(Task(code="Bad", name="x", protocol="unisafe", inputs=frozenset({"text"}),
                          output="text", input_media=(("audio", -5),)))


@pytest.mark.parametrize(("data", "mime"), [
    (wav(), "audio/wav"), (MP3, "audio/mpeg"), (b"\xff\xfb\x90\x00" + b"\x00" * 8, "audio/mpeg"),
    (flac_header(1), "audio/flac"), (OGG, "audio/ogg"),
])
def test_audio_signatures(data: bytes, mime: str) -> None:
    media = media_from_bytes(data, ref="clip", modality=AUDIO)
    assert (media.kind, media.mime, media.sha256 is not None) == ("audio", mime, True)


@pytest.mark.parametrize(("data", "mime"), [(MP4, "video/mp4"), (WEBM, "video/webm")])
def test_video_signatures(data: bytes, mime: str) -> None:
    assert media_from_bytes(data, ref="v", modality=VIDEO).mime == mime


@pytest.mark.parametrize("data", [b"hello world", wav()[:4] + b"\x00" * 40, MP4])
def test_a_file_that_is_not_audio_is_refused_with_the_formats_named(data: bytes) -> None:
    with pytest.raises(SuiteError, match="not a WAV/MP3/FLAC/OGG audio file"):
        media_from_bytes(data, ref="clip", modality=AUDIO)


def test_wav_and_flac_durations_come_from_the_header_and_are_limited(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.wav").write_bytes(wav(0.5))
    (tmp_path / "long.flac").write_bytes(flac_header(3600))
    resolver = MediaResolver(tmp_path)
    assert resolver.resolve("a.wav", AUDIO).duration_s == 0.5
    with pytest.raises(SuiteError, match=r"lasts 3600.0 s, over the 600 s audio limit.*"
                                          "UNISAFE_MAX_AUDIO_S"):
        resolver.resolve("long.flac", AUDIO)
    monkeypatch.setenv("UNISAFE_MAX_AUDIO_S", "0.1")
    with pytest.raises(SuiteError, match=r"lasts 0\.5 s"):
        MediaResolver(tmp_path).resolve("a.wav", AUDIO)


def test_a_wav_header_that_lies_about_its_length_counts_only_the_bytes_there_are(
        tmp_path: Path) -> None:
    data = bytearray(wav(0.25))
    data[40:44] = (10**9).to_bytes(4, "little")  # data chunk claims a gigabyte
    (tmp_path / "lie.wav").write_bytes(bytes(data))
    assert MediaResolver(tmp_path).resolve("lie.wav", AUDIO).duration_s == 0.25
    data[28:32] = b"\x00\x00\x00\x00"  # byte rate 0
    (tmp_path / "zero.wav").write_bytes(bytes(data))
    with pytest.raises(SuiteError, match="byte rate of 0"):
        MediaResolver(tmp_path).resolve("zero.wav", AUDIO)


def test_size_limit_and_its_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.wav").write_bytes(wav(1.0))
    monkeypatch.setenv("UNISAFE_MAX_AUDIO_MB", "0.01")
    with pytest.raises(SuiteError, match=r"over the 0\.0 MB audio limit.*UNISAFE_MAX_AUDIO_MB"):
        MediaResolver(tmp_path).resolve("a.wav", AUDIO)
    monkeypatch.setenv("UNISAFE_MAX_AUDIO_MB", "lots")
    with pytest.raises(SuiteError, match="UNISAFE_MAX_AUDIO_MB='lots' is not a positive"):
        MediaResolver(tmp_path).resolve("a.wav", AUDIO)


def test_clip_paths_are_confined_and_regular(tmp_path: Path) -> None:
    root = tmp_path / "suite"
    root.mkdir()
    (tmp_path / "outside.wav").write_bytes(wav())
    (root / "link.wav").symlink_to(tmp_path / "outside.wav")
    os.mkfifo(root / "pipe.wav")
    resolver = MediaResolver(root)
    for ref, message in (("../outside.wav", "escapes the suite folder"),
                         ("link.wav", "escapes the suite folder"),
                         ("/etc/passwd", "is absolute"),
                         ("pipe.wav", "named pipe"),
                         ("missing.wav", "does not exist")):
        with pytest.raises(SuiteError, match=message) as info:
            resolver.resolve(ref, AUDIO)
        assert str(info.value).startswith("audio")


def test_media_describe_and_kinds() -> None:
    clip = Media.from_bytes(wav(), ref="a.wav", mime="audio/wav", kind="audio")
    clip.duration_s = 0.1
    assert clip.describe() == {"ref": "a.wav", "sha256": clip.sha256, "mime": "audio/wav",
                               "kind": "audio", "duration_s": 0.1}
    image = Media(ref="a.png", mime="image/png")
    assert "kind" not in image.describe()


def line(**fields: Any) -> str:
    base = {"id": "a1", "task": "AT", "category": "Hate", "instruction": "Answer the clip."}
    return json.dumps({**base, **fields})


def load(tmp_path: Path, *lines: str) -> Any:
    (tmp_path / "s.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_suite("s.jsonl", TaskRegistry(), base_dir=tmp_path)


def test_native_suite_references_audio_and_checks_counts(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(wav())
    suite = load(tmp_path, line(audio=["a.wav"]), line(id="a2", audio=[]),
                 line(id="a3", audio=["a.wav"], video=["a.wav"]),
                 line(id="a4", task="TT", audio=["a.wav"]),
                 line(id="a5", media={"sound": ["a.wav"]}))
    [instance] = suite.instances
    [clip] = instance.media_of("audio")
    assert (clip.kind, clip.ref, clip.mime, instance.images == [clip]) == (
        "audio", "a.wav", "audio/wav", True)
    errors = "\n".join(str(e) for e in suite.errors)
    assert "takes 1 input audio file(s), got 0" in errors
    assert "takes 0 input video file(s), got 1" in errors
    assert "task TT (text-to-text) takes 0 input audio file(s), got 1" in errors
    assert "modality 'sound', which is not registered" in errors
    assert len(suite.errors) == 4


def test_a_hook_added_modality_is_referenced_through_media(tmp_path: Path) -> None:
    (tmp_path / "c.ply").write_bytes(b"ply\nformat ascii 1.0\n")
    registry = TaskRegistry()
    registry.add_modality(ModalitySpec("pointcloud", (MediaFormat("model/x-ply", ".ply",
                                                                  ((0, b"ply\n"),)),)))
    registry.add(Task(code="PC", name="pointcloud-to-text", protocol="unisafe",
                      inputs=frozenset({"text", "pointcloud"}), output="text"))
    (tmp_path / "s.jsonl").write_text(line(task="PC", media={"pointcloud": ["c.ply"]}) + "\n",
                                      encoding="utf-8")
    suite = load_suite("s.jsonl", registry, base_dir=tmp_path)
    assert not suite.errors
    assert [m.kind for m in suite.instances[0].images] == ["pointcloud"]


def test_cache_keys_and_records_carry_audio_like_images(tmp_path: Path) -> None:
    from unisafe_pytest.runtime.keys import OutputKeys

    (tmp_path / "a.wav").write_bytes(wav(0.1))
    (tmp_path / "b.wav").write_bytes(wav(0.2))
    suite = load(tmp_path, line(audio=["a.wav"]), line(id="a2", audio=["b.wav"]))
    first, second = suite.instances
    second = second.model_copy(update={"id": "a1"})
    keys = OutputKeys({"kind": "fake"})
    assert keys.key(first, 0) != keys.key(second, 0)  # same text, different clip
    assert first.images[0].sha256 is not None  # hashed lazily, by the key
