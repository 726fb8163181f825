"""The video frame limit's error names a variable that raises it, or none.

A modality registered without an ``env`` prefix has no variable for its limits
(``media_headers.max_pixels`` reads none), yet the error told the user to set
``UNISAFE_MAX_PIXELS``, which nothing reads. Covers both: the built-in video modality names
``UNISAFE_MAX_VIDEO_PIXELS`` (and setting it lets the clip through); a modality without a
prefix says to scale the clip down and names no variable.
"""

from __future__ import annotations

import struct

import pytest

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.media_probe import Probe, Source
from unisafe_pytest.schema.modalities import VIDEO, VIDEO_FORMATS, ModalitySpec
from unisafe_pytest.suites import media_headers


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _mp4(width: int, height: int) -> bytes:
    tkhd = b"\0" * 76 + struct.pack(">II", width << 16, height << 16)
    hdlr = b"\0" * 8 + b"vide" + b"\0" * 12
    mvhd = b"\0" * 12 + struct.pack(">II", 1000, 5000)
    return _box(b"ftyp", b"isom\0\0\0\0") + _box(b"moov", _box(b"mvhd", mvhd) + _box(
        b"trak", _box(b"tkhd", tkhd) + _box(b"mdia", _box(b"hdlr", hdlr))))


def _check(spec: ModalitySpec, data: bytes) -> Probe:
    return media_headers.check_clip(spec, data[:media_headers.HEAD_BYTES], len(data), "c.mp4",
                                    spec.name, Source.of_bytes(data))[1]


def test_a_modality_without_a_prefix_names_no_variable() -> None:
    spec = ModalitySpec("clip", VIDEO_FORMATS, max_mb=100)
    with pytest.raises(SuiteError, match="9000x9000") as info:
        _check(spec, _mp4(9000, 9000))
    assert "environment variable" not in str(info.value)
    assert "scale it down" in str(info.value)


def test_the_video_modality_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SuiteError, match="UNISAFE_MAX_VIDEO_PIXELS=<pixels>"):
        _check(VIDEO, _mp4(9000, 9000))
    monkeypatch.setenv("UNISAFE_MAX_VIDEO_PIXELS", str(9000 * 9000))
    assert _check(VIDEO, _mp4(9000, 9000)).width == 9000
