"""Random access to a media file for the header readers of :mod:`.media_probe`.

A reader asks a :class:`Source` for a few bytes at a time, under a budget of reads
(:data:`MAX_READS`) and of boxes or elements (:data:`MAX_ELEMENTS`): a hostile file ends fast
with a :class:`HeaderFault`. A :class:`Probe` holds what a header states (None: not stated).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

MAX_READS = 16_384
"""Reads one probe may make (each a few bytes; OGG's tail one of 64 KB)."""
MAX_ELEMENTS = 4_000
"""Boxes (MP4) or elements (WebM) one probe may visit."""
MAX_READ = 65_536 + 27 + 255
"""The most bytes one read may ask for (OGG's tail: a whole page)."""


class HeaderFault(ValueError):
    """The header is broken, lies, or is built to make a reader work forever."""


@dataclass(frozen=True)
class Probe:
    """What a header states: seconds, and the largest video frame (None: not stated)."""

    duration_s: float | None = None
    width: int | None = None
    height: int | None = None


class Source:
    """Random access to a file's bytes, with a budget of reads."""

    def __init__(self, size: int, reader: Callable[[int, int], bytes]) -> None:
        self.size = size
        self._reader = reader
        self.reads = 0
        self.elements = 0

    @classmethod
    def of_bytes(cls, data: bytes) -> Source:
        return cls(len(data), lambda offset, n: data[offset:offset + n])

    @classmethod
    def of_handle(cls, handle: BinaryIO, size: int) -> Source:
        """A file opened in binary mode, of ``size`` bytes (its stat size)."""

        def read(offset: int, n: int) -> bytes:
            handle.seek(offset)
            return handle.read(n)

        return cls(size, read)

    def read(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (fewer at the end of the file)."""
        if offset < 0 or n < 0 or n > MAX_READ:
            raise HeaderFault(f"asks to read {n} bytes at byte {offset} (a broken header)")
        self.reads += 1
        if self.reads > MAX_READS:
            raise HeaderFault(f"needs more than {MAX_READS} header reads (a broken or "
                              "hostile header)")
        n = max(0, min(n, self.size - offset))
        data = self._reader(offset, n) if n else b""
        if len(data) != n:
            raise HeaderFault(f"ended at byte {offset + len(data)} while {self.size} bytes "
                              "were stated (did the file change while it was read?)")
        return data

    def exact(self, offset: int, n: int, what: str) -> bytes:
        """Exactly ``n`` bytes at ``offset``, or a fault naming ``what`` was cut off."""
        data = self.read(offset, n)
        if len(data) < n:
            raise HeaderFault(f"is truncated: its {what} at byte {offset} needs {n} bytes, "
                              f"the file ends at byte {self.size}")
        return data

    def count(self, what: str) -> None:
        """One more box or element visited; a fault past :data:`MAX_ELEMENTS`."""
        self.elements += 1
        if self.elements > MAX_ELEMENTS:
            raise HeaderFault(f"has more than {MAX_ELEMENTS:,} {what} before its header "
                              "(a broken or hostile file)")


def seconds(value: float, what: str) -> float:
    """``value`` as a duration; a fault when it is negative, NaN or infinite."""
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise HeaderFault(f"states a duration of {value!r} {what} (a broken header)")
    return value
