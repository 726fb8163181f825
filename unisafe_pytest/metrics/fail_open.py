"""Errors that upstream's own code would have scored (``protocol=upstream``).

A rule of an upstream toolkit that fails open is never reproduced: such a row is an error
(N_error) whose text says what upstream would have scored, and the aggregates count them
apart (``upstream_would_have_scored``). One module for both benchmarks' aggregates.
"""

from __future__ import annotations

from collections.abc import Iterable

from unisafe_pytest.schema import Record
from unisafe_pytest.schema.record import DUPLICATE_LINES

WOULD_HAVE_SCORED = "upstream would have scored"
"""The phrase of every judge error (``protocol=upstream``) where upstream reads a label that
fails open (a failed call's error digits, stray digits, ``Result: 1.5``...)."""


def upstream_run(records: Iterable[Record]) -> bool:
    """Whether the records were judged under ``protocol=upstream`` (a row's spec says so)."""
    return any(row.spec is not None and row.spec.args.get("protocol") == "upstream"
               for record in records if record.verdict is not None
               for row in record.verdict.rows)


def upstream_would_have_scored(record: Record, upstream: bool = False) -> bool:
    """The record is an error here that upstream's own code would have scored.

    ``upstream``: the run is in ``protocol=upstream`` (:func:`upstream_run`), where a replayed
    Uni-SafeBench item with several result lines (:data:`DUPLICATE_LINES`) counts too.
    """
    if record.outcome == "skipped":
        return False
    if upstream and record.protocol == "unisafebench" and record.outcome == "error" and (
            DUPLICATE_LINES in (record.error or "")):
        return True
    texts = [record.error or ""]
    if record.verdict is not None:
        texts += [record.verdict.rationale] + [row.error or "" for row in record.verdict.rows]
    return any(WOULD_HAVE_SCORED in text for text in texts)
