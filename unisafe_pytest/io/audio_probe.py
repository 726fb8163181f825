"""OGG and MP3 durations, where the header makes them cheap (two reads at most).

* OGG: the first page's first packet names the codec and its rate (Vorbis: the
  identification header's sample rate; Opus: 48 kHz granules, less its pre-skip); the last
  page of the same stream (found in the file's last 64 KB) gives the granule position, the
  samples so far. Another codec, or no last page with a position, states nothing.
* MP3: after the ID3v2 tag (its size read, not the tag), the first frame header gives the
  version, layer, rate and bit rate; a Xing/Info or VBRI header in that frame gives the frame
  count (exact), else the file is taken as constant bit rate: audio bytes x 8 / bit rate.
  A free-format bit rate states nothing.

Faults: an OGG page or MP3 frame header that cannot be one (a sample rate of 0, a negative
granule position, an ID3 size with its high bits set, no frame within 64 KB of the tag).
"""

from __future__ import annotations

from unisafe_pytest.io.header_source import HeaderFault, Probe, Source, seconds

PAGE = 27
"""An OGG page header without its segment table."""
TAIL = 65_536 + PAGE + 255
"""The most bytes an OGG page takes: the last page starts within this many of the end."""
SCAN = 65_536
"""How far after the ID3 tag an MP3's first frame header is looked for."""
CONVERT = "convert it again, e.g. ffmpeg -i IN OUT.{ext}"


def _page(data: bytes, at: int) -> tuple[int, int] | None:
    """(granule position, serial) of the OGG page header at ``at``, or None if none is."""
    if data[at:at + 4] != b"OggS" or len(data) < at + PAGE or data[at + 4] != 0:
        return None
    return (int.from_bytes(data[at + 6:at + 14], "little", signed=True),
            int.from_bytes(data[at + 14:at + 18], "little"))


def ogg(src: Source) -> Probe:
    head = src.read(0, PAGE + 255 + 64)
    first = _page(head, 0)
    if first is None:
        raise HeaderFault("has no OGG page header at its start (a broken OGG); "
                          + CONVERT.format(ext="ogg"))
    serial = first[1]
    segments = head[PAGE - 1]
    packet = head[PAGE + segments:PAGE + segments + 64] if len(head) > PAGE else b""
    if packet.startswith(b"\x01vorbis") and len(packet) >= 16:
        rate, skip = int.from_bytes(packet[12:16], "little"), 0
    elif packet.startswith(b"OpusHead") and len(packet) >= 12:
        rate, skip = 48_000, int.from_bytes(packet[10:12], "little")
    else:
        return Probe()  # another codec: its rate is not read here
    if rate == 0:
        raise HeaderFault("states a sample rate of 0 in its Vorbis header (a broken OGG); "
                          + CONVERT.format(ext="ogg"))
    start = max(0, src.size - TAIL)
    tail = src.read(start, src.size - start)
    at = len(tail)
    while (at := tail.rfind(b"OggS", 0, at)) >= 0:
        page = _page(tail, at)
        if page is None or page[1] != serial or page[0] == -1:
            continue  # not a page of this stream, or no packet ends on it
        if page[0] < 0:
            raise HeaderFault(f"states a negative granule position ({page[0]}) on its last "
                              "page (a broken OGG); " + CONVERT.format(ext="ogg"))
        return Probe(duration_s=seconds(max(0, page[0] - skip) / rate, "seconds"))
    return Probe()


BITRATES = {  # kbit/s by (MPEG-1?, layer), index 1..14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
"""Sample rates by the version bits (3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5)."""


def _frame(b: bytes) -> tuple[int, int, int, int, bool] | None:
    """(version bits, layer, bit rate in kbit/s (0: free), sample rate, mono) of a frame
    header, or None when the four bytes cannot be one."""
    if len(b) < 4 or b[0] != 0xFF or b[1] & 0xE0 != 0xE0:
        return None
    version, layer_bits = (b[1] >> 3) & 3, (b[1] >> 1) & 3
    index, rate_index = b[2] >> 4, (b[2] >> 2) & 3
    if version == 1 or layer_bits == 0 or index == 15 or rate_index == 3:
        return None
    layer = 4 - layer_bits
    table = BITRATES[(version == 3, layer if version == 3 else min(layer, 2))]
    kbps = table[index - 1] if index else 0
    return version, layer, kbps, RATES[version][rate_index], b[3] >> 6 == 3


def _id3_end(src: Source) -> int:
    head = src.read(0, 10)
    if not head.startswith(b"ID3"):
        return 0
    if len(head) < 10 or any(byte & 0x80 for byte in head[6:10]):
        raise HeaderFault("has a broken ID3 tag header (its size is not a synchsafe "
                          "integer); " + CONVERT.format(ext="mp3"))
    size = 0
    for byte in head[6:10]:
        size = (size << 7) | byte
    return 10 + size + (10 if head[5] & 0x10 else 0)


def mp3(src: Source) -> Probe:
    start = _id3_end(src)
    chunk = src.read(start, SCAN)
    at, found = 0, None
    while found is None and (at := chunk.find(b"\xff", at)) >= 0:
        found = _frame(chunk[at:at + 4])
        at += found is None
    if found is None:
        raise HeaderFault(f"has no MPEG audio frame header within {SCAN // 1024} KB after its "
                          f"ID3 tag (which ends at byte {start:,}); " + CONVERT.format(ext="mp3"))
    version, layer, kbps, rate, mono = found
    samples = 384 if layer == 1 else 1152 if layer == 2 or version == 3 else 576
    side = (17 if mono else 32) if version == 3 else (9 if mono else 17)
    xing = chunk[at + 4 + side:at + 4 + side + 12]
    if xing[:4] in (b"Xing", b"Info") and len(xing) == 12 and xing[7] & 1:
        return Probe(duration_s=int.from_bytes(xing[8:12], "big") * samples / rate or None)
    vbri = chunk[at + 36:at + 54]
    if vbri[:4] == b"VBRI" and len(vbri) == 18:
        return Probe(duration_s=int.from_bytes(vbri[14:18], "big") * samples / rate or None)
    if kbps == 0:
        return Probe()  # free format: no bit rate to divide by
    return Probe(duration_s=(src.size - start - at) * 8 / (kbps * 1000))
