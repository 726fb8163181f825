"""Media references of suite files (images here; audio and video through
:mod:`~unisafe_pytest.suites.media_headers`), checked without decoding a pixel or a sample.

Collection must stay cheap and offline, so an image reference is checked by path only:

* it is relative and, after resolving ``..`` and symlinks, stays inside the suite root;
* it names an existing, regular, readable file of at most ``max_bytes`` (20 MB by default,
  raised with the environment variable ``UNISAFE_MAX_IMAGE_MB``);
* its first bytes (33 at most are read) carry a PNG, JPEG, GIF, WEBP or BMP signature, and
  a PNG's header is whole and declares a sane size (no decompression bomb).

The resulting :class:`~unisafe_pytest.schema.Media` has ``path`` (absolute), ``ref`` (relative
to the root, POSIX separators), ``mime`` and ``size_bytes``; ``sha256`` stays ``None`` and is
computed lazily when a model or judge first needs the bytes.

Problems raise :class:`~unisafe_pytest.errors.SuiteError` without a location; the loaders add
file and line.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.input_files import (
    DEFAULT_IMAGE_MB,
    IMAGE_ENV,
    MB,
    kind_of,
    max_image_bytes,
    megabytes,
)
from unisafe_pytest.io.media_probe import Probe, Source
from unisafe_pytest.schema import Media
from unisafe_pytest.schema.modalities import ModalitySpec
from unisafe_pytest.suites import media_headers

MAX_IMAGE_BYTES = DEFAULT_IMAGE_MB * MB
"""Default size limit of one input image (``UNISAFE_MAX_IMAGE_MB`` changes it)."""
RAISE_HINT = f"shrink it or raise the limit with the environment variable {IMAGE_ENV}=<megabytes>"

HEAD_BYTES = 33
"""A PNG's signature and whole IHDR chunk (8 + 25 bytes): enough to see its dimensions."""
MAX_PIXELS = 89_478_485
"""Pillow's own decompression-bomb threshold (MAX_IMAGE_PIXELS); larger PNGs are refused."""


EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
}
"""The file extension of each image type :func:`sniff_mime` knows (stores name image files
``<sha256><ext>``)."""


def sniff_mime(head: bytes) -> str | None:
    """The MIME type announced by a file's first bytes, or None if it is no image we accept."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"BM"):
        return "image/bmp"
    return None


def header_problem(head: bytes, mime: str) -> str | None:
    """What is wrong with a PNG's header (truncated, or a decompression bomb), if anything.

    Reads the IHDR chunk only; no pixel is decoded.
    """
    if mime != "image/png":
        return None
    width, height = png_size(head)
    if width is None or height is None:
        return "is truncated: its PNG header (IHDR) is incomplete"
    if width == 0 or height == 0:
        return f"declares an empty {width}x{height} image"
    if width * height > MAX_PIXELS:
        return (f"declares {width}x{height} pixels, over the {MAX_PIXELS:,}-pixel limit "
                "(a decompression bomb?)")
    return None


def png_size(head: bytes) -> tuple[int | None, int | None]:
    """A PNG's width and height from its IHDR (checked by :func:`header_problem`); ``None``s
    when ``head`` holds no whole IHDR, and for the other image types, whose first bytes are
    not read for it."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= HEAD_BYTES \
            and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return None, None


def frame(probed: Probe) -> tuple[int | None, int | None]:
    """A clip's frame size, when its header stated both sides."""
    if probed.width is None or probed.height is None:
        return None, None
    return probed.width, probed.height


def media_from_bytes(data: bytes, *, ref: str, max_bytes: int | None = None,
                     modality: ModalitySpec | None = None) -> Media:
    """Media held in memory (``{"bytes": ...}`` records), after the same size/signature checks.

    ``max_bytes`` defaults to :func:`~unisafe_pytest.io.input_files.max_image_bytes`; a
    ``modality`` other than image is checked by its own formats and limits.
    """
    if modality is not None and modality.name != "image":
        fmt, probed = media_headers.check_clip(
            modality, data[:media_headers.HEAD_BYTES], len(data), ref, f"embedded {modality.name}",
            Source.of_bytes(data))
        media = Media.from_bytes(data, ref=ref, mime=fmt.mime, kind=modality.name)
        media.duration_s, media.width, media.height = probed.duration_s, *frame(probed)
        return media
    max_bytes = max_image_bytes() if max_bytes is None else max_bytes
    if len(data) > max_bytes:
        raise SuiteError(
            f"embedded image {ref!r} is {megabytes(len(data))}, over the "
            f"{megabytes(max_bytes)} limit; {RAISE_HINT}"
        )
    mime = sniff_mime(data[:HEAD_BYTES])
    if mime is None:
        raise SuiteError(
            f"embedded image {ref!r} is not a PNG/JPEG/GIF/WEBP/BMP image "
            f"(first bytes {data[:8]!r}); embed the image file's bytes, base64-encoded"
        )
    problem = header_problem(data[:HEAD_BYTES], mime)
    if problem is not None:
        raise SuiteError(f"embedded image {ref!r} {problem}; embed a whole, sane image")
    media = Media.from_bytes(data, ref=ref, mime=mime)
    media.width, media.height = png_size(data[:HEAD_BYTES])
    return media


class MediaResolver:
    """Checks image references against one suite root; one per loaded suite.

    ``max_bytes`` defaults to :func:`~unisafe_pytest.io.input_files.max_image_bytes`. Results are
    memoized by reference: the shared-target design reuses one image in many
    instances, and the same :class:`Media` object then carries the lazily computed hash.
    """

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int | None = None,
        root_hint: str = "the suite file's folder",
    ) -> None:
        self.root = root
        self.max_bytes = max_image_bytes() if max_bytes is None else max_bytes
        self.root_hint = root_hint
        self._real_root = Path(os.path.realpath(root))
        self._seen: dict[tuple[str, str], Media] = {}

    def resolve(self, ref: str, modality: ModalitySpec | None = None) -> Media:
        """The checked :class:`Media` for ``ref`` (a path relative to the root); an image
        unless ``modality`` names another kind (audio, video, one a hook registered)."""
        kind = modality.name if modality is not None else "image"
        media = self._seen.get((kind, ref))
        if media is None:
            if modality is None or kind == "image":
                media = self._check(ref)
            else:
                media = self._check_clip(ref, modality)
            self._seen[(kind, ref)] = media
        return media

    def _locate(self, ref: str, what: str) -> tuple[Path, str, os.stat_result]:
        """The real path, portable ref and stat of a reference: relative, inside the root,
        an existing regular file."""
        if not ref:
            raise SuiteError(f"{what} path is empty; give a path relative to the suite folder")
        try:
            ref.encode("utf-8")
        except UnicodeEncodeError:
            raise SuiteError(
                f"{what} path {ref!r} is not valid Unicode; give a plain relative path"
            ) from None
        if "\x00" in ref or not ref.isprintable():
            raise SuiteError(
                f"{what} path {ref!r} contains control characters; give a plain relative path"
            )
        if posixpath.isabs(ref) or os.path.isabs(ref) or Path(ref).drive:
            raise SuiteError(
                f"{what} path {ref!r} is absolute; write it relative to the suite folder "
                f"({self.root.name!r}) so the suite can move between machines"
            )
        real = Path(os.path.realpath(self._real_root / ref))
        if not real.is_relative_to(self._real_root):
            raise SuiteError(
                f"{what} path {ref!r} escapes the suite folder {self.root.name!r} "
                f"(through '..' or a symlink); copy the {what} inside the suite folder"
            )
        portable = posixpath.normpath(ref.replace(os.sep, "/"))
        try:
            st = os.stat(real)
        except FileNotFoundError:
            raise SuiteError(
                f"{what} {ref!r} does not exist under the suite folder {self.root.name!r}; "
                f"check the spelling (paths are relative to {self.root_hint})"
            ) from None
        except OSError as exc:
            raise SuiteError(
                f"{what} {ref!r} cannot be read ({exc.strerror or exc}); check its permissions"
            ) from None
        if not stat.S_ISREG(st.st_mode):
            article = "an" if what[:1] in ("a", "e", "i", "o", "u") else "a"
            raise SuiteError(f"{what} {ref!r} is {kind_of(st.st_mode)}, not a regular file; "
                             f"point it at {article} {what} file")
        return real, portable, st

    def _head(self, real: Path, ref: str, what: str, size: int) -> bytes:
        try:
            with open(real, "rb") as fh:
                return fh.read(size)
        except OSError as exc:
            raise SuiteError(
                f"{what} {ref!r} cannot be read ({exc.strerror or exc}); check its permissions"
            ) from None

    def _check_clip(self, ref: str, modality: ModalitySpec) -> Media:
        real, portable, st = self._locate(ref, modality.name)
        try:
            with open(real, "rb") as handle:  # a regular file (checked): the reads end
                head = handle.read(media_headers.HEAD_BYTES)
                fmt, probed = media_headers.check_clip(
                    modality, head, st.st_size, ref, modality.name,
                    Source.of_handle(handle, st.st_size))
        except OSError as exc:
            raise SuiteError(f"{modality.name} {ref!r} cannot be read ({exc.strerror or exc}); "
                             "check its permissions") from None
        width, height = frame(probed)
        return Media(kind=modality.name, path=str(real), ref=portable, mime=fmt.mime,
                     size_bytes=st.st_size, duration_s=probed.duration_s, width=width,
                     height=height)

    def _check(self, ref: str) -> Media:
        real, portable, st = self._locate(ref, "image")
        if st.st_size > self.max_bytes:
            raise SuiteError(
                f"image {ref!r} is {megabytes(st.st_size)}, over the "
                f"{megabytes(self.max_bytes)} limit; {RAISE_HINT}"
            )
        head = self._head(real, ref, "image", HEAD_BYTES)
        mime = sniff_mime(head)
        if mime is None:
            raise SuiteError(
                f"image {ref!r} is not a PNG/JPEG/GIF/WEBP/BMP image (first bytes "
                f"{head[:8]!r}); convert it to PNG or JPEG"
            )
        problem = header_problem(head, mime)
        if problem is not None:
            raise SuiteError(f"image {ref!r} {problem}; replace it with a whole, sane image")
        width, height = png_size(head)
        return Media(path=str(real), ref=portable, mime=mime, size_bytes=st.st_size,
                     width=width, height=height)
