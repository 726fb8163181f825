"""Property and fuzz tests of the header readers (issue 16): on any bytes (random, or a valid
MP4/WebM/OGG/MP3 with bytes flipped, sizes rewritten or the end cut off) a reader returns a
:class:`Probe` or raises :class:`HeaderFault`, never another exception, within its budget of
reads; and what a well-formed header states is read back exactly. The readers did not exist
before this change (the import fails on the old code)."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.modalities.clips import MP3, mp4, webm
from unisafe_pytest.io.header_source import MAX_READS, HeaderFault, Probe, Source
from unisafe_pytest.io.media_probe import READERS, probe

FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
OGG = (b"OggS\x00\x02" + bytes(8) + struct.pack("<I", 5) + bytes(8) + b"\x01\x1e"
       + b"\x01vorbis" + struct.pack("<IBI", 0, 1, 8000) + bytes(15)
       + b"OggS\x00\x04" + struct.pack("<qI", 16000, 5) + bytes(8) + b"\x01\x01x")
VALID = {".mp4": mp4(2.0, 320, 240), ".mov": mp4(1.0, moov_last=True),
         ".webm": webm(3.0, 640, 480), ".ogg": OGG, ".mp3": MP3}


def outcome(extension: str, data: bytes) -> Probe | None:
    source = Source.of_bytes(data)
    try:
        result = probe(extension, source)
    except HeaderFault:
        result = None
    assert source.reads <= MAX_READS
    return result


@FUZZ
@given(extension=st.sampled_from(sorted(READERS)), data=st.binary(max_size=4096))
def test_random_bytes_probe_or_fault(extension: str, data: bytes) -> None:
    outcome(extension, data)


@FUZZ
@given(extension=st.sampled_from(sorted(VALID)), flips=st.lists(
    st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=8),
    cut=st.integers(min_value=0))
def test_mutated_valid_files_probe_or_fault(extension: str, flips: list[tuple[int, int]],
                                            cut: int) -> None:
    data = bytearray(VALID[extension])
    for at, value in flips:
        data[at % len(data)] = value
    outcome(extension, bytes(data[:len(data) - cut % len(data)]))


@FUZZ
@given(extension=st.sampled_from([".mp4", ".webm"]), at=st.integers(min_value=0),
       size=st.sampled_from([0, 1, 2, 7, 8, 9, 15, 16, 2**31, 2**32 - 1]))
def test_rewritten_sizes_probe_or_fault(extension: str, at: int, size: int) -> None:
    data = bytearray(VALID[extension])
    at %= len(data) - 4
    data[at:at + 4] = size.to_bytes(4, "big")
    outcome(extension, bytes(data))


@settings(max_examples=60, deadline=2000)
@given(millis=st.integers(1, 10**7), width=st.integers(1, 8192), height=st.integers(1, 8192),
       last=st.booleans())
def test_well_formed_headers_are_read_back(millis: int, width: int, height: int,
                                           last: bool) -> None:
    seconds = millis / 1000
    assert probe(".mp4", Source.of_bytes(mp4(seconds, width, height, moov_last=last))) == Probe(
        seconds, width, height)
    found = probe(".webm", Source.of_bytes(webm(seconds, width, height)))
    assert (found.width, found.height) == (width, height)
    assert found.duration_s is not None and abs(found.duration_s - seconds) < 1e-6
