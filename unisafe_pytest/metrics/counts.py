"""What both benchmarks share: per-cell record counts and record deduplication.

A *cell* is one node of a report (model x task x category, task, model). Every cell reports
how many records it holds and what became of them, so a rate is never shown without its
denominator:

- ``n_total``: records in the cell (skipped ones included);
- ``n_scored``: records with a verdict from every configured judge (they enter the
  metrics; an unsafe verdict that holds whatever a failed judge would have said counts);
- ``n_error``: records that ran but whose verdict is an error (model, judge or input
  error, or one configured judge without a valid answer): unscored, never counted safe;
- ``n_skipped``: records that were not run (unsupported task, deselected by a limit...);
- ``n_uncertain`` (only on a cell that has some): the part of ``n_error`` whose only fault
  is a judge that said it cannot decide (:func:`is_uncertain`, e.g. the offline judge's
  uncertain band). They are errors like the others, never safe; the count tells a reader
  which errors a paper-protocol judge would settle, and which need fixing.

``n_total == n_scored + n_error + n_skipped`` always holds (``n_uncertain`` is inside
``n_error``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from unisafe_pytest.schema import Record

UNCERTAIN_PREFIX = "uncertain:"
"""How a judge row's ``error`` starts when the judge cannot decide (not a failure to run)."""


@dataclass
class CellCounts:
    """Record counts of one cell."""

    n_total: int = 0
    n_scored: int = 0
    n_error: int = 0
    n_skipped: int = 0
    n_uncertain: int = 0
    """Part of ``n_error``: errors only because a judge was uncertain."""

    def add(self, other: CellCounts) -> None:
        self.n_total += other.n_total
        self.n_scored += other.n_scored
        self.n_error += other.n_error
        self.n_skipped += other.n_skipped
        self.n_uncertain += other.n_uncertain

    def count(self, status: str, *, uncertain: bool = False) -> None:
        """Count one record whose status is ``scored``, ``error`` or ``skipped``;
        ``uncertain``: an error whose only fault is an uncertain judge."""
        self.n_total += 1
        if status == "scored":
            self.n_scored += 1
        elif status == "error":
            self.n_error += 1
            self.n_uncertain += uncertain
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
            **uncertain_entry(self.n_uncertain),
        }


def uncertain_entry(n_uncertain: int) -> dict[str, int]:
    """``{"n_uncertain": n}`` when n > 0, else nothing: a run where no judge was uncertain
    keeps exactly the counts it always had."""
    return {"n_uncertain": n_uncertain} if n_uncertain else {}


def is_uncertain(record: Record) -> bool:
    """The record's verdict is an error only because a judge said it cannot decide.

    A judge says so with a row whose ``error`` starts with :data:`UNCERTAIN_PREFIX` (the
    offline judge's uncertain band). The record is uncertain when its verdict is an error
    and every judge row without a valid verdict is such a row: a timeout or an unparsed
    answer beside it makes it a plain error.
    """
    verdict = record.verdict
    if record.outcome == "skipped" or verdict is None or verdict.label != "error":
        return False
    problems = [p for row in verdict.rows if (p := row.problem(verdict.protocol)) is not None]
    return bool(problems) and all(p.startswith(UNCERTAIN_PREFIX) for p in problems)


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
