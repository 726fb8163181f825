"""Wilson score interval."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unisafe_pytest.metrics.intervals import wilson


def test_known_value() -> None:
    interval = wilson(5, 10)
    assert interval is not None
    lo, hi = interval
    assert lo == pytest.approx(0.2366, abs=1e-4)
    assert hi == pytest.approx(0.7634, abs=1e-4)


def test_edges() -> None:
    assert wilson(0, 0) is None
    zero = wilson(0, 20)
    assert zero is not None and zero[0] == 0.0 and 0 < zero[1] < 0.2
    full = wilson(20, 20)
    assert full is not None and full[1] == 1.0 and 0.8 < full[0] < 1


def test_bad_counts() -> None:
    with pytest.raises(ValueError, match="k=3, n=2"):
        wilson(3, 2)


@given(st.integers(min_value=1, max_value=5000).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))))
def test_contains_the_rate(kn: tuple[int, int]) -> None:
    k, n = kn
    interval = wilson(k, n)
    assert interval is not None
    assert 0.0 <= interval[0] <= k / n <= interval[1] <= 1.0
