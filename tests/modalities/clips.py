"""Tiny audio and video files for tests, built in memory (no decoder needed)."""

from __future__ import annotations

import io
import struct
import wave


def wav(seconds: float = 0.1, rate: int = 16000) -> bytes:
    """A mono 16-bit PCM WAV of silence."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()


def flac_header(seconds: int, rate: int = 16000) -> bytes:
    """A FLAC signature and STREAMINFO block stating ``seconds`` of audio (no frames)."""
    total = seconds * rate
    info = bytearray(34)
    info[10] = (rate >> 12) & 0xFF
    info[11] = (rate >> 4) & 0xFF
    info[12] = ((rate & 0x0F) << 4) | (0 << 1)  # channels-1 = 0
    info[13] = (15 << 4) | ((total >> 32) & 0x0F)  # bits-1 = 15
    info[14:18] = (total & 0xFFFFFFFF).to_bytes(4, "big")
    return b"fLaC" + bytes([0x80]) + (34).to_bytes(3, "big") + bytes(info)


MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" + b"\x00" * 64
OGG = b"OggS\x00\x02" + b"\x00" * 64


def box(kind: bytes, payload: bytes = b"") -> bytes:
    """An MP4 box: 32-bit size, type, payload."""
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(seconds: float = 1.0, width: int = 64, height: int = 48, *, moov_last: bool = False,
        timescale: int = 1000, media: bytes = b"\x00" * 32) -> bytes:
    """An MP4 whose ``moov`` states ``seconds`` (``mvhd``) and one video track of
    ``width`` x ``height`` (``tkhd`` + ``hdlr vide``); ``media`` is the ``mdat`` payload."""
    mvhd = box(b"mvhd", bytes(12) + struct.pack(">II", timescale, round(seconds * timescale))
               + bytes(80))
    tkhd = box(b"tkhd", bytes(76) + struct.pack(">II", width << 16, height << 16))
    hdlr = box(b"hdlr", bytes(8) + b"vide" + bytes(13))
    moov = box(b"moov", mvhd + box(b"trak", tkhd + box(b"mdia", hdlr)))
    ftyp = box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")
    mdat = box(b"mdat", media)
    return ftyp + (mdat + moov if moov_last else moov + mdat)


def ebml(ident: int, payload: bytes = b"") -> bytes:
    """A WebM (EBML) element with an 8-byte size."""
    return (ident.to_bytes((ident.bit_length() + 7) // 8, "big") + b"\x01"
            + len(payload).to_bytes(7, "big") + payload)


def webm(seconds: float = 1.0, width: int = 64, height: int = 48, *,
         scale: int = 1_000_000) -> bytes:
    """A WebM whose Segment Info states ``seconds`` and one video track of the frame size."""
    header = ebml(0x1A45DFA3, ebml(0x4286, b"\x01") + ebml(0x4282, b"webm"))
    info = ebml(0x1549A966, ebml(0x2AD7B1, scale.to_bytes(4, "big"))
                + ebml(0x4489, struct.pack(">d", seconds * 1e9 / (scale or 1))))
    video = ebml(0xE0, ebml(0xB0, width.to_bytes(2, "big")) + ebml(0xBA, height.to_bytes(2, "big")))
    tracks = ebml(0x1654AE6B, ebml(0xAE, ebml(0x83, b"\x01") + video))
    cluster = ebml(0x1F43B675, ebml(0xE7, b"\x00"))
    return header + ebml(0x18538067, info + tracks + cluster)


MP4 = mp4()
WEBM = webm()
