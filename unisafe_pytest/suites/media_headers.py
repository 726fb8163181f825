"""Audio and video references, checked from their first bytes (no sample is decoded).

A clip's format comes from its signature (the modality's :class:`~unisafe_pytest.schema.modalities.
MediaFormat` list: WAV, MP3, FLAC, OGG for audio; MP4, WebM for video). Where the header states
the duration cheaply it is read and held to the modality's limit:

* WAV: the ``fmt `` chunk's byte rate and the ``data`` chunk's size (a size past the end of
  the file counts only the bytes there are);
* FLAC: the STREAMINFO block's sample rate and total samples.

* MP4, WebM, OGG and MP3: :mod:`unisafe_pytest.io.media_probe` walks their headers (seeking,
  never reading the file whole); for MP4 and WebM also the largest video frame, held to the
  frame limit. A header that is broken or hostile is a ``SuiteError`` naming the fault.

Limits (environment variables, decimals allowed)::

    UNISAFE_MAX_AUDIO_MB  one audio clip    default 25     UNISAFE_MAX_AUDIO_S  default 600
    UNISAFE_MAX_VIDEO_MB  one video clip    default 100    UNISAFE_MAX_VIDEO_S  default 600
    UNISAFE_MAX_VIDEO_PIXELS  pixels of one video frame (width x height)  default 35,389,440
                              (8192x4320, 8K)

A modality a hook registers uses its own ``env`` prefix the same way.
"""

from __future__ import annotations

import os

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.media_probe import HeaderFault, Probe, Source, probe
from unisafe_pytest.schema.modalities import MediaFormat, ModalitySpec

HEAD_BYTES = 4096
"""How much of an audio or video file is read at collection."""
MB = 1024 * 1024
MAX_PIXELS = 8192 * 4320
"""Default limit of one video frame, width x height (8K); ``<env>_PIXELS`` raises it."""


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise SuiteError(f"{name}={raw!r} is not a positive number; set it to e.g. "
                         f"{default * 4:g} or unset it (default {default:g})")
    return value


def max_bytes(spec: ModalitySpec) -> int:
    """Size limit of one file of ``spec`` (``<env>_MB`` raises it)."""
    mb = _env_number(f"{spec.env}_MB", spec.max_mb) if spec.env else spec.max_mb
    return int(mb * MB)


def max_seconds(spec: ModalitySpec) -> float | None:
    """Duration limit of one clip of ``spec`` (``<env>_S`` raises it), or None."""
    if spec.max_seconds is None:
        return None
    return _env_number(f"{spec.env}_S", spec.max_seconds) if spec.env else spec.max_seconds


def max_pixels(spec: ModalitySpec) -> int:
    """Frame limit (width x height) of one clip of ``spec`` (``<env>_PIXELS`` raises it)."""
    return int(_env_number(f"{spec.env}_PIXELS", MAX_PIXELS) if spec.env else MAX_PIXELS)


def raise_hint(spec: ModalitySpec, unit: str = "MB") -> str:
    if not spec.env:
        return "shorten or shrink it"
    what = {"MB": "megabytes", "S": "seconds"}.get(unit, unit.lower())
    return f"shorten it or raise the limit with the environment variable {spec.env}_{unit}=<{what}>"


def wav_duration(head: bytes, size: int) -> float | str | None:
    """A WAV's duration in seconds, a problem (str), or None when the head does not say."""
    pos = 12
    byte_rate = None
    while pos + 8 <= len(head):
        chunk, length = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
        if chunk == b"fmt ":
            if pos + 20 > len(head):
                return None
            byte_rate = int.from_bytes(head[pos + 16:pos + 20], "little")
            if byte_rate == 0:
                return "declares a byte rate of 0 in its fmt chunk (a broken WAV header)"
        elif chunk == b"data":
            if byte_rate is None:
                return "has its data chunk before the fmt chunk (a broken WAV header)"
            available = max(0, size - (pos + 8))
            return min(length, available) / byte_rate
        pos += 8 + length + (length & 1)
    return None


def flac_duration(head: bytes) -> float | str | None:
    """A FLAC's duration from STREAMINFO, a problem (str), or None when it does not say."""
    if len(head) < 8 + 34 or head[4] & 0x7F != 0:
        return "is truncated or has no STREAMINFO block first (a broken FLAC header)"
    info = head[8:8 + 34]
    rate = (info[10] << 12) | (info[11] << 4) | (info[12] >> 4)
    total = ((info[13] & 0x0F) << 32) | int.from_bytes(info[14:18], "big")
    if rate == 0:
        return "declares a sample rate of 0 (a broken FLAC header)"
    return total / rate if total else None


def header_duration(fmt: MediaFormat, head: bytes, size: int) -> float | str | None:
    """The duration the header of ``fmt`` states, a problem (str), or None."""
    if fmt.extension == ".wav":
        return wav_duration(head, size)
    if fmt.extension == ".flac":
        return flac_duration(head)
    return None


def _probe(fmt: MediaFormat, source: Source | None, ref: str, where: str) -> Probe:
    if source is None:
        return Probe()
    try:
        return probe(fmt.extension, source)
    except HeaderFault as exc:
        raise SuiteError(f"{where} {ref!r} {exc}") from None
    except OSError as exc:
        raise SuiteError(f"{where} {ref!r} cannot be read ({exc.strerror or exc}); check its "
                         "permissions") from None


def check_clip(spec: ModalitySpec, head: bytes, size: int, ref: str, where: str,
               source: Source | None = None) -> tuple[MediaFormat, Probe]:
    """The format of a clip of ``spec`` and what its header states (duration in seconds,
    rounded to ms; a video's largest frame); ``SuiteError`` naming the fix. ``source`` (random
    access to the whole file) lets MP4, WebM, OGG and MP3 headers be walked; without it only
    WAV and FLAC state a duration, and no frame size is known."""
    limit = max_bytes(spec)
    if size > limit:
        raise SuiteError(f"{where} {ref!r} is {size / MB:.1f} MB, over the {limit / MB:.1f} MB "
                         f"{spec.name} limit; {raise_hint(spec)}")
    fmt = spec.sniff(head)
    if fmt is None:
        raise SuiteError(
            f"{where} {ref!r} is not a {spec.format_names()} {spec.name} file (first bytes "
            f"{head[:8]!r}); convert it to one of those formats")
    duration = header_duration(fmt, head, size)
    if isinstance(duration, str):
        raise SuiteError(f"{where} {ref!r} {duration}; replace it with a whole, sane file")
    probed = _probe(fmt, source, ref, where)
    if duration is None:
        duration = probed.duration_s
    pixels = max_pixels(spec)
    if probed.width is not None and probed.height is not None and (
            probed.width * probed.height > pixels):
        raise SuiteError(f"{where} {ref!r} has {probed.width}x{probed.height} frames, over the "
                         f"{pixels:,}-pixel {spec.name} frame limit; scale it down" + (
                             " or raise the limit with the environment variable "
                             f"{spec.env}_PIXELS=<pixels>" if spec.env else ""))
    seconds = max_seconds(spec)
    if duration is not None and seconds is not None and duration > seconds:
        raise SuiteError(f"{where} {ref!r} lasts {duration:.1f} s, over the {seconds:g} s "
                         f"{spec.name} limit; {raise_hint(spec, 'S')}")
    return fmt, Probe(duration_s=round(duration, 3) if duration is not None else None,
                      width=probed.width, height=probed.height)
