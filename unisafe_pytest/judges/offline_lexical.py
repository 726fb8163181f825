"""Word features for the offline judge's harm head (next to the sentence vectors).

A piece of text becomes the set of its lower-cased words and word pairs (any script: the
training set has texts in several languages); the features present are those in the head's
vocabulary, each worth ``1 / sqrt(number of the text's words and pairs in the vocabulary)``.
Words such as *won't*, *report*, *helpline* or *step* tell a refusal or a warning from
instructions, which sentence embeddings of a small model blur.
"""

from __future__ import annotations

import itertools
import math
import re

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def terms(text: str) -> set[str]:
    """The words and adjacent word pairs of ``text`` (lower-cased, curly quotes straightened)."""
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    return set(words) | {f"{a} {b}" for a, b in itertools.pairwise(words)}


def logit(text: str, weights: dict[str, float], scale: float) -> float:
    """Contribution of ``text``'s words to the harm head's logit."""
    present = [weights[t] for t in terms(text) if t in weights]
    if not present:
        return 0.0
    return scale * sum(present) / math.sqrt(len(present))
