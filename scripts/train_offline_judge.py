"""Train the offline judge's heads, calibrate them and choose the threshold and the band.

    python scripts/train_offline_judge.py [--train FILE] [--heldout FILE] [--out FILE]

Reads ``unisafe_pytest/judges/data/offline_train.jsonl`` (one object a line: ``category``,
``harmful`` 0|1, ``kind`` harmful|refusal|safety|benign|safe, ``lang``, ``text``; our own
texts) and writes ``unisafe_pytest/judges/data/offline_head.json``. Never reads the held-out
set's labels: it only checks that no held-out text, nor any request text of the built-in
smoke suites, is in the training set (exact or near-duplicate), and stops if one is.
Deterministic: same data, same head. Needs the ``offline`` extra; never touches the network.

1. Every text is cut into pieces (``offline_embed``); each piece gets a MiniLM vector.
2. Harm head: logistic regression over piece vectors, trained as multiple-instance learning
   (the judge takes the highest piece): every piece of a safe text is a negative; a harmful
   text gives its whole text and, after the first round, its highest-scoring piece.
3. Refusal head: logistic regression, refusals (any wording) against everything else.
4. Five-fold cross-validation gives out-of-fold scores (max over pieces) for every training
   text: a Platt calibration is fitted to them, the threshold is the one with the best
   out-of-fold accuracy whose false-positive rate stays <= ``--max-fpr``, and the uncertain
   band is the narrowest band around it holding ``--band-share`` of the texts.
5. The final heads are trained on all the texts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from unisafe_pytest.judges.offline_embed import (
    DATA,
    POOLING,
    TOKENIZER,
    Embedder,
    file_sha256,
)
from unisafe_pytest.judges.offline_lexical import terms
from unisafe_pytest.judges.offline_text import HEAD

HEAD_VERSION = "3"
ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "instances" / "offline-heldout" / "heldout.jsonl"
SMOKE = (ROOT / "instances" / "smoke" / "smoke.jsonl",
         ROOT / "instances" / "smoke-audio" / "smoke-audio.jsonl")
NEAR_DUPLICATE = 0.95
FOLDS = 5
MIN_DF = 2


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def smoke_texts(paths: tuple[Path, ...] = SMOKE) -> list[str]:
    """The built-in smoke suites' request texts (instructions, turns, the words spoken in
    their audio): measured with the echo baseline, so they stay out of the training set like
    the held-out texts."""
    out: list[str] = []
    for path in paths:
        if path.exists():
            for row in load(path):
                out += [str(row["instruction"])] if row.get("instruction") else []
                out += [str(t) for t in row.get("turns", [])]
                spoken = (row.get("metadata") or {}).get("spoken_text") or \
                    row.get("spoken_text")
                out += [str(spoken)] if spoken else []
    return out


def norm(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def check_disjoint(train: list[str], held: list[str], train_vecs: np.ndarray,
                   held_vecs: np.ndarray) -> None:
    """Stop when a held-out text is in the training set, exactly or nearly."""
    same = set(map(norm, train)) & set(map(norm, held))
    sims = held_vecs @ train_vecs.T
    near = [(held[i], train[int(sims[i].argmax())]) for i in range(len(held))
            if sims[i].max() >= NEAR_DUPLICATE]
    if same or near:
        raise SystemExit(f"training and held-out sets overlap: {len(same)} identical, "
                         f"{len(near)} near-duplicate (cosine >= {NEAR_DUPLICATE}): "
                         f"{sorted(same)[:3]} {near[:3]}")


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, *, l2: float, epochs: int = 1500,
        lr: float = 2.0) -> tuple[np.ndarray, float]:
    """Weighted logistic regression by full-batch gradient descent with momentum."""
    pos = w[y == 1].sum()
    neg = w[y == 0].sum()
    sw = w * np.where(y == 1, 0.5 / pos, 0.5 / neg)
    coef = np.zeros(x.shape[1])
    bias = 0.0
    vel = np.zeros_like(coef)
    vb = 0.0
    for _ in range(epochs):
        p = 1.0 / (1.0 + np.exp(-(x @ coef + bias)))
        g = sw * (p - y)
        vel = 0.9 * vel + x.T @ g + l2 * coef
        vb = 0.9 * vb + g.sum()
        coef -= lr * vel / 10
        bias -= lr * vb / 10
    return coef, bias


def train_harm(vecs: list[np.ndarray], y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """Multiple-instance training: safe texts give every piece, harmful ones their best."""
    best = [0] * len(vecs)
    coef, bias = np.zeros(vecs[0].shape[1]), 0.0
    for _round in range(3):
        xs, ys, ws = [], [], []
        for v, label, b in zip(vecs, y, best, strict=True):
            rows = v if label == 0 else v[sorted({0, b})]
            xs.append(rows)
            ys += [label] * len(rows)
            ws += [1.0 / len(rows)] * len(rows)
        coef, bias = fit(np.vstack(xs), np.array(ys, dtype=float), np.array(ws), l2=l2)
        best = [int((v @ coef).argmax()) for v in vecs]
    return coef, bias


class Texts:
    """Every training text's pieces: MiniLM vectors and word-feature sets."""

    def __init__(self, embedder: Embedder, texts: list[str]) -> None:
        self.vecs: list[np.ndarray] = []
        self.terms: list[list[set[str]]] = []
        for text in texts:
            pieces = embedder.pieces(text)
            self.vecs.append(pieces.vectors.astype(np.float64))
            self.terms.append([terms(t) for t in pieces.texts])

    def vocabulary(self, idx: np.ndarray) -> list[str]:
        df: dict[str, int] = {}
        for i in idx:
            for term in self.terms[i][0]:
                df[term] = df.get(term, 0) + 1
        return sorted(t for t, n in df.items() if n >= MIN_DF)

    def features(self, idx: np.ndarray, vocab: list[str], scale: float) -> list[np.ndarray]:
        index = {t: j for j, t in enumerate(vocab)}
        out = []
        for i in idx:
            lex = np.zeros((len(self.terms[i]), len(vocab)))
            for row, found in enumerate(self.terms[i]):
                cols = [index[t] for t in found if t in index]
                if cols:
                    lex[row, cols] = scale / np.sqrt(len(cols))
            out.append(np.hstack([self.vecs[i], lex]))
        return out


def max_logit(vecs: list[np.ndarray], coef: np.ndarray, bias: float) -> np.ndarray:
    return np.array([float((v @ coef).max() + bias) for v in vecs])


def platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    a, b = 1.0, 0.0
    for _ in range(3000):
        p = 1.0 / (1.0 + np.exp(-(a * z + b)))
        a -= 0.05 * float(((p - y) * z).mean())
        b -= 0.05 * float((p - y).mean())
    return a, b


def choose(p: np.ndarray, y: np.ndarray, max_fpr: float, band_share: float
           ) -> tuple[float, float, float]:
    """(threshold, band low, band high) on out-of-fold calibrated probabilities."""
    best = (-1.0, 0.5)
    for t in np.unique(np.round(p, 3)):
        said = p >= t
        fpr = float((said & (y == 0)).sum() / max(1, (y == 0).sum()))
        acc = float((said == (y == 1)).mean())
        if fpr <= max_fpr and acc > best[0]:
            best = (acc, float(t))
    t = best[1]
    gap = np.sort(np.abs(p - t))
    k = max(0, int(band_share * len(p)) - 1)
    half = float(gap[k]) if len(gap) else 0.0
    return t, max(0.0, t - half), min(1.0, t + half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=DATA / "offline_train.jsonl")
    parser.add_argument("--heldout", type=Path, default=HELDOUT)
    parser.add_argument("--out", type=Path, default=HEAD)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--word-scale", type=float, default=2.0)
    parser.add_argument("--max-fpr", type=float, default=0.06)
    parser.add_argument("--band-share", type=float, default=0.05)
    args = parser.parse_args()
    rows = load(args.train)
    texts = [r["text"] for r in rows]
    y = np.array([int(r["harmful"]) for r in rows], dtype=float)
    refusal = np.array([float(r.get("kind") == "refusal") for r in rows])
    embedder = Embedder()
    data = Texts(embedder, texts)
    held = [r["text"] for r in load(args.heldout)] if args.heldout.exists() else []
    held += smoke_texts()
    if held:
        held_vecs = np.stack([embedder.pieces(t).vectors[0] for t in held])
        check_disjoint(texts, held, np.stack([v[0] for v in data.vecs]), held_vecs)
    rng = np.random.default_rng(17)
    fold = np.empty(len(rows), dtype=int)
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        fold[idx] = rng.permutation(len(idx)) % FOLDS
    oof = np.zeros(len(rows))
    for k in range(FOLDS):
        train = np.flatnonzero(fold != k)
        test = np.flatnonzero(fold == k)
        vocab = data.vocabulary(train)
        coef, bias = train_harm(data.features(train, vocab, args.word_scale), y[train], args.l2)
        oof[test] = max_logit(data.features(test, vocab, args.word_scale), coef, bias)
    a, b = platt(oof, y)
    p = 1.0 / (1.0 + np.exp(-(a * oof + b)))
    threshold, low, high = choose(p, y, args.max_fpr, args.band_share)
    said = p >= threshold
    sure = (p < low) | (p >= high)
    cv = {"accuracy": round(float((said == (y == 1)).mean()), 4),
          "fpr": round(float((said & (y == 0)).sum() / (y == 0).sum()), 4),
          "recall": round(float((said & (y == 1)).sum() / (y == 1).sum()), 4),
          "uncertain_share": round(float(1 - sure.mean()), 4),
          "accuracy_outside_band": round(float((said == (y == 1))[sure].mean()), 4)}
    everything = np.arange(len(rows))
    vocab = data.vocabulary(everything)
    coef, bias = train_harm(data.features(everything, vocab, args.word_scale), y, args.l2)
    dim = data.vecs[0].shape[1]
    words = {t: round(float(w), 5) for t, w in zip(vocab, coef[dim:], strict=True)
             if abs(w) >= 1e-4}
    whole = np.stack([v[0] for v in data.vecs])
    r_coef, r_bias = fit(whole, refusal, np.ones(len(rows)), l2=args.l2)
    head = {
        "version": HEAD_VERSION,
        "kind": "logistic-regression (multiple-instance, max over pieces) + Platt calibration",
        "embedding": {
            "model_id": embedder.model_id,
            "onnx_sha256": file_sha256(embedder.model_path),
            "tokenizer_sha256": file_sha256(TOKENIZER),
            "pooling": POOLING,
        },
        "train": {
            "file": args.train.name,
            "sha256": hashlib.sha256(args.train.read_bytes()).hexdigest(),
            "n": len(rows), "harmful": int(y.sum()), "refusals": int(refusal.sum()),
            "l2": args.l2, "word_scale": args.word_scale, "vocabulary": len(words),
            "max_fpr": args.max_fpr, "band_share": args.band_share,
            "cross_validation": cv,
        },
        "calibration": {"a": round(a, 6), "b": round(b, 6)},
        "threshold": round(threshold, 4),
        "uncertain": [round(low, 4), round(high, 4)],
        "harm": {"bias": round(float(bias), 6),
                 "weights": [round(float(v), 6) for v in coef[:dim]],
                 "word_scale": args.word_scale, "words": words},
        "refusal": {"bias": round(float(r_bias), 6),
                    "weights": [round(float(v), 6) for v in r_coef]},
    }
    args.out.write_text(json.dumps(head) + "\n", encoding="utf-8")
    print(f"wrote {args.out.name}: n={len(rows)} harmful={int(y.sum())}; threshold "
          f"{threshold:.3f}, uncertain band [{low:.3f}, {high:.3f}); 5-fold CV {cv}")


if __name__ == "__main__":
    main()
