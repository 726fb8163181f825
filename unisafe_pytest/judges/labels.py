"""Label fields of judge result files: which keys hold them and how a value is read.

Shared by the replay judge and the ``unisafe report`` readers, so that a value is a label in
both or in neither. A value outside the allowed set is an error with a reason, never a label.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_DIGITS = re.compile(r"[0-9]+")
"""ASCII digits only: ``str.isdigit`` also accepts characters such as '²' that int() rejects."""

CTX_KEYS = ("context_safety", "contextual", "context", "y_ctx", "ctx")
"""Accepted names of the contextual label (several present must agree: :func:`label_key`)."""
INTR_KEYS = ("init_safety", "intrinsic", "y_int", "intr")
"""Accepted names of the intrinsic label (several present must agree: :func:`label_key`)."""


def parse_label(value: object, allowed: tuple[int, ...]) -> tuple[int | None, str | None]:
    """A parsed label, or ``None`` and the reason it is an error."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    if number is None or number not in allowed:
        return None, f"label {value!r} is not one of {list(allowed)}"
    return number, None


def _same(value: object) -> object:
    """A value as compared across spellings: a label number, else the value itself."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    return repr(value)


def label_key(data: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str | None, str | None]:
    """The key holding a label (``None`` when no spelling is present) and, when several
    spellings of it are present with values that differ, the error naming them.

    Every spelling is read: two that disagree (``context_safety: 1`` beside ``ctx: 0``) are
    a conflict, never resolved toward either (the first one could be the safe one). Equal
    values (``1`` and ``"1"``) agree.
    """
    present = [k for k in keys if k in data]
    if not present:
        return None, None
    if len({_same(data[k]) for k in present}) > 1:
        shown = ", ".join(f"{k}={data[k]!r}" for k in present)
        return present[0], (f"two spellings of one label disagree ({shown}); which one is the "
                            "verdict is unknown: keep one of them")
    return present[0], None
