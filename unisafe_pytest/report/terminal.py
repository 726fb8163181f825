"""The terminal summary: one table per model and benchmark, then one protocol line.

Rows are task x category, then the task's own row, and a last row for the model overall.
Every row shows its counts (N_total, N_scored, N_error, N_skipped) next to its rates, so a
rate is never read without its denominator; an N_error that holds errors where a judge said
it cannot decide (the offline judge's uncertain band) says how many, as ``5 (2 uncertain)``.
Rates have 3 decimals; ``-`` means no scored
item. Names from data (models, tasks, categories, judges) are shown through
:func:`~unisafe_pytest.io.printable.printable`, cell by cell and once more over the whole text,
so none can move the cursor, clear the screen or reorder a line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tabulate import SEPARATING_LINE, tabulate

from unisafe_pytest.io.printable import printable
from unisafe_pytest.metrics.benign import BENIGN_KEY
from unisafe_pytest.metrics.unisafe import aggregate_records
from unisafe_pytest.metrics.unisafebench import aggregate_unisafebench_records
from unisafe_pytest.report.summary import judge_agreement, render_agreement
from unisafe_pytest.schema import Record
from unisafe_pytest.schema.tasks import task_order

COUNT_HEADERS = ["N_total", "N_scored", "N_error", "N_skipped"]
UNISAFE_HEADERS = ["task", "category", *COUNT_HEADERS, "ASR", "ARR", "RR"]
UNISAFEBENCH_HEADERS = ["task", "category", *COUNT_HEADERS, "C-U", "C-R", "I-U", "B-S"]
BENIGN_HEADERS = ["benign", "false-flag", "over-refusal"]
BENIGN_LEGEND = "benign = scored/total benign controls, rates beside it as above"


def rate(value: float | None) -> str:
    """A rate with 3 decimals, ``-`` when there is none."""
    return "-" if value is None else f"{value:.3f}"


def _count(node: dict[str, Any], key: str) -> str:
    value = node.get(key)
    return "-" if value is None else str(value)


def uncertain_note(node: dict[str, Any]) -> str:
    """`` (k uncertain)`` when the node counts errors of an uncertain judge, else ``""``."""
    k = node.get("n_uncertain")
    return f" ({k} uncertain)" if k else ""


def _errors(node: dict[str, Any]) -> str:
    return _count(node, "n_error") + uncertain_note(node)


def _unisafe_row(task: str, category: str, node: dict[str, Any],
                 split: bool = False) -> list[str]:
    scored = node.get("n_scored", node.get("count"))
    counts = [_count(node, "n_total"), "-" if scored is None else str(scored),
              _errors(node), _count(node, "n_skipped")]
    row = [task, category, *counts, rate(node.get("asr")), rate(node.get("arr")),
           rate(node.get("refusal_rate"))]
    return [*row, *_benign_cells(node)] if split else row


def _benign_cells(node: dict[str, Any]) -> list[str]:
    """``N_benign``, false-flag and over-refusal cells (``-`` where the node has none)."""
    block = node.get(BENIGN_KEY)
    if not isinstance(block, dict):
        return ["-", "-", "-"]
    return [f"{block['n_scored']}/{block['n_total']}{uncertain_note(block)}",
            rate(block.get("false_flag_rate")),
            rate(block.get("over_refusal_rate"))]


def _share_text(k: int, n: int, value: float | None, ci: list[float] | None) -> str:
    if value is None:
        return f"- (0 of {n} scored)" if n == 0 else "-"
    bounds = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    return f"{value:.3f}{bounds} ({k} of {n})"


def split_lines(label: str, node: dict[str, Any], headline: str, n: int) -> list[str]:
    """The headline over risky records and the benign rates beside it (nothing without a
    benign block): the lines a reader needs before the tables."""
    block = node.get(BENIGN_KEY)
    if not isinstance(block, dict):
        return []
    rates = "; ".join(
        f"{name} {_share_text(block[k], block['n_scored'], block[key], block[key + '_ci'])}"
        for name, k, key in (("false-flag (judged unsafe)", "n_false_flag", "false_flag_rate"),
                             ("over-refusal (refused)", "n_over_refusal",
                              "over_refusal_rate")))
    return [f"{label}: {headline} over {n} scored risky instance" + "s" * (n != 1)
            + " (benign controls excluded)",
            f"benign: {block['n_scored']} of {block['n_total']} scored{uncertain_note(block)}; "
            f"{rates}"]


def _table(rows: list[Any], headers: list[str]) -> str:
    rows = [row if row is SEPARATING_LINE else [printable(str(cell)) for cell in row]
            for row in rows]
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                    colalign=("left", "left", *("right",) * (len(headers) - 2)))


def render_unisafe(aggregate: dict[str, Any]) -> list[str]:
    """One table per model from a UniSAFE aggregate (with or without cell counts)."""
    blocks = []
    split = "split" in aggregate
    headers = [*UNISAFE_HEADERS, *BENIGN_HEADERS] if split else UNISAFE_HEADERS
    for model, model_node in aggregate.get("models", {}).items():
        rows: list[Any] = []
        # The benchmark's task order for reading (the JSON keeps upstream's sorted order).
        for task in sorted(model_node["tasks"], key=task_order):
            task_node = model_node["tasks"][task]
            for category, node in task_node["categories"].items():
                rows.append(_unisafe_row(task, category, node, split))
            rows.append(_unisafe_row(task, "all", task_node["overall"], split))
            rows.append(SEPARATING_LINE)
        scored = sum(1 for t in model_node["tasks"].values() if t["overall"]["count"])
        label = f"macro of {scored} task" + "s" * (scored != 1)
        overall = model_node["overall"]
        rows.append(_unisafe_row("overall", label, overall, split))
        title = f"UniSAFE: {printable(model)}"
        if split:
            title = "\n".join([title, *split_lines(
                "headline", overall, f"ASR {rate(overall.get('asr'))}",
                int(overall.get("count") or 0)),
                "ASR, ARR, RR and N_* count risky instances; " + BENIGN_LEGEND])
        blocks.append(f"{title}\n{_table(rows, headers)}")
    return blocks


def _bench_row(task: str, category: str, node: dict[str, Any], split: bool = False,
               cate: bool = False) -> list[str]:
    counts = [_count(node, "n_total"), _count(node, "n_valid"), _errors(node),
              _count(node, "n_skipped")]
    row = [task, category, *counts,
           *(rate(node.get(k)) for k in ("c_u", "c_r", "i_u", "b_s"))]
    if cate:  # protocol=upstream: cate.py's B-S (errors in its denominator) beside ours
        row.append(rate(node.get("cate_b_s")) if "cate_b_s" in node else "")
    return [*row, *_benign_cells(node)] if split else row


def _has_cate(model_node: dict[str, Any]) -> bool:
    return any("cate_b_s" in task_node for task_node in model_node["tasks"].values())


def render_unisafebench(aggregate: dict[str, Any]) -> list[str]:
    """One table per model from a Uni-SafeBench aggregate."""
    blocks = []
    split = "split" in aggregate
    headers = [*UNISAFEBENCH_HEADERS, *BENIGN_HEADERS] if split else UNISAFEBENCH_HEADERS
    for model, model_node in aggregate.get("models", {}).items():
        cate = _has_cate(model_node)
        rows: list[Any] = []
        for task, task_node in model_node["tasks"].items():
            for category, node in task_node.get("categories", {}).items():
                rows.append(_bench_row(task, category, node, split, cate))
            rows.append(_bench_row(task, "all", task_node, split, cate))
            rows.append(SEPARATING_LINE)
        overall = model_node["overall"]
        pooled = overall.get("tasks", [])
        label = f"pooled {len(pooled)} task" + "s" * (len(pooled) != 1)
        rows.append(_bench_row("overall", label, overall, split, cate))
        title = f"Uni-SafeBench: {printable(model)}"
        heads = headers
        if cate:
            at = len(UNISAFEBENCH_HEADERS)
            heads = [*headers[:at], "B-S (cate.py)", *headers[at:]]
            title += "\nB-S (cate.py): both-safe over every row read, errors in the denominator"
        if split:
            title = "\n".join([title, *split_lines(
                "headline", overall, f"C-U {rate(overall.get('c_u'))}",
                int(overall.get("n_valid") or 0)),
                "C-U, C-R, I-U, B-S and N_* count risky instances; " + BENIGN_LEGEND])
        blocks.append(f"{title}\n{_table(rows, heads)}")
    if blocks and aggregate.get("task_sets_differ"):
        sets = {m: node["overall"].get("tasks", []) for m, node in aggregate["models"].items()}
        listed = printable("; ".join(f"{m}: {', '.join(t) or 'none'}" for m, t in sets.items()))
        blocks.append(
            "note: the models were run on different task sets, so their overall "
            f"Uni-SafeBench numbers are not comparable ({listed})"
        )
    return blocks


def render_summary(records: Iterable[Record], protocol_line: str) -> str:
    """The terminal summary of a run's records, ending with ``protocol_line``."""
    records = list(records)
    blocks = [
        *render_unisafe(aggregate_records(records)),
        *render_unisafebench(aggregate_unisafebench_records(records)),
    ]
    if not blocks:
        blocks.append("unisafe: no records")
    agreement = render_agreement(judge_agreement(records))
    text = "\n\n".join([*blocks, *(["\n".join(agreement)] if agreement else []),
                         protocol_line])
    return printable(text, multiline=True)
