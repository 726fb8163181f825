"""WebM (Matroska, EBML) headers: duration and frame size from the Segment's Info and Tracks.

An EBML element is an ID (a variable-length integer of 1-4 bytes) and a size (1-8 bytes; all
ones means "unknown", as live recordings write for the Segment and its Clusters); the walk
reads those and seeks over every other element by its size. It descends only along
Segment > Info (``TimecodeScale``, ``Duration``) and Segment > Tracks > TrackEntry > Video
(``PixelWidth``, ``PixelHeight``), and stops at the first element of unknown size it cannot
skip. Duration in seconds is ``Duration x TimecodeScale / 1e9`` (the scale defaults to
1,000,000 ns); a Segment without ``Duration`` (live) states none.

Faults: a malformed variable-length integer, an element past the end of its parent or of the
file, no Segment, no Segment Info, a TimecodeScale of 0, a negative or non-finite Duration,
a Video element without a non-zero PixelWidth and PixelHeight.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from unisafe_pytest.io.header_source import HeaderFault, Probe, Source, seconds

EBML, SEGMENT, INFO, TRACKS, CLUSTER = 0x1A45DFA3, 0x18538067, 0x1549A966, 0x1654AE6B, 0x1F43B675
TIMECODE_SCALE, DURATION = 0x2AD7B1, 0x4489
TRACK_ENTRY, VIDEO, PIXEL_WIDTH, PIXEL_HEIGHT = 0xAE, 0xE0, 0xB0, 0xBA
REMUX = "re-mux it whole, e.g. ffmpeg -i IN -c copy OUT.webm"


def _vint(src: Source, pos: int, end: int, what: str, longest: int) -> tuple[int, int, bool]:
    """(value, length, all ones) of the variable-length integer at ``pos``; an ID keeps its
    marker bit, a size does not."""
    if pos >= end:
        raise HeaderFault(f"is truncated: its {what} at byte {pos:,} is past the end of its "
                          f"parent at byte {end:,} (a broken WebM); {REMUX}")
    first = src.exact(pos, 1, what)[0]
    length = 9 - first.bit_length()
    if first == 0 or length > longest:
        raise HeaderFault(f"has a malformed {what} at byte {pos:,} (first byte 0x{first:02x}; "
                          f"at most {longest} bytes exist; a broken WebM); {REMUX}")
    if pos + length > end:
        raise HeaderFault(f"is truncated: its {what} at byte {pos:,} runs past byte {end:,} "
                          f"(a broken WebM); {REMUX}")
    raw = int.from_bytes(src.exact(pos, length, what), "big")
    if what == "element ID":
        return raw, length, False
    value = raw & ((1 << (7 * length)) - 1)
    return value, length, value == (1 << (7 * length)) - 1


def elements(src: Source, start: int, end: int) -> Iterator[tuple[int, int, int, bool]]:
    """``(ID, payload start, payload end, size unknown)`` of each element in
    ``[start, end)``; an element of unknown size is the last one (it runs to ``end``)."""
    outer = "the file" if start == 0 else "its parent element"
    pos = start
    while pos < end:
        src.count("elements")
        ident, id_len, _ = _vint(src, pos, end, "element ID", 4)
        size, size_len, unknown = _vint(src, pos + id_len, end, "element size", 8)
        payload = pos + id_len + size_len
        if unknown:
            yield ident, payload, end, True
            return
        if size > end - payload:
            raise HeaderFault(f"has element 0x{ident:X} at byte {pos:,} stating {size:,} bytes, "
                              f"past the end of {outer} at byte {end:,} (a truncated or broken "
                              f"WebM); {REMUX}")
        yield ident, payload, payload + size, False
        pos = payload + size


def _uint(src: Source, start: int, end: int, name: str) -> int:
    if end - start > 8:
        raise HeaderFault(f"has a {name} of {end - start} bytes (at most 8; a broken WebM)")
    return int.from_bytes(src.exact(start, end - start, name), "big")


def _info(src: Source, start: int, end: int) -> float | None:
    scale, duration = 1_000_000, None
    for ident, s, e, unknown in elements(src, start, end):
        if unknown:
            raise HeaderFault("has an element of unknown size in its Segment Info (a broken "
                              f"WebM); {REMUX}")
        if ident == TIMECODE_SCALE:
            scale = _uint(src, s, e, "TimecodeScale")
            if scale == 0:
                raise HeaderFault(f"states a TimecodeScale of 0 (a broken WebM); {REMUX}")
        elif ident == DURATION:
            data = src.exact(s, e - s, "Duration")
            if len(data) not in (0, 4, 8):
                raise HeaderFault(f"has a Duration of {len(data)} bytes (a float is 4 or 8; a "
                                  f"broken WebM); {REMUX}")
            duration = struct.unpack(">f" if len(data) == 4 else ">d", data)[0] if data else 0.0
    if duration is None:
        return None
    return seconds(duration * scale / 1e9, "seconds in its Segment Info")


def _frame(src: Source, start: int, end: int) -> tuple[int, int] | None:
    """The frame size of one TrackEntry's Video element, or None for other tracks."""
    for ident, s, e, unknown in elements(src, start, end):
        if ident != VIDEO or unknown:
            continue
        size = {PIXEL_WIDTH: 0, PIXEL_HEIGHT: 0}
        for inner, s2, e2, _ in elements(src, s, e):
            if inner in size:
                size[inner] = _uint(src, s2, e2, "pixel size")
        width, height = size[PIXEL_WIDTH], size[PIXEL_HEIGHT]
        if width == 0 or height == 0:
            raise HeaderFault(f"has a video track stating an empty {width}x{height} frame "
                              f"(PixelWidth/PixelHeight; a broken WebM); {REMUX}")
        return width, height
    return None


def probe(src: Source) -> Probe:
    """Duration (Segment Info) and the largest video frame (Tracks)."""
    segment = None
    for ident, s, e, _ in elements(src, 0, src.size):
        if ident == SEGMENT:
            segment = (s, e)
            break
    if segment is None:
        raise HeaderFault(f"has no Segment element (a WebM holds one after its EBML "
                          f"header; a truncated file?); {REMUX}")
    duration: float | None = None
    has_info, has_tracks = False, False
    frames: list[tuple[int, int]] = []
    for ident, s, e, unknown in elements(src, *segment):
        if unknown:  # a live Cluster: nothing after it can be found without reading it
            break
        if ident == INFO:
            duration, has_info = _info(src, s, e), True
        elif ident == TRACKS:
            has_tracks = True
            for entry, s2, e2, _ in elements(src, s, e):
                frame = _frame(src, s2, e2) if entry == TRACK_ENTRY else None
                if frame is not None:
                    frames.append(frame)
        if has_info and has_tracks:
            break
    if not has_info:
        raise HeaderFault(f"has no Segment Info before its media (the header stating the "
                          f"timescale; a broken WebM); {REMUX}")
    if not frames:
        return Probe(duration_s=duration)
    width, height = max(frames, key=lambda f: f[0] * f[1])
    return Probe(duration_s=duration, width=width, height=height)
