"""What the offline judge reads from audio: a transcript from a packaged recogniser.

PocketSphinx (package ``pocketsphinx``, the ``audio`` extra) ships its US English acoustic
model, dictionary and language model inside its wheel: nothing is downloaded at run time. A
clip must be a PCM WAV (8/16-bit, any rate and channel count: it is mixed down to mono and
resampled to 16 kHz); other formats are a judge error naming the fix. The transcript is
labelled as such in the row (``transcript`` in the raw response, ``transcript:`` in the
reasoning), the way OCR text of images is. Without the package the judge cannot see audio and
says so (its ``modalities`` leave audio out, so an audio output is a judge error).
"""

from __future__ import annotations

import importlib.util
import io
import wave
from typing import Any

from unisafe_pytest.errors import JudgeError, MissingDependency
from unisafe_pytest.schema import Media

RATE = 16000


def available() -> bool:
    """Whether the recogniser is installed (checked without importing it)."""
    return importlib.util.find_spec("pocketsphinx") is not None


def pcm16_mono(data: bytes, where: str) -> bytes:
    """A WAV's samples as 16 kHz mono 16-bit PCM (numpy, from the offline extra)."""
    import numpy as np

    try:
        with wave.open(io.BytesIO(data)) as clip:
            width, channels, rate = clip.getsampwidth(), clip.getnchannels(), clip.getframerate()
            frames = clip.readframes(clip.getnframes())
    except (wave.Error, EOFError) as exc:
        raise JudgeError(f"offline judge cannot read {where} as a PCM WAV ({exc}); the "
                         "offline transcript step reads WAV only: convert the clip") from None
    if width not in (1, 2) or channels < 1 or rate <= 0:
        raise JudgeError(f"offline judge cannot read {where}: {8 * width}-bit, {channels} "
                         f"channel(s) at {rate} Hz; give 16-bit PCM WAV")
    samples = (np.frombuffer(frames, dtype=np.uint8).astype(np.float32) - 128) * 256 \
        if width == 1 else np.frombuffer(frames, dtype="<i2").astype(np.float32)
    samples = samples[: len(samples) // channels * channels].reshape(-1, channels).mean(axis=1)
    if rate != RATE and len(samples):
        count = max(1, int(len(samples) * RATE / rate))
        samples = np.interp(np.linspace(0, len(samples) - 1, count),
                            np.arange(len(samples)), samples)
    return bytes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())


class AudioReader:
    """Transcripts of audio clips (the recogniser is loaded on first use)."""

    def __init__(self) -> None:
        import importlib

        try:
            module = importlib.import_module("pocketsphinx")
        except ImportError:
            raise MissingDependency("the offline judge's audio transcript", "pocketsphinx",
                                    "audio") from None
        self._module: Any = module
        self.version = f"pocketsphinx {getattr(module, '__version__', '?')} (en-us, packaged)"

    def transcribe(self, media: Media, where: str) -> str:
        try:
            data = media.read_bytes()
        except OSError as exc:
            raise JudgeError(f"offline judge cannot read {where} ({exc})") from None
        pcm = pcm16_mono(data, where)
        decoder = self._module.Decoder(samprate=RATE, logfn="/dev/null")
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return " ".join(str(hyp.hypstr).split()) if hyp is not None else ""
