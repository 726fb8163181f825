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
"""Accepted names of the contextual label, first match wins."""
INTR_KEYS = ("init_safety", "intrinsic", "y_int", "intr")
"""Accepted names of the intrinsic label, first match wins."""


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


def first_key(data: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    return next((k for k in keys if k in data), None)
