"""Audio and video going to and coming from models: request parts in, sha256-named files out.

Input: OpenAI-compatible chat takes audio as ``input_audio`` parts (base64, ``wav`` or
``mp3`` only); Gemini takes any media as ``inlineData``. Output: a generated clip is checked
against the modality's signatures (raw PCM from Gemini, ``audio/L16;rate=...`` or
``audio/pcm``, is wrapped into a WAV first) and written to ``<output_dir>/<sha256><ext>``;
bytes that are no clip of the modality are a model error, never an answer.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import wave
from pathlib import Path
from typing import Any

from unisafe_pytest.errors import ModelError
from unisafe_pytest.io.files import write_atomic
from unisafe_pytest.runtime.secrets import RUN_SECRETS
from unisafe_pytest.schema import Media
from unisafe_pytest.schema.modalities import AUDIO, VIDEO, ModalitySpec

OPENAI_AUDIO_FORMATS = {"audio/wav": "wav", "audio/mpeg": "mp3"}
"""The audio types OpenAI's ``input_audio`` part takes, and their ``format`` names."""
_PCM = re.compile(r"^audio/(?:l16|pcm)\b", re.IGNORECASE)
_RATE = re.compile(r"rate=(\d+)", re.IGNORECASE)
SPECS = {"audio": AUDIO, "video": VIDEO}


def openai_audio_part(media: Media) -> dict[str, Any]:
    """An ``input_audio`` content part; ``ModelError`` for formats the API does not take."""
    data = media.read_bytes()
    fmt = OPENAI_AUDIO_FORMATS.get(media.mime or "")
    if fmt is None:
        raise ModelError(
            f"input audio {media.ref!r} is {media.mime or 'of unknown type'}; OpenAI-compatible "
            "input_audio parts take WAV or MP3 only: convert the clip to WAV or MP3 in the "
            "suite", retryable=False)
    return {"type": "input_audio",
            "input_audio": {"data": base64.b64encode(data).decode("ascii"), "format": fmt}}


def pcm_to_wav(data: bytes, mime: str) -> bytes:
    """Raw 16-bit little-endian mono PCM (Gemini's ``audio/L16;rate=24000``) as a WAV."""
    match = _RATE.search(mime)
    rate = int(match.group(1)) if match else 24000
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(data)
    return buffer.getvalue()


def save_clip(data: bytes, output_dir: Path, kind: str, *, mime: str | None = None,
              transcript: str | None = None) -> Media:
    """Write a generated clip to ``output_dir/<sha256><ext>`` and describe it."""
    spec: ModalitySpec = SPECS[kind]
    if kind == "audio" and mime and _PCM.match(mime):
        data = pcm_to_wav(data, mime)
    fmt = spec.sniff(data[:4096])
    if fmt is None or not data:
        raise ModelError(
            f"the model returned {len(data)} bytes that are not a {spec.format_names()} "
            f"{kind} clip (declared {mime!r})", retryable=False)
    leak = RUN_SECRETS.media_problem(data, f"the generated {kind} clip")
    if leak is not None:  # checked before the file exists: the key reaches no file
        raise leak
    digest = hashlib.sha256(data).hexdigest()
    name = digest + fmt.extension
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / name
    if not path.exists():
        write_atomic(path, data)
    return Media(kind=kind, path=str(path), ref=name, sha256=digest, mime=fmt.mime,
                 size_bytes=len(data), transcript=transcript)
