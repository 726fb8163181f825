"""Benchmark instances and their media (referenced lazily: paths and hashes only).

Media of every kind (image, audio, video, or a modality a hook added) travel in one ordered
list per direction, ``Instance.images`` and ``ModelOutput.images`` (the name predates the
other kinds; ``Instance.media`` and ``ModelOutput.media`` are the same lists): each
:class:`Media` names its ``kind``, and everything that hashes, caches or records those lists
carries every kind the same way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class SourceRef(BaseModel):
    """Where an instance was read from, for error messages."""

    model_config = ConfigDict(frozen=True)

    file: str
    """Path of the suite file (as given by the user, or relative to the suite root)."""
    line: int | None = None
    """1-based line number in ``file`` (JSONL), or row number for datasets."""

    def __str__(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"


class Media(BaseModel):
    """One image, audio clip or video (``kind``), referenced by path or held as bytes, hashed
    lazily.

    Collection never decodes pixels or samples: loaders check existence, size, the file
    signature and (where the header states them cheaply) dimensions and duration only.
    ``sha256`` is filled on first use (``digest()``) or by loaders that already hold the bytes.
    """

    kind: str = "image"
    """The modality: ``image`` (default), ``audio``, ``video`` or one a hook registered."""
    path: str | None = None
    """Absolute path of the file on this machine (not written to records)."""
    ref: str | None = None
    """Portable reference for records: the path relative to the suite root, or a label."""
    sha256: str | None = None
    """Hex sha256 of the file bytes, filled lazily."""
    mime: str | None = None
    """MIME type guessed from the file signature (``image/png``...)."""
    size_bytes: int | None = None
    """File size in bytes, when known."""
    duration_s: float | None = None
    """Duration of an audio or video clip in seconds, when its header states it."""
    width: int | None = None
    """Width in pixels of an image, or of a video's largest frame, when its header states it
    (read at collection: a PNG's IHDR, an MP4 track header, a WebM track)."""
    height: int | None = None
    """Height in pixels, as :attr:`width`."""
    transcript: str | None = None
    """What the model said in a generated audio clip, when the provider sent a transcript
    (recorded; a judge that reads it labels it as the provider's transcript)."""
    _data: bytes | None = PrivateAttr(default=None)

    @classmethod
    def from_bytes(cls, data: bytes, *, ref: str | None = None, mime: str | None = None,
                   kind: str = "image") -> Media:
        media = cls(
            kind=kind,
            ref=ref,
            sha256=hashlib.sha256(data).hexdigest(),
            mime=mime,
            size_bytes=len(data),
        )
        media._data = data
        return media

    def read_bytes(self) -> bytes:
        if self._data is not None:
            return self._data
        if self.path is None:
            raise FileNotFoundError(f"{self.kind} {self.ref!r} has neither a path nor bytes")
        data = Path(self.path).read_bytes()
        if self.sha256 is None:
            self.sha256 = hashlib.sha256(data).hexdigest()
        return data

    def digest(self) -> str:
        if self.sha256 is None:
            if self._data is not None:
                self.sha256 = hashlib.sha256(self._data).hexdigest()
            else:
                self.read_bytes()
        assert self.sha256 is not None
        return self.sha256

    def describe(self) -> dict[str, Any]:
        """The portable description written to records (never the absolute path); media
        other than images also carry their ``kind`` (and duration, transcript when known);
        images and video their ``width`` and ``height`` when the header stated them."""
        described: dict[str, Any] = {"ref": self.ref, "sha256": self.sha256, "mime": self.mime}
        if self.width is not None and self.height is not None:
            described["width"], described["height"] = self.width, self.height
        if self.kind != "image":
            described["kind"] = self.kind
            if self.duration_s is not None:
                described["duration_s"] = self.duration_s
            if self.transcript is not None:
                described["transcript"] = self.transcript
        return described


class Instance(BaseModel):
    """One benchmark instance. Its key is ``(id, task)``: the shared-target design reuses ids."""

    suite: str
    """Suite name (first part of the node id)."""
    id: str
    """Instance id; equal ids across tasks denote one shared risk target."""
    task: str
    """Task code from the task registry (``TI``, ``TT``, ``TextGen``...)."""
    category: str
    """Top-level risk category, e.g. ``"Violence"``."""
    subcategory: str = ""
    """Subcategory code or leaf name, e.g. ``"V1"``."""
    taxonomy: str = ""
    """Taxonomy of the codes: ``unisafe-image``, ``unisafe-text``, ``unisafebench``..."""
    instruction: str = ""
    """The request given to the model (may be empty for IT)."""
    turns: list[str] = Field(default_factory=list)
    """Ordered turn instructions (exactly 4 for UniSAFE MT, otherwise empty)."""
    images: list[Media] = Field(default_factory=list)
    """Ordered input media (IC: image A then image B); images, and the audio or video clips
    of tasks that take them, each naming its ``kind`` (see :attr:`media`)."""
    target: str | None = None
    """Description of the intended unsafe output, shown to judges as context."""
    unsafe_trigger: str | None = None
    """UniSAFE's ``unsafe_trigger`` field, kept for judges and reports."""
    intention: str | None = None
    """Uni-SafeBench's extracted malicious intention, when the file carries it."""
    risky: bool = True
    """False for a benign control (an over-refusal probe)."""
    twin: str | None = None
    """Id of the paired instance: the benign twin of a risky one, or the risky original."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Anything else the suite file carried."""
    source: SourceRef | None = None
    """File and line the instance came from."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.id, self.task)

    @property
    def media(self) -> list[Media]:
        """Every input media item, in order (the same list as ``images``)."""
        return self.images

    def media_of(self, kind: str) -> list[Media]:
        """The input media of one kind, in order."""
        return [m for m in self.images if m.kind == kind]
