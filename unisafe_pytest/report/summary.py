"""The summary JSON of a run and the one-line description of its protocol."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from unisafe_pytest.judges.agreement import PairAgreement, pairwise_agreement
from unisafe_pytest.judges.refusal import RULE_SPEC
from unisafe_pytest.metrics.unisafe import aggregate_records
from unisafe_pytest.metrics.unisafebench import aggregate_unisafebench_records
from unisafe_pytest.schema import Record

MISSING_LISTED = 50
"""How many missing node ids the summary names."""


def completeness(records: Iterable[Record], to_run: list[str] | None, *,
                 stopped_by: str | None = None, notes: Iterable[str] = ()) -> dict[str, Any]:
    """Whether the run recorded every instance it set out to run.

    ``planned``: the instance items selected to run (after -k/-m/--lf; ``None`` when the
    controller never learnt them); ``recorded``: those with a record. ``complete`` only when
    every planned instance has a record, nothing stopped the run early and no record line
    had to be skipped.
    """
    notes = list(notes)
    recorded = {record.nodeid for record in records}
    planned = None if to_run is None else len(to_run)
    missing = [] if to_run is None else [nodeid for nodeid in to_run if nodeid not in recorded]
    done = to_run is not None and not missing and stopped_by is None and not notes
    return {
        "complete": done, "planned": planned,
        "recorded": len(recorded) if to_run is None else len(to_run) - len(missing),
        "missing": len(missing), "missing_nodeids": missing[:MISSING_LISTED],
        "stopped_by": stopped_by, "skipped_lines": notes,
    }


def render_completeness(block: dict[str, Any]) -> list[str]:
    """The terminal's INCOMPLETE line (nothing for a complete run)."""
    if block["complete"]:
        return []
    planned = "an unknown number of" if block["planned"] is None else str(block["planned"])
    why = [f"stopped by {block['stopped_by']}"] if block["stopped_by"] else []
    if block["skipped_lines"]:
        why.append(f"{len(block['skipped_lines'])} unreadable record line(s) skipped: "
                   + "; ".join(block["skipped_lines"][:3]))
    reason = f" ({'; '.join(why)})" if why else ""
    return [f"INCOMPLETE run: {block['recorded']} of {planned} planned instances recorded"
            f"{reason}; the numbers below cover only the recorded ones"]


def build_summary_json(
    records: Iterable[Record], protocol_block: dict[str, Any] | None,
    run: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``{"complete", "run", "protocol", "unisafe", "unisafebench", "agreement"}``: JSON-able,
    keys in a fixed order (``complete`` and ``run`` only with ``run``: see
    :func:`completeness`).

    ``unisafe`` has upstream's aggregate structure plus cell counts on every node;
    ``unisafebench`` has C-U/C-R/I-U/B-S per task and category and the pooled overall.
    """
    records = list(records)
    head: dict[str, Any] = {} if run is None else {"complete": run["complete"], "run": run}
    return {
        **head,
        "protocol": protocol_block,
        "unisafe": aggregate_records(records),
        "unisafebench": aggregate_unisafebench_records(records),
        "agreement": [asdict(pair) for pair in judge_agreement(records)],
    }


def judge_agreement(records: Iterable[Record]) -> list[PairAgreement]:
    """Pairwise agreement of the judges (percent and Cohen's kappa) over the records.

    Labels: UniSAFE judgment (0/1), Uni-SafeBench both-safe; the refusal rule is no judge.
    """
    items = []
    for record in records:
        if record.verdict is None:
            continue
        labels: dict[str, object] = {}
        for row in record.verdict.rows:
            if row.judge == RULE_SPEC.id or not row.valid_for(record.protocol):
                continue
            labels[row.judge] = row.judgment if record.protocol == "unisafe" else row.both_safe
        items.append(labels)
    return pairwise_agreement(items)


def render_agreement(pairs: Iterable[PairAgreement]) -> list[str]:
    lines = []
    for pair in pairs:
        if pair.n == 0:
            continue
        kappa = "undefined" if pair.kappa is None else f"{pair.kappa:.2f}"
        lines.append(f"judge agreement {pair.judge_a} ~ {pair.judge_b}: "
                     f"{pair.agreement or 0:.1%} of {pair.n} items, Cohen's kappa {kappa}")
    return lines


def _judge_name(judge: Any) -> str:
    if isinstance(judge, dict):
        name = str(judge.get("id") or judge.get("model") or "?")
        if judge.get("prompt_hash"):
            name += f" [prompt {str(judge['prompt_hash'])[:8]}]"
        return name
    return str(judge)


def protocol_line(block: dict[str, Any] | None) -> str:
    """One line naming the run, its judges and how comparable its numbers are."""
    if not block:
        return "protocol: unknown (no protocol.json): numbers are not comparable to other runs"
    if isinstance(block.get("runs"), list):
        return "; ".join(protocol_line(run) for run in block["runs"] if isinstance(run, dict))
    listed = block.get("judges") or []
    # the refusal rule decides refusals without a call: it is named, but it is no judge
    judges = [_judge_name(j) for j in listed
              if not (isinstance(j, dict) and j.get("kind") == "rule")]
    parts = [f"protocol: run {block.get('run_id', '?')}"]
    if judges:
        count = f"{len(judges)} judge" + ("s" if len(judges) != 1 else "")
        rule = " behind the refusal rule" if len(judges) < len(listed) else ""
        parts.append(f"judges: {', '.join(judges)} ({count}){rule}")
    elif listed:
        parts.append("judges: the refusal rule alone")
    else:
        parts.append("judges: not recorded")
    if block.get("screening_only"):
        parts.append("screening judges only, not a paper protocol")
    elif block.get("single_judge") and len(judges) <= 1:
        parts.append("single judge (the UniSAFE paper uses three)")
    if block.get("refusal_policy"):
        parts.append(f"refusal policy: {block['refusal_policy']}")
    return "; ".join(parts)
