"""Hand-made PNG files for hostile-input tests: bombs and truncations, built byte by byte."""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def ihdr(width: int, height: int) -> bytes:
    """An RGB, 8-bit, non-interlaced header chunk."""
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A complete, valid, black RGB PNG."""
    rows = b"".join(b"\x00" + b"\x00" * 3 * width for _ in range(height))
    return SIGNATURE + ihdr(width, height) + chunk(b"IDAT", zlib.compress(rows)) + chunk(
        b"IEND", b"")


def bomb_png(side: int = 100_000) -> bytes:
    """A few hundred bytes whose header claims ``side`` x ``side`` pixels (10 G pixels).

    Its compressed data holds one row of zeros: a decoder that trusts the header would
    allocate 30 GB before finding out.
    """
    return SIGNATURE + ihdr(side, side) + chunk(
        b"IDAT", zlib.compress(b"\x00" * (3 * side + 1))) + chunk(b"IEND", b"")


def truncated_in_header() -> bytes:
    """The PNG signature and half of the IHDR chunk: no image can be read from it."""
    return tiny_png()[:20]


def truncated_in_data() -> bytes:
    """A valid header, then the image data cut short (no IEND)."""
    whole = tiny_png(64, 64)
    return whole[: len(whole) - 30]
