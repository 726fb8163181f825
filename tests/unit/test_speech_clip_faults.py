"""The offline transcript step (adapters/speech.py) on damaged or hostile WAV clips.

Its callers (the embedded model, the offline judge) turn ``ClipUnreadable`` into their own
error naming the clip; any other exception became a bare ``ValueError: buffer size must be a
multiple of element size`` (a WAV cut inside a sample) with no clip and no fix. A sample rate
far below speech made the resampling to 16 kHz multiply the samples without bound (1 Hz:
16,000 times). Covers: a clip cut inside a sample is read up to its last whole frame; a rate
below :data:`~unisafe_pytest.adapters.speech.MIN_RATE` is ``ClipUnreadable`` naming it.
"""

from __future__ import annotations

import io
import time
import wave

import pytest

pytest.importorskip("numpy")

from unisafe_pytest.adapters import speech


def _wav(rate: int = 16_000, channels: int = 1, frames: int = 1_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as clip:
        clip.setnchannels(channels)
        clip.setsampwidth(2)
        clip.setframerate(rate)
        clip.writeframes(b"\x01\x02" * channels * frames)
    return buffer.getvalue()


@pytest.mark.parametrize(("channels", "cut"), [(1, 1), (1, 3), (2, 1), (2, 3)])
def test_a_clip_cut_inside_a_sample_is_read_to_its_last_whole_frame(
        channels: int, cut: int) -> None:
    pcm = speech.pcm16_mono(_wav(channels=channels)[:-cut])
    assert len(pcm) == 2 * (1_000 - 1 - (cut > 2 * channels))


@pytest.mark.parametrize("rate", [1, 50, speech.MIN_RATE - 1])
def test_a_rate_far_below_speech_is_unreadable_and_named(rate: int) -> None:
    started = time.perf_counter()
    with pytest.raises(speech.ClipUnreadable, match=f"{rate} Hz"):
        speech.pcm16_mono(_wav(rate=rate, frames=2_000))
    assert time.perf_counter() - started < 1.0


def test_speech_rates_are_read() -> None:
    assert len(speech.pcm16_mono(_wav(rate=speech.MIN_RATE, frames=1_000))) == 2 * 4_000
    assert len(speech.pcm16_mono(_wav(rate=48_000, frames=3_000))) == 2 * 1_000
