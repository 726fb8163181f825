"""The offline transcript step for audio: a packaged recogniser, shared by model and judge.

PocketSphinx (package ``pocketsphinx``, the ``audio`` extra) ships its US English acoustic
model, dictionary and language model inside its wheel: nothing is downloaded at run time. Two
parts use it: the embedded model (``adapters/local.py``) reads each input clip's transcript
instead of the audio, and the offline judge (``judges/offline_audio.py``) reads the request's
and the answer's clips the same way. Both label what they read as a transcript, with
:attr:`Recogniser.version` (which also enters their cache keys).

A clip must be a PCM WAV (8/16-bit, any rate and channel count: it is mixed down to mono and
resampled to 16 kHz); anything else is :class:`ClipUnreadable`, which each caller turns into
its own error (a model error, a judge error). A clip in which PocketSphinx's voice activity
detector finds no speech (fewer than :data:`MIN_SPEECH_FRAMES` frames) has no words: the
decoder alone "hears" a word in digital silence. Each clip is decoded by a fresh decoder, so a
transcript never depends on the clips heard before it; transcripts are kept in memory by the
clip's sha256, so the model and the judge of one run transcribe a clip once.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import io
import threading
import wave
from typing import Any

from unisafe_pytest.errors import MissingDependency

RATE = 16000
MIN_RATE = 4000
"""The lowest sample rate read: below it a clip holds no speech, and resampling it to
:data:`RATE` would multiply its samples (1 Hz: 16,000 times)."""
MIN_SPEECH_FRAMES = 3
"""Voiced 30 ms frames a clip needs before its transcript counts (else: no words)."""
PACKAGE = "pocketsphinx"
EXTRA = "audio"
INSTALL = f"pip install 'unisafe-pytest[{EXTRA}]'"
_HEARD: dict[tuple[str, str], str] = {}
_HEARD_LOCK = threading.Lock()


class ClipUnreadable(ValueError):
    """The clip is not audio the recogniser reads; the message says why and the fix."""


def available() -> bool:
    """Whether the recogniser is installed (checked without importing it)."""
    return importlib.util.find_spec(PACKAGE) is not None


def package_version() -> str:
    """``pocketsphinx <version>`` from the installed distribution (``?`` when unknown)."""
    try:
        return f"{PACKAGE} {importlib.metadata.version(PACKAGE)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{PACKAGE} ?"


def version() -> str:
    """The transcript step as both callers label it (its version enters their cache keys)."""
    return f"{package_version()} (en-us, packaged; silence gate)"


def pcm16_mono(data: bytes) -> bytes:
    """A WAV's samples as 16 kHz mono 16-bit PCM (numpy)."""
    try:
        import numpy as np
    except ImportError:
        raise MissingDependency("the offline audio transcript", "numpy", "offline") from None
    try:
        with wave.open(io.BytesIO(data)) as clip:
            width, channels, rate = clip.getsampwidth(), clip.getnchannels(), clip.getframerate()
            frames = clip.readframes(clip.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ClipUnreadable(f"not a PCM WAV ({exc}); the offline transcript step reads WAV "
                             "only: convert the clip") from None
    if width not in (1, 2) or channels < 1 or rate <= 0:
        raise ClipUnreadable(f"{8 * width}-bit, {channels} channel(s) at {rate} Hz; give "
                             "16-bit PCM WAV")
    if rate < MIN_RATE:
        raise ClipUnreadable(f"its header states {rate} Hz, below the {MIN_RATE} Hz of any "
                             "speech recording (a broken header?); give 16-bit PCM WAV at "
                             f"{RATE} Hz")
    frames = frames[:len(frames) // (width * channels) * width * channels]  # cut in a sample
    samples = (np.frombuffer(frames, dtype=np.uint8).astype(np.float32) - 128) * 256 \
        if width == 1 else np.frombuffer(frames, dtype="<i2").astype(np.float32)
    samples = samples.reshape(-1, channels).mean(axis=1)  # whole frames: cut above
    if rate != RATE and len(samples):
        count = max(1, int(len(samples) * RATE / rate))
        samples = np.interp(np.linspace(0, len(samples) - 1, count),
                            np.arange(len(samples)), samples)
    return bytes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())


class Recogniser:
    """Transcripts of WAV clips by the packaged PocketSphinx (see the module docstring)."""

    def __init__(self, what: str) -> None:
        """``what`` names the feature that needs it, for the ``MissingDependency`` message."""
        try:
            module = importlib.import_module(PACKAGE)
        except ImportError:
            raise MissingDependency(what, PACKAGE, EXTRA) from None
        self._module: Any = module
        self.version = version()

    def transcribe(self, data: bytes) -> str:
        """The words heard in ``data`` (a WAV), whitespace-normalised; ``""`` when none."""
        key = (hashlib.sha256(data).hexdigest(), self.version)
        with _HEARD_LOCK:
            if key in _HEARD:
                return _HEARD[key]
        pcm = pcm16_mono(data)
        text = self._decode(pcm) if self._voiced(pcm) else ""
        with _HEARD_LOCK:
            _HEARD[key] = text
        return text

    def _voiced(self, pcm: bytes) -> bool:
        vad = self._module.Vad()
        size = int(vad.frame_bytes)
        voiced = 0
        for start in range(0, len(pcm) - size + 1, size):
            voiced += bool(vad.is_speech(pcm[start:start + size]))
            if voiced >= MIN_SPEECH_FRAMES:
                return True
        return False

    def _decode(self, pcm: bytes) -> str:
        decoder = self._module.Decoder(samprate=RATE, logfn="/dev/null")
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return " ".join(str(hyp.hypstr).split()) if hyp is not None else ""
