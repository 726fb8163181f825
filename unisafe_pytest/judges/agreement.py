"""Agreement between judges: pairwise percent agreement and Cohen's kappa (pure functions).

Input: records as ``{judge id: label}`` mappings, one per judged item (e.g. the UniSAFE
``judgment`` of each valid judge row, or Uni-Judger's both-safe flag). For each pair of judges
only the items both judged count.

Cohen's kappa = (p_o - p_e) / (1 - p_e), with p_e from the two judges' label marginals. When
p_e = 1 (both judges gave one and the same label throughout) kappa is undefined: it is
reported as ``None``, not as 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations


@dataclass(frozen=True)
class PairAgreement:
    """Agreement between two judges over the items both of them labelled."""

    judge_a: str
    judge_b: str
    n: int
    """Items both judges labelled."""
    agreement: float | None
    """Share of those items with equal labels (None when n = 0)."""
    kappa: float | None
    """Cohen's kappa (None when n = 0 or when chance agreement is 1)."""


def cohen_kappa(a: list[Hashable], b: list[Hashable]) -> float | None:
    """Cohen's kappa of two equally long label lists (None when undefined)."""
    if len(a) != len(b):
        raise ValueError(f"label lists differ in length: {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[k] * count_b.get(k, 0) for k in count_a) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def pairwise_agreement(
    records: Iterable[Mapping[str, Hashable | None]],
) -> list[PairAgreement]:
    """Agreement for every pair of judges seen in ``records`` (sorted by judge ids).

    A ``None`` label (the judge failed on that item) leaves the item out of that judge's pairs.
    """
    rows = [{j: v for j, v in r.items() if v is not None} for r in records]
    judges = sorted({j for r in rows for j in r})
    result: list[PairAgreement] = []
    for ja, jb in combinations(judges, 2):
        both = [(r[ja], r[jb]) for r in rows if ja in r and jb in r]
        a = [x for x, _ in both]
        b = [y for _, y in both]
        n = len(both)
        agreement = sum(x == y for x, y in both) / n if n else None
        result.append(PairAgreement(ja, jb, n, agreement, cohen_kappa(a, b)))
    return result
