"""The offline judge's harm head as a one-hidden-layer network (head kind ``mlp``).

A piece's logit is ``out . tanh(W v + U w + b) + c``: ``v`` is the piece's vector (from the
head's encoders) and ``w`` its words and word pairs (``offline_lexical.terms``) in the head's
vocabulary, each worth ``word_scale / sqrt(number present)`` (as in the linear head), so ``U w``
is that sum of the words' rows. Trained by ``scripts/train_offline_judge.py``
(multiple-instance, max over pieces, like the linear head); the head file carries ``W``
(``weights``, one row per vector dimension), ``b`` (``bias``), ``U`` (``words``: one row per
term), ``out`` and ``c``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from unisafe_pytest.judges.offline_lexical import terms

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

ACTIVATION = "tanh"


class MlpHead:
    """Piece logits of a ``kind: mlp`` harm head (raises ``KeyError``/``ValueError``/``IndexError``
    when the head's arrays are missing or do not fit together)."""

    def __init__(self, spec: dict[str, Any], np_: Any) -> None:
        self.np = np_
        if spec.get("activation") != ACTIVATION:
            raise ValueError(f"activation {spec.get('activation')!r} is not {ACTIVATION!r}")
        self.weights = np_.array(spec["weights"], dtype=np_.float32)
        self.bias = np_.array(spec["bias"], dtype=np_.float32)
        self.out = np_.array(spec["out"]["weights"], dtype=np_.float32)
        self.out_bias = float(spec["out"]["bias"])
        self.word_scale = float(spec["word_scale"])
        self.words = {str(k): np_.array(v, dtype=np_.float32)
                      for k, v in spec["words"].items()}
        width = self.bias.shape[0]
        if self.weights.ndim != 2 or self.weights.shape[1] != width or \
                self.out.shape != (width,) or \
                any(v.shape != (width,) for v in self.words.values()):
            raise ValueError(f"the mlp head's arrays do not fit together (width {width})")

    def logits(self, vectors: npt.NDArray[np.float32], texts: list[str]) -> list[float]:
        """One logit per piece (bias included)."""
        hidden = vectors @ self.weights + self.bias
        for row, text in enumerate(texts):
            present = [self.words[t] for t in sorted(terms(text)) if t in self.words]
            if present:
                hidden[row] += self.word_scale * sum(present) / math.sqrt(len(present))
        return [float(v) + self.out_bias for v in self.np.tanh(hidden) @ self.out]
