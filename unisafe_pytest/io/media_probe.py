"""Duration and frame size of audio and video files, read from their headers only.

No sample or frame is decoded and no file is read whole: a reader asks a
:class:`~unisafe_pytest.io.header_source.Source` for a few bytes at a time (seeking over media
data by the sizes the container states), under a budget of reads and of structure elements,
so a hostile file ends fast with a :class:`~unisafe_pytest.io.header_source.HeaderFault`
instead of hanging or reading gigabytes.

* MP4/MOV (:mod:`~unisafe_pytest.io.mp4_header`): the box walk; ``mvhd`` duration / timescale,
  each video track's ``tkhd`` width and height; ``moov`` may follow ``mdat``.
* WebM (:mod:`~unisafe_pytest.io.webm_header`): EBML; Segment Info ``Duration`` x
  ``TimecodeScale``, the video tracks' ``PixelWidth`` / ``PixelHeight``.
* OGG (Vorbis, Opus) and MP3 (:mod:`~unisafe_pytest.io.audio_probe`): the stream's rate and the
  last page's granule position; an MP3's Xing/Info/VBRI frame count, else its first frame's
  bit rate over the file size (constant bit rate).
"""

from __future__ import annotations

from collections.abc import Callable

from unisafe_pytest.io import audio_probe, mp4_header, webm_header
from unisafe_pytest.io.header_source import HeaderFault, Probe, Source

__all__ = ["HeaderFault", "Probe", "Source", "probe"]

READERS: dict[str, Callable[[Source], Probe]] = {
    ".mp4": mp4_header.probe, ".mov": mp4_header.probe, ".webm": webm_header.probe,
    ".ogg": audio_probe.ogg, ".mp3": audio_probe.mp3,
}


def probe(extension: str, source: Source) -> Probe:
    """What the header of a file of ``extension`` (``.mp4``, ``.webm``, ``.ogg``, ``.mp3``)
    states; an empty :class:`Probe` for other formats. Raises ``HeaderFault``."""
    reader = READERS.get(extension)
    return reader(source) if reader is not None else Probe()
