"""Confidence intervals for rates (a share of k successes among n trials)."""

from __future__ import annotations

import math


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """Wilson score interval of the rate ``k / n``; ``None`` when ``n == 0``.

    Unlike the normal approximation it stays inside [0, 1] and behaves at ``k == 0`` and
    ``k == n``, which is where safety rates often sit. ``z = 1.96`` gives a 95 % interval.
    """
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"wilson() needs 0 <= k <= n, got k={k!r}, n={n!r}")
    if n == 0:
        return None
    p = k / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # Pin the exact ends: rounding must not move a bound past the observed rate.
    lo = 0.0 if k == 0 else max(0.0, min(p, centre - half))
    hi = 1.0 if k == n else min(1.0, max(p, centre + half))
    return (lo, hi)
