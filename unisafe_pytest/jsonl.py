"""Reading JSONL files line by line with errors that name the file and the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from unisafe_pytest.errors import SuiteError

MAX_LINE_BYTES = 1_000_000


def iter_objects(
    path: Path, *, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, dict[str, Any] | SuiteError]]:
    """Yield ``(line number, object)`` for each non-blank line, or a SuiteError for a bad one.

    Bad lines do not stop the iteration: the caller decides whether one bad line is fatal.
    """
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if len(raw) > max_line_bytes:
                yield number, SuiteError(
                    f"line is {len(raw):,} bytes, over the {max_line_bytes:,}-byte limit; "
                    "images belong in files referenced by path, not inline",
                    path, number,
                )
                continue
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, SuiteError(
                    f"line is not valid UTF-8 ({exc.reason} at byte {exc.start}); "
                    "save the file as UTF-8", path, number,
                )
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, SuiteError(
                    f"invalid JSON at column {exc.colno}: {exc.msg}", path, number
                )
                continue
            if not isinstance(value, dict):
                yield number, SuiteError(
                    f"expected a JSON object, got {type(value).__name__}: {text.strip()[:60]!r}",
                    path, number,
                )
                continue
            yield number, value
