"""Image references: path confinement, file checks and signatures, without decoding pixels."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.schema.tasks import TaskRegistry
from unisafe_pytest.suites import load_suite
from unisafe_pytest.suites import media as media_module
from unisafe_pytest.suites.media import MediaResolver, media_from_bytes, sniff_mime

# a PNG signature and a whole IHDR header (1x1): collection reads no further
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
PNG += bytes.fromhex("1f15c489")


def problem(resolver: MediaResolver, ref: str) -> str:
    with pytest.raises(SuiteError) as info:
        resolver.resolve(ref)
    assert info.value.path is None  # loaders add file and line
    return str(info.value)


@pytest.fixture
def suite_dir(tmp_path: Path) -> Path:
    root = tmp_path / "suite"
    (root / "img").mkdir(parents=True)
    (root / "img" / "a.png").write_bytes(PNG)
    return root


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"),
     ("WEBP", "image/webp"), ("BMP", "image/bmp")],
)
def test_signatures_of_real_files(fmt: str, mime: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format=fmt)
    assert sniff_mime(buffer.getvalue()[:16]) == mime


def test_non_images_have_no_mime() -> None:
    assert sniff_mime(b"hello world") is None
    assert sniff_mime(b"RIFF\x00\x00\x00\x00WAVE") is None


def test_resolve_sets_path_ref_mime_size_and_no_hash(suite_dir: Path) -> None:
    media = MediaResolver(suite_dir).resolve("img/./a.png")
    assert media.path == str((suite_dir / "img" / "a.png").resolve())
    assert (media.ref, media.mime, media.size_bytes, media.sha256) == (
        "img/a.png", "image/png", len(PNG), None,
    )


def test_the_same_reference_gives_the_same_media_object(suite_dir: Path) -> None:
    resolver = MediaResolver(suite_dir)
    assert resolver.resolve("img/a.png") is resolver.resolve("img/a.png")


def test_dotdot_that_stays_inside_is_fine(suite_dir: Path) -> None:
    assert MediaResolver(suite_dir).resolve("img/../img/a.png").mime == "image/png"


def test_dotdot_escaping(suite_dir: Path) -> None:
    (suite_dir.parent / "x.png").write_bytes(PNG)
    assert problem(MediaResolver(suite_dir), "../x.png") == (
        "image path '../x.png' escapes the suite folder 'suite' (through '..' or a symlink); "
        "copy the image inside the suite folder"
    )


def test_absolute_path(suite_dir: Path) -> None:
    ref = str(suite_dir / "img" / "a.png")
    assert problem(MediaResolver(suite_dir), ref) == (
        f"image path {ref!r} is absolute; write it relative to the suite folder ('suite') so "
        "the suite can move between machines"
    )


def test_symlink_pointing_out(suite_dir: Path) -> None:
    (suite_dir.parent / "secret.png").write_bytes(PNG)
    os.symlink(suite_dir.parent / "secret.png", suite_dir / "img" / "link.png")
    assert "escapes the suite folder 'suite'" in problem(MediaResolver(suite_dir), "img/link.png")


def test_symlink_inside_is_fine(suite_dir: Path) -> None:
    os.symlink(suite_dir / "img" / "a.png", suite_dir / "alias.png")
    assert MediaResolver(suite_dir).resolve("alias.png").ref == "alias.png"


def test_missing_file(suite_dir: Path) -> None:
    assert problem(MediaResolver(suite_dir), "img/b.png") == (
        "image 'img/b.png' does not exist under the suite folder 'suite'; check the spelling "
        "(paths are relative to the suite file's folder)"
    )


def test_directory_is_not_a_regular_file(suite_dir: Path) -> None:
    assert problem(MediaResolver(suite_dir), "img") == (
        "image 'img' is a directory, not a regular file; point it at an image file"
    )


def test_unreadable_file(suite_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(media_module, "open", denied, raising=False)
    assert problem(MediaResolver(suite_dir), "img/a.png") == (
        "image 'img/a.png' cannot be read (Permission denied); check its permissions"
    )


def test_oversized_file_in_megabytes(suite_dir: Path) -> None:
    (suite_dir / "big.png").write_bytes(PNG + b"\x00" * (3 * 1024 * 1024))
    assert problem(MediaResolver(suite_dir, max_bytes=2 * 1024 * 1024), "big.png") == (
        "image 'big.png' is 3.0 MB, over the 2.0 MB limit; shrink it or raise the limit with "
        "the environment variable UNISAFE_MAX_IMAGE_MB=<megabytes>"
    )


def test_oversized_file(suite_dir: Path) -> None:
    assert problem(MediaResolver(suite_dir, max_bytes=10), "img/a.png") == (
        "image 'img/a.png' is 33 bytes, over the 10 bytes limit; shrink it or raise "
        "the limit with the environment variable UNISAFE_MAX_IMAGE_MB=<megabytes>"
    )


def test_not_an_image(suite_dir: Path) -> None:
    (suite_dir / "notes.png").write_bytes(b"just some text")
    assert problem(MediaResolver(suite_dir), "notes.png") == (
        "image 'notes.png' is not a PNG/JPEG/GIF/WEBP/BMP image (first bytes b'just som'); "
        "convert it to PNG or JPEG"
    )


def test_empty_and_control_character_paths(suite_dir: Path) -> None:
    resolver = MediaResolver(suite_dir)
    assert problem(resolver, "").startswith("image path is empty")
    assert "contains control characters" in problem(resolver, "a\x00.png")
    assert "is not valid Unicode" in problem(resolver, "a\ud800.png")


def test_only_the_png_header_is_read(suite_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real_open = open

    class Spy:
        def __init__(self, *args: Any) -> None:
            self.fh = real_open(*args)

        def __enter__(self) -> Spy:
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

        def read(self, n: int = -1) -> bytes:
            sizes.append(n)
            data: bytes = self.fh.read(n)
            return data

    monkeypatch.setattr(media_module, "open", Spy, raising=False)
    MediaResolver(suite_dir).resolve("img/a.png")
    assert sizes == [33]  # signature + IHDR chunk: the dimensions, never a pixel


def test_media_from_bytes_checks_size_and_signature() -> None:
    media = media_from_bytes(PNG, ref="x")
    assert (media.mime, media.size_bytes, media.read_bytes()) == ("image/png", len(PNG), PNG)
    assert media.sha256 is not None
    with pytest.raises(SuiteError, match="is not a PNG/JPEG/GIF/WEBP/BMP image"):
        media_from_bytes(b"text", ref="x")
    with pytest.raises(SuiteError, match="is 33 bytes, over the 4 bytes limit"):
        media_from_bytes(PNG, ref="x", max_bytes=4)


def test_size_limit_is_a_keyword_of_load_suite(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    record = {"id": 1, "task": "MU", "category": "c", "instruction": "x", "images": ["a.png"]}
    (tmp_path / "s.jsonl").write_text(json.dumps(record) + "\n")
    suite = load_suite("s.jsonl", TaskRegistry(), base_dir=tmp_path, max_image_bytes=8)
    assert [str(e) for e in suite.errors] == [
        "s.jsonl:1: image 'a.png' is 33 bytes, over the 8 bytes limit; shrink it or raise "
        "the limit with the environment variable UNISAFE_MAX_IMAGE_MB=<megabytes>"
    ]
