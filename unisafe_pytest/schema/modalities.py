"""Modalities as data: what a task reads and writes, and the file formats of each kind.

``text``, ``image``, ``audio`` and ``video`` are built in (:data:`BUILTIN_MODALITIES`). A team
adds another in its ``pytest_unisafe_register_tasks`` hook, before a task uses it::

    from unisafe_pytest.schema.modalities import MediaFormat, ModalitySpec

    def pytest_unisafe_register_tasks(registry):
        registry.add_modality(ModalitySpec(
            name="pointcloud", max_mb=50,
            formats=(MediaFormat("model/x-ply", ".ply", ((0, b"ply\\n"),)),),
        ))

A suite file references media of a modality by path; collection checks each file from its
first bytes only (:mod:`unisafe_pytest.suites.media`): the signature must be one of the
modality's formats, the size within ``max_mb`` (an environment variable raises it), and for
formats whose header states it cheaply (WAV, FLAC), the duration within ``max_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass

Modality = str
"""A modality name: ``"text"``, ``"image"``, ``"audio"``, ``"video"`` or one a hook added."""

ANYWHERE = -1
"""A signature offset meaning "anywhere in the first bytes" (WebM's ``webm`` doctype)."""


@dataclass(frozen=True)
class MediaFormat:
    """One file format of a modality, recognised by its first bytes."""

    mime: str
    """MIME type, e.g. ``"audio/wav"``."""
    extension: str
    """File extension with the dot, e.g. ``".wav"`` (stores name files ``<sha256><ext>``)."""
    signature: tuple[tuple[int, bytes], ...]
    """``(offset, bytes)`` pairs that must all match (offset :data:`ANYWHERE`: anywhere in the
    head)."""

    def matches(self, head: bytes) -> bool:
        for offset, magic in self.signature:
            if offset == ANYWHERE:
                if magic not in head:
                    return False
            elif head[offset:offset + len(magic)] != magic:
                return False
        return True


@dataclass(frozen=True)
class ModalitySpec:
    """A modality: its name, and (for media kinds) the formats and limits of its files."""

    name: str
    formats: tuple[MediaFormat, ...] = ()
    """Accepted file formats; empty for ``text`` (no file)."""
    max_mb: float = 20
    """Default size limit of one file, megabytes."""
    max_seconds: float | None = None
    """Default duration limit, seconds, checked where the header states the duration."""
    env: str = ""
    """Environment variable prefix raising the limits: ``<env>_MB`` and ``<env>_S``."""

    def sniff(self, head: bytes) -> MediaFormat | None:
        """The format whose signature ``head`` carries, or None."""
        for fmt in self.formats:
            if fmt.matches(head):
                return fmt
        return None

    def format_names(self) -> str:
        return "/".join(dict.fromkeys(f.extension.lstrip(".").upper() for f in self.formats))


def _mp3(sync: bytes) -> MediaFormat:
    return MediaFormat("audio/mpeg", ".mp3", ((0, sync),))


AUDIO_FORMATS = (
    MediaFormat("audio/wav", ".wav", ((0, b"RIFF"), (8, b"WAVE"))),
    MediaFormat("audio/mpeg", ".mp3", ((0, b"ID3"),)),
    *(_mp3(bytes([0xFF, second])) for second in (0xFB, 0xFA, 0xF3, 0xF2, 0xE3, 0xE2)),
    MediaFormat("audio/flac", ".flac", ((0, b"fLaC"),)),
    MediaFormat("audio/ogg", ".ogg", ((0, b"OggS"),)),
)
VIDEO_FORMATS = (
    MediaFormat("video/mp4", ".mp4", ((4, b"ftyp"),)),
    MediaFormat("video/webm", ".webm", ((0, b"\x1aE\xdf\xa3"), (ANYWHERE, b"webm"))),
)

TEXT = ModalitySpec("text")
IMAGE = ModalitySpec("image", max_mb=20, env="UNISAFE_MAX_IMAGE")
"""Images: their formats and checks live in :mod:`unisafe_pytest.suites.media` (PNG, JPEG,
GIF, WEBP, BMP; ``UNISAFE_MAX_IMAGE_MB``)."""
AUDIO = ModalitySpec("audio", AUDIO_FORMATS, max_mb=25, max_seconds=600,
                     env="UNISAFE_MAX_AUDIO")
VIDEO = ModalitySpec("video", VIDEO_FORMATS, max_mb=100, max_seconds=600,
                     env="UNISAFE_MAX_VIDEO")
BUILTIN_MODALITIES: tuple[ModalitySpec, ...] = (TEXT, IMAGE, AUDIO, VIDEO)
MEDIA_EXTENSIONS = {f.mime: f.extension for m in BUILTIN_MODALITIES for f in m.formats}
"""The extension of every built-in non-image media type (images: ``suites.media.EXTENSIONS``)."""


def kind_of_mime(mime: str | None) -> Modality:
    """The modality a MIME type belongs to (``image/png`` -> ``image``); ``image`` if unknown,
    as media without a type have always been images."""
    if not mime:
        return "image"
    top = mime.split("/", 1)[0].lower()
    return top if top in ("image", "audio", "video") else "image"
