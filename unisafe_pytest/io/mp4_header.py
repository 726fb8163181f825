"""MP4/MOV (ISO base media) headers: duration and frame size from the ``moov`` box.

The walk reads box headers only (size, type; a size of 1 means a 64-bit size follows, 0 means
"to the end of the enclosing box or file") and seeks over every other box by its size, so a
``moov`` after the ``mdat`` costs a few reads. It descends only into ``moov``, ``trak`` and
``mdia`` (depth 3), and reads ``mvhd`` (timescale, duration), ``tkhd`` (width, height as
16.16 fixed point) and ``hdlr`` (``vide`` marks a video track).

Faults: a box smaller than its header, a box past the end of its parent or of the file,
no ``moov`` or no ``mvhd``, a timescale of 0, a video track stating an empty frame. A
duration of 0 or all ones (fragmented or live files) is not stated: None.
"""

from __future__ import annotations

from collections.abc import Iterator

from unisafe_pytest.io.header_source import HeaderFault, Probe, Source

REMUX = "re-mux it whole, e.g. ffmpeg -i IN -c copy -movflags +faststart OUT.mp4"


def _name(kind: bytes) -> str:
    text = kind.decode("latin-1")
    return repr(text) if text.isprintable() and text.isascii() else f"0x{kind.hex()}"


def boxes(src: Source, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """``(type, payload start, box end)`` of each box in ``[start, end)``."""
    outer = "the file" if start == 0 else "its parent box"
    pos = start
    while pos < end:
        src.count("boxes")
        if end - pos < 8:
            raise HeaderFault(f"has {end - pos} stray byte(s) at byte {pos:,}, too few for a "
                              f"box header (a broken MP4); {REMUX}")
        head = src.exact(pos, 8, "box header")
        size, kind, header = int.from_bytes(head[:4], "big"), head[4:8], 8
        if size == 1:
            size = int.from_bytes(src.exact(pos + 8, 8, "64-bit box size"), "big")
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise HeaderFault(f"has box {_name(kind)} at byte {pos:,} stating {size} bytes, "
                              f"less than its {header}-byte header (a broken MP4); {REMUX}")
        if size > end - pos:
            raise HeaderFault(f"has box {_name(kind)} at byte {pos:,} stating {size:,} bytes, "
                              f"past the end of {outer} at byte {end:,} (a truncated or "
                              f"broken MP4); {REMUX}")
        yield kind, pos + header, pos + size
        pos += size


def _full_box(src: Source, start: int, end: int, name: str, sizes: tuple[int, int]) -> bytes:
    """A full box's payload: version 0 or 1, at least ``sizes[version]`` bytes long."""
    version = src.exact(start, 1, f"{name} box")[0]
    if version > 1:
        raise HeaderFault(f"has a {name} box of version {version} (0 or 1 exist; a broken MP4)")
    need = sizes[version]
    if end - start < need:
        raise HeaderFault(f"has a {name} box of {end - start} bytes, shorter than the {need} "
                          f"its version {version} needs (a broken MP4); {REMUX}")
    return src.exact(start, need, f"{name} box")


def _mvhd(src: Source, start: int, end: int) -> float | None:
    data = _full_box(src, start, end, "mvhd", (20, 32))
    if data[0] == 0:
        scale, duration, ones = (int.from_bytes(data[12:16], "big"),
                                 int.from_bytes(data[16:20], "big"), 0xFFFFFFFF)
    else:
        scale, duration, ones = (int.from_bytes(data[20:24], "big"),
                                 int.from_bytes(data[24:32], "big"), 0xFFFFFFFFFFFFFFFF)
    if scale == 0:
        raise HeaderFault("states a timescale of 0 in its mvhd box (a broken MP4); " + REMUX)
    if duration in (0, ones):  # fragmented or live: the header does not say
        return None
    return duration / scale


def _trak(src: Source, start: int, end: int) -> tuple[bytes, int, int]:
    """(handler type, width, height) of one track."""
    handler, width, height = b"", 0, 0
    for kind, s, e in boxes(src, start, end):
        if kind == b"tkhd":
            data = _full_box(src, s, e, "tkhd", (84, 96))
            at = 76 if data[0] == 0 else 88
            width = int.from_bytes(data[at:at + 4], "big") >> 16
            height = int.from_bytes(data[at + 4:at + 8], "big") >> 16
        elif kind == b"mdia":
            for inner, s2, e2 in boxes(src, s, e):
                if inner == b"hdlr":
                    handler = _full_box(src, s2, e2, "hdlr", (12, 12))[8:12]
    return handler, width, height


def probe(src: Source) -> Probe:
    """Duration (``mvhd``) and the largest video frame (``tkhd`` of ``vide`` tracks)."""
    moov = next(((s, e) for kind, s, e in boxes(src, 0, src.size) if kind == b"moov"), None)
    if moov is None:
        raise HeaderFault("has no moov box (the movie header every MP4 carries; a truncated "
                          f"or unfinished recording?); {REMUX}")
    duration: float | None = None
    has_mvhd = False
    frames: list[tuple[int, int]] = []
    for kind, s, e in boxes(src, *moov):
        if kind == b"mvhd":
            duration, has_mvhd = _mvhd(src, s, e), True
        elif kind == b"trak":
            handler, width, height = _trak(src, s, e)
            if handler == b"vide":
                if width == 0 or height == 0:
                    raise HeaderFault(f"has a video track stating an empty {width}x{height} "
                                      f"frame in its tkhd box (a broken MP4); {REMUX}")
                frames.append((width, height))
    if not has_mvhd:
        raise HeaderFault(f"has no mvhd box (the movie header) in its moov box; {REMUX}")
    if not frames:
        return Probe(duration_s=duration)
    width, height = max(frames, key=lambda f: f[0] * f[1])
    return Probe(duration_s=duration, width=width, height=height)
