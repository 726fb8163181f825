"""Video and compressed-audio headers at collection (issue 16): MP4/MOV box walk (``mvhd``
duration, ``tkhd`` frame of ``vide`` tracks, ``moov`` after ``mdat`` reached by seeking, 32/64-bit
and to-the-end box sizes), WebM EBML (Segment Info Duration x TimecodeScale, PixelWidth x
PixelHeight, live Segments of unknown size), OGG (Vorbis, Opus) and MP3 (Xing, CBR) durations.

Limits apply at collection (``UNISAFE_MAX_VIDEO_S``, ``UNISAFE_MAX_VIDEO_PIXELS``), a broken
header is a collection error at ``file:line`` naming the fault, and hostile headers (sizes of
0, 1, past the end, a flood of boxes, malformed EBML integers) end fast with that error.
Before this change MP4/WebM/OGG/MP3 headers were not read at all: the long, huge and broken
files here were all accepted.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import pytest

from tests.modalities.clips import box, ebml, mp4, webm
from unisafe_pytest.errors import SuiteError
from unisafe_pytest.schema.modalities import AUDIO, VIDEO
from unisafe_pytest.schema.tasks import TaskRegistry
from unisafe_pytest.suites import load_suite
from unisafe_pytest.suites.media import MediaResolver, media_from_bytes


def ogg_page(granule: int, serial: int, data: bytes, kind: int = 0) -> bytes:
    """One OGG page holding ``data`` as one packet (CRC left 0: never checked)."""
    lacing = bytes([255] * (len(data) // 255) + [len(data) % 255])
    return (b"OggS\x00" + bytes([kind]) + struct.pack("<qII", granule, serial, 0) + bytes(4)
            + bytes([len(lacing)]) + lacing + data)


def vorbis(seconds: float, rate: int = 44100, filler: int = 0) -> bytes:
    ident = b"\x01vorbis" + struct.pack("<IBI", 0, 2, rate) + bytes(14)
    return (ogg_page(0, 7, ident, 2) + ogg_page(0, 7, b"\x03vorbis")
            + b"".join(ogg_page(0, 7, bytes(60_000)) for _ in range(filler))
            + ogg_page(-1, 9, b"other stream") + ogg_page(round(seconds * rate), 7, b"x", 4))


def opus(seconds: float, preskip: int = 312) -> bytes:
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, preskip, 48000, 0, 0)
    return ogg_page(0, 3, head, 2) + ogg_page(round(seconds * 48000) + preskip, 3, b"y", 4)


def mp3_xing(frames: int) -> bytes:
    header = b"\xff\xfb\x90\xc4"  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz, mono
    frame = header + bytes(17) + b"Xing" + struct.pack(">II", 1, frames)
    return b"ID3\x04\x00\x00\x00\x00\x00\x05" + bytes(5) + frame + bytes(400)


def mp3_cbr(seconds: float) -> bytes:
    header = b"\xff\xfb\x90\x00"  # stereo, 128 kbit/s: 16,000 bytes a second
    return header + bytes(round(seconds * 16000) - 4)


def test_mp4_duration_and_frame_also_with_moov_after_mdat(tmp_path: Path) -> None:
    resolver = MediaResolver(tmp_path)
    (tmp_path / "a.mp4").write_bytes(mp4(2.5, 640, 360))
    (tmp_path / "b.mp4").write_bytes(mp4(7.25, 1280, 720, moov_last=True, timescale=90000,
                                         media=bytes(3 * 1024 * 1024)))
    assert resolver.resolve("a.mp4", VIDEO).duration_s == 2.5
    assert resolver.resolve("b.mp4", VIDEO).duration_s == 7.25
    assert media_from_bytes(mp4(1.5), ref="e", modality=VIDEO).duration_s == 1.5


def test_mp4_box_sizes_64_bit_and_to_the_end() -> None:
    mvhd = box(b"mvhd", bytes(12) + struct.pack(">II", 600, 1800) + bytes(80))
    ftyp = box(b"ftyp", b"isom\x00\x00\x02\x00isom")
    large = struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 16 + 40) + bytes(40)
    to_end = struct.pack(">I", 0) + b"mdat" + bytes(100)
    for data in (ftyp + large + box(b"moov", mvhd), ftyp + box(b"moov", mvhd) + to_end):
        assert media_from_bytes(data, ref="v", modality=VIDEO).duration_s == 3.0


def test_webm_duration_frame_scale_and_live_segments() -> None:
    assert media_from_bytes(webm(4.5, 320, 240), ref="w", modality=VIDEO).duration_s == 4.5
    assert media_from_bytes(webm(9.0, scale=1000), ref="w", modality=VIDEO).duration_s == 9.0
    header = ebml(0x1A45DFA3, ebml(0x4282, b"webm"))
    live_info = ebml(0x1549A966, ebml(0x2AD7B1, (1_000_000).to_bytes(3, "big")))
    live = header + bytes.fromhex("18538067") + b"\x01\xff\xff\xff\xff\xff\xff\xff" + live_info
    assert media_from_bytes(live, ref="w", modality=VIDEO).duration_s is None


def test_ogg_and_mp3_durations() -> None:
    def seconds(data: bytes) -> float | None:
        return media_from_bytes(data, ref="a", modality=AUDIO).duration_s

    assert seconds(vorbis(12.5)) == 12.5
    assert seconds(vorbis(3.0, filler=3)) == 3.0  # the last page read from the tail
    assert seconds(opus(2.0)) == 2.0
    assert seconds(mp3_xing(1000)) == pytest.approx(1000 * 1152 / 44100, abs=1e-3)
    assert seconds(mp3_cbr(2.0)) == 2.0


@pytest.mark.parametrize(("name", "data", "fault"), [
    ("moovless.mp4", box(b"ftyp", b"isom") + box(b"mdat", bytes(64)), "has no moov box"),
    ("small.mp4", box(b"ftyp", b"isom") + struct.pack(">I", 4) + b"free", "less than its 8-byte"),
    ("tiny64.mp4", box(b"ftyp", b"isom") + struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 8),
     "less than its 16-byte"),
    ("past.mp4", box(b"ftyp", b"isom") + struct.pack(">I", 1 << 30) + b"mdat" + bytes(16),
     "past the end of the file"),
    ("huge64.mp4", box(b"ftyp", b"isom") + struct.pack(">I", 1) + b"mdat"
     + struct.pack(">Q", 2**64 - 1), "past the end of the file"),
    ("flood.mp4", box(b"ftyp", b"isom") + box(b"free") * 20_000, "more than 4,000 boxes"),
    ("nested.mp4", box(b"ftyp", b"isom") + box(b"moov", box(b"trak", box(b"mdia", box(
        b"hdlr", bytes(8) + b"vide" + bytes(4)) + struct.pack(">I", 99) + b"minf"))),
     "past the end of its parent box"),
    ("scale0.mp4", mp4(timescale=0), "timescale of 0"),
    ("empty.mp4", mp4(width=0), "empty 0x48 frame"),
    ("novint.webm", ebml(0x1A45DFA3, ebml(0x4282, b"webm")) + b"\x00\x00\x00\x00",
     "malformed element ID"),
    ("past.webm", ebml(0x1A45DFA3, ebml(0x4282, b"webm")) + bytes.fromhex("18538067")
     + b"\x01\x00\x00\x00\x10\x00\x00\x00", "past the end of the file"),
    ("noseg.webm", ebml(0x1A45DFA3, ebml(0x4282, b"webm")), "has no Segment"),
    ("noinfo.webm", ebml(0x1A45DFA3, ebml(0x4282, b"webm")) + ebml(0x18538067, ebml(
        0x1F43B675, b"")), "has no Segment Info"),
    ("nan.webm", webm(float("nan")), "duration of nan"),
    ("scale0.webm", webm(scale=0), "TimecodeScale of 0"),
])
def test_a_broken_or_hostile_header_is_a_collection_error_at_file_and_line(
        name: str, data: bytes, fault: str, tmp_path: Path) -> None:
    (tmp_path / name).write_bytes(data)
    rows = [{"id": "ok", "task": "TT", "category": "Hate", "instruction": "hi"},
            {"id": "v1", "task": "VT", "category": "Hate", "instruction": "what is shown?",
             "video": [name]}]
    (tmp_path / "s.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n", encoding="utf-8")
    started = time.monotonic()
    suite = load_suite("s.jsonl", TaskRegistry(), base_dir=tmp_path)
    assert time.monotonic() - started < 5
    [error] = suite.errors
    assert isinstance(error, SuiteError) and error.line == 2 and fault in error.message, error
    assert str(error).startswith(f"{tmp_path / 's.jsonl'}:2: ") or ":2: " in str(error)
    assert "re-mux it whole" in error.message or "header" in error.message


def test_limits_apply_at_collection_and_their_variables_raise_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "long.mp4").write_bytes(mp4(3600.0, moov_last=True))
    (tmp_path / "big.webm").write_bytes(webm(5.0, 16384, 8192))
    (tmp_path / "long.ogg").write_bytes(vorbis(1200.0))
    resolver = MediaResolver(tmp_path)
    with pytest.raises(SuiteError, match=r"lasts 3600\.0 s, over the 600 s video limit.*"
                                         r"UNISAFE_MAX_VIDEO_S"):
        resolver.resolve("long.mp4", VIDEO)
    with pytest.raises(SuiteError, match=r"16384x8192 frames, over the 35,389,440-pixel video "
                                         r"frame limit.*UNISAFE_MAX_VIDEO_PIXELS"):
        resolver.resolve("big.webm", VIDEO)
    with pytest.raises(SuiteError, match=r"lasts 1200\.0 s, over the 600 s audio limit"):
        resolver.resolve("long.ogg", AUDIO)
    monkeypatch.setenv("UNISAFE_MAX_VIDEO_S", "4000")
    monkeypatch.setenv("UNISAFE_MAX_VIDEO_PIXELS", str(16384 * 8192))
    monkeypatch.setenv("UNISAFE_MAX_AUDIO_S", "1800")
    fresh = MediaResolver(tmp_path)
    assert fresh.resolve("long.mp4", VIDEO).duration_s == 3600.0
    assert fresh.resolve("big.webm", VIDEO).duration_s == 5.0
    assert fresh.resolve("long.ogg", AUDIO).duration_s == 1200.0
    monkeypatch.setenv("UNISAFE_MAX_VIDEO_PIXELS", "many")
    with pytest.raises(SuiteError, match="UNISAFE_MAX_VIDEO_PIXELS='many' is not a positive"):
        MediaResolver(tmp_path).resolve("big.webm", VIDEO)


def test_moov_after_a_large_mdat_is_reached_by_seeking(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 64 MB ``mdat`` is stepped over by its size: a few hundred bytes are read."""
    path = tmp_path / "late.mp4"
    with open(path, "wb") as out:
        out.write(box(b"ftyp", b"isom"))
        out.write(struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 16 + (64 << 20)))
        out.seek(64 << 20, 1)  # a sparse hole: no 64 MB written
        out.write(box(b"moov", box(b"mvhd", bytes(12) + struct.pack(">II", 1, 30) + bytes(80))))
    read: list[int] = []
    real_open = open

    class Counting:
        def __init__(self, handle: object) -> None:
            self.handle = handle

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()  # type: ignore[attr-defined]

        def seek(self, offset: int) -> int:
            return int(self.handle.seek(offset))  # type: ignore[attr-defined]

        def read(self, n: int = -1) -> bytes:
            data = bytes(self.handle.read(n))  # type: ignore[attr-defined]
            read.append(len(data))
            return data

    monkeypatch.setattr("builtins.open", lambda *a, **k: Counting(real_open(*a, **k)))
    monkeypatch.setenv("UNISAFE_MAX_VIDEO_MB", "100")
    media = MediaResolver(tmp_path).resolve("late.mp4", VIDEO)
    monkeypatch.undo()
    assert media.duration_s == 30.0
    assert sum(read) < 8192, read
