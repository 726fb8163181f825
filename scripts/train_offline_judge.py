"""Train the offline judge's head: logistic regression over MiniLM sentence embeddings.

    python scripts/train_offline_judge.py [--train FILE] [--out FILE] [--l2 X] [--epochs N]

Reads ``unisafe_pytest/judges/data/offline_train.jsonl`` (one object a line: ``category``,
``harmful`` 0|1, ``text``; our own texts), embeds every text with the packaged ONNX model,
fits the head by full-batch gradient descent with an L2 penalty (classes weighted to balance),
and writes ``unisafe_pytest/judges/data/offline_head.json``. Deterministic: same data, same
head. Needs the ``offline`` extra; never touches the network.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from unisafe_pytest.judges.offline_text import DATA, HEAD, TOKENIZER, Embedder, file_sha256

HEAD_VERSION = "1"


def load(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    texts, labels, cats = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            texts.append(row["text"])
            labels.append(int(row["harmful"]))
            cats.append(row["category"])
    return texts, np.array(labels, dtype=np.float64), cats


def fit(x: np.ndarray, y: np.ndarray, *, l2: float, epochs: int, lr: float) -> tuple[
        np.ndarray, float]:
    n, d = x.shape
    pos = y.mean()
    sample_w = np.where(y == 1, 0.5 / pos, 0.5 / (1 - pos))
    w = np.zeros(d)
    b = 0.0
    for _ in range(epochs):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        g = sample_w * (p - y) / n
        w -= lr * (x.T @ g + l2 * w)
        b -= lr * g.sum()
    return w, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=DATA / "offline_train.jsonl")
    parser.add_argument("--out", type=Path, default=HEAD)
    parser.add_argument("--l2", type=float, default=3e-3)
    parser.add_argument("--epochs", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=4.0)
    args = parser.parse_args()
    texts, y, _ = load(args.train)
    embedder = Embedder()
    x = embedder.embed(texts).astype(np.float64)
    w, b = fit(x, y, l2=args.l2, epochs=args.epochs, lr=args.lr)
    p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
    train_acc = float(((p >= 0.5) == (y == 1)).mean())
    head = {
        "version": HEAD_VERSION,
        "kind": "logistic-regression",
        "embedding": {
            "model_id": embedder.model_id,
            "onnx_sha256": file_sha256(embedder.model_path),
            "tokenizer_sha256": file_sha256(TOKENIZER),
            "max_tokens": 256,
            "pooling": "mean, L2-normalised",
        },
        "train": {
            "file": args.train.name,
            "sha256": hashlib.sha256(args.train.read_bytes()).hexdigest(),
            "n": len(texts),
            "harmful": int(y.sum()),
            "l2": args.l2, "epochs": args.epochs, "lr": args.lr,
            "train_accuracy": round(train_acc, 4),
        },
        "bias": round(float(b), 6),
        "weights": [round(float(v), 6) for v in w],
    }
    args.out.write_text(json.dumps(head, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out.name}: n={len(texts)} harmful={int(y.sum())} "
          f"train accuracy={train_acc:.3f}")


if __name__ == "__main__":
    main()
