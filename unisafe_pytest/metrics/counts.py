"""What both benchmarks share: per-cell record counts and record deduplication.

A *cell* is one node of a report (model x task x category, task, model). Every cell reports
how many records it holds and what became of them, so a rate is never shown without its
denominator:

- ``n_total``: records in the cell (skipped ones included);
- ``n_scored``: records with a verdict from every configured judge (they enter the
  metrics; an unsafe verdict that holds whatever a failed judge would have said counts);
- ``n_error``: records that ran but whose verdict is an error (model, judge or input
  error, or one configured judge without a valid answer): unscored, never counted safe;
- ``n_skipped``: records that were not run (unsupported task, deselected by a limit...).

``n_total == n_scored + n_error + n_skipped`` always holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from unisafe_pytest.schema import Record


@dataclass
class CellCounts:
    """Record counts of one cell."""

    n_total: int = 0
    n_scored: int = 0
    n_error: int = 0
    n_skipped: int = 0

    def add(self, other: CellCounts) -> None:
        self.n_total += other.n_total
        self.n_scored += other.n_scored
        self.n_error += other.n_error
        self.n_skipped += other.n_skipped

    def count(self, status: str) -> None:
        """Count one record whose status is ``scored``, ``error`` or ``skipped``."""
        self.n_total += 1
        if status == "scored":
            self.n_scored += 1
        elif status == "error":
            self.n_error += 1
        elif status == "skipped":
            self.n_skipped += 1
        else:
            raise ValueError(f"unknown record status {status!r}")

    def as_dict(self) -> dict[str, int]:
        return {
            "n_total": self.n_total,
            "n_scored": self.n_scored,
            "n_error": self.n_error,
            "n_skipped": self.n_skipped,
        }


def is_int(value: object) -> bool:
    """An int that is not a bool (JSON's true would otherwise pass as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def dedupe_records(records: Iterable[Record]) -> list[Record]:
    """Keep the last record of each key ``(model, suite, id, task, sample)``.

    The order of first appearance is kept, so output is deterministic for a given input.
    """
    latest: dict[tuple[str, str, str, str, int], Record] = {}
    for record in records:
        latest[record.key] = record
    return list(latest.values())


def error_verdict_note(record: Record) -> str | None:
    """The error every row of ``record`` carries when its verdict is an error, else None.

    An instance whose verdict is an error (a configured judge gave no valid verdict) is
    unscored: its other judges' valid rows must not score it alone.
    """
    if record.verdict is None or record.verdict.label != "error":
        return None
    return f"the instance's verdict is an error: {record.verdict.rationale or record.error}"[
        :500]
