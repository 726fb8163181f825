"""Images going to and coming from models: data URLs in, sha256-named files out."""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path

from unisafe_pytest.errors import ModelError
from unisafe_pytest.io.files import write_atomic
from unisafe_pytest.runtime.secrets import RUN_SECRETS
from unisafe_pytest.schema import Media
from unisafe_pytest.suites.media import EXTENSIONS, sniff_mime

__all__ = ["b64decode", "b64encode", "data_url", "decode_data_url", "media_mime", "save_image",
           "sniff_mime"]

def media_mime(media: Media, data: bytes) -> str:
    return media.mime or sniff_mime(data) or "application/octet-stream"


def data_url(media: Media) -> str:
    """``data:<mime>;base64,...`` for an input image (read via ``Media.read_bytes()``)."""
    data = media.read_bytes()
    return f"data:{media_mime(media, data)};base64,{base64.b64encode(data).decode('ascii')}"


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, what: str) -> bytes:
    """Decode provider base64, raising a retryable ``ModelError`` on garbage."""
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ModelError(f"{what} is not valid base64 ({exc})") from None


def decode_data_url(url: str, *, what: str) -> bytes | None:
    """Bytes of a ``data:...;base64,`` URL, or None when ``url`` is not a data URL."""
    if not url.startswith("data:"):
        return None
    header, sep, payload = url.partition(",")
    if not sep or not header.endswith(";base64"):
        raise ModelError(f"{what} is a data URL that is not base64-encoded")
    return b64decode(payload, what=what)


def save_image(data: bytes, output_dir: Path, *, mime: str | None = None) -> Media:
    """Write ``data`` to ``output_dir/<sha256><ext>`` (atomically) and describe it.

    Raises ``ModelError`` when the bytes are not an image: a provider that returns garbage
    has failed, it has not answered.
    """
    detected = sniff_mime(data)
    if detected is None:
        raise ModelError(
            f"the model returned {len(data)} bytes that are not a PNG/JPEG/GIF/WebP/BMP image "
            f"(declared {mime!r})"
        )
    leak = RUN_SECRETS.media_problem(data, "the generated image")
    if leak is not None:  # checked before the file exists: the key reaches no file
        raise leak
    digest = hashlib.sha256(data).hexdigest()
    name = digest + EXTENSIONS.get(detected, ".img")
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / name
    if not path.exists():
        write_atomic(path, data)
    return Media(path=str(path), ref=name, sha256=digest, mime=detected, size_bytes=len(data))
