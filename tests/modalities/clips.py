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
MP4 = struct.pack(">I", 24) + b"ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 32
WEBM = b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x84webm"
