"""What the offline judge reads from audio: a transcript from the packaged recogniser.

The recogniser is :mod:`unisafe_pytest.adapters.speech` (PocketSphinx, the ``audio`` extra,
its English model inside its wheel), the one the embedded model uses for audio input. A clip
must be a PCM WAV; other formats are a judge error naming the fix. The judge reads two kinds
of clip, each labelled as a transcript in its row, the way OCR text of images is:

- the answer's clips (``audio 1 transcript`` in the raw response, ``audio 1: transcript`` in
  the reasoning), scored as text;
- the request's clips, the instance's input audio (:func:`hear_request`): the row's raw
  response carries ``request_transcript`` (``[{"clip", "sha256", "text"}]``), the request as
  the judge heard it, recorded beside the verdict; it enters the score only when the answer
  just restates its request (``offline_request.py``). A request clip it cannot read, or in
  which it hears no words, is a judge error: no verdict is given by a judge that did not hear
  the request.

Without the package the judge cannot hear audio and says so (its ``modalities`` leave audio
out, so an instance with audio in its request or its answer is a judge error).
"""

from __future__ import annotations

from typing import Any

from unisafe_pytest.adapters import speech
from unisafe_pytest.errors import JudgeError
from unisafe_pytest.schema import Instance, Media

REQUEST = "request_transcript"
SEEN_INPUTS = ("image", "audio")
"""Input media kinds the offline judge takes in (images are read by the protocols' rules)."""


def available() -> bool:
    """Whether the recogniser is installed (checked without importing it)."""
    return speech.available()


def label() -> str:
    """The transcript step as the judge's spec names it (its version enters the cache key)."""
    if not available():
        return "unavailable (install the audio extra: pocketsphinx)"
    return f"transcript ({speech.version()})"


class AudioReader:
    """Transcripts of audio clips (the recogniser is loaded on first use)."""

    def __init__(self) -> None:
        self._recogniser = speech.Recogniser("the offline judge's audio transcript")
        self.version = self._recogniser.version

    def transcribe(self, media: Media, where: str) -> str:
        try:
            data = media.read_bytes()
        except OSError as exc:
            raise JudgeError(f"offline judge cannot read {where} ({exc})") from None
        try:
            return self._recogniser.transcribe(data)
        except speech.ClipUnreadable as exc:
            raise JudgeError(f"offline judge cannot read {where}: {exc}") from None


def hear_request(reader: Any, instance: Instance, raw: dict[str, Any]) -> None:
    """Transcribe the instance's input audio into ``raw[REQUEST]``.

    ``reader`` is a callable giving the :class:`AudioReader` (loaded only when there is audio).
    Input media of a kind the judge does not take in (video) is a ``JudgeError``.
    """
    unseen = sorted({m.kind for m in instance.media} - set(SEEN_INPUTS))
    if unseen:
        raise JudgeError(f"offline judge cannot see the request's {'/'.join(unseen)} input; "
                         f"add a judge that sees {'/'.join(unseen)}")
    clips = instance.media_of("audio")
    if not clips:
        return
    heard: list[dict[str, str]] = []
    for index, media in enumerate(clips, start=1):
        where = f"request audio {index}"
        text = reader().transcribe(media, where)
        heard.append({"clip": where, "sha256": media.digest(), "text": text[:500]})
        if not text.strip():
            raise JudgeError(f"offline judge heard no words in {where}; a verdict from a "
                             "judge that did not hear the request is not given")
    raw[REQUEST] = heard
