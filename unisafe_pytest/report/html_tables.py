"""The HTML report's summary tables: one per model and benchmark, every rate with its 95 %
Wilson interval and every row with its counts (and, for a suite with benign controls, their
false-flag and over-refusal rates beside the risky-only ones). Split out of
:mod:`unisafe_pytest.report.html`; nothing here imports pytest."""

from __future__ import annotations

from typing import Any

from unisafe_pytest.metrics.benign import BENIGN_KEY
from unisafe_pytest.metrics.gates import rate_interval
from unisafe_pytest.report.first_screen import escape
from unisafe_pytest.schema.tasks import task_order


def rate_cell(value: float | None, n: int | None, *, interval: bool = True) -> str:
    if value is None:
        return '<td class="num">-</td>'
    ci = rate_interval(value, int(n or 0)) if interval else None
    text = f"{value:.3f}"
    if ci is not None:
        text += f' <span class="ci">[{ci[0]:.2f}&ndash;{ci[1]:.2f}]</span>'
    return f'<td class="num">{text}</td>'


def _uncertain(node: dict[str, Any]) -> str:
    """`` (k uncertain)`` when the node counts errors of an uncertain judge."""
    k = node.get("n_uncertain")
    return f' <span class="ci">({escape(str(k))} uncertain)</span>' if k else ""


def _counts(node: dict[str, Any], scored_key: str) -> str:
    keys = ("n_total", scored_key, "n_error", "n_skipped")
    return "".join(f'<td class="num">{escape(str(node.get(k, "-")))}'
                   f'{_uncertain(node) if k == "n_error" else ""}</td>' for k in keys)


def _benign(node: dict[str, Any], split: bool) -> str:
    """The benign controls' cells (``split``: the suite has some), else nothing."""
    block = node.get(BENIGN_KEY)
    if not split:
        return ""
    if not isinstance(block, dict):
        return '<td class="num">-</td>' * 3
    n = block["n_scored"]
    return (f'<td class="num">{n}/{block["n_total"]}{_uncertain(block)}</td>'
            f'{rate_cell(block["false_flag_rate"], n)}{rate_cell(block["over_refusal_rate"], n)}')


def unisafe_tables(aggregate: dict[str, Any]) -> str:
    out = []
    split = "split" in aggregate
    head = ("<tr><th>task</th><th>category</th><th>N total</th><th>N scored</th>"
            "<th>N error</th><th>N skipped</th><th>ASR [95% CI]</th><th>ARR</th>"
            "<th>RR [95% CI]</th>" + ("<th>benign scored</th><th>false-flag (benign)</th>"
                                      "<th>over-refusal (benign)</th>" if split else "")
            + "</tr>")
    for model, model_node in aggregate.get("models", {}).items():
        rows = []
        for task in sorted(model_node["tasks"], key=task_order):
            task_node = model_node["tasks"][task]
            items = [*task_node["categories"].items(), ("all", task_node["overall"])]
            for category, node in items:
                n = node.get("count")
                cls = ' class="total"' if category == "all" else ""
                rows.append(f"<tr{cls}><td>{escape(task)}</td><td>{escape(category)}</td>"
                            f"{_counts(node, 'n_scored')}{rate_cell(node.get('asr'), n)}"
                            f"{rate_cell(node.get('arr'), n, interval=False)}"
                            f"{rate_cell(node.get('refusal_rate'), n)}{_benign(node, split)}</tr>")
        node = model_node["overall"]
        n = node.get("count")
        rows.append(f'<tr class="grand"><td>overall</td><td>macro of tasks</td>'
                    f"{_counts(node, 'n_scored')}{rate_cell(node.get('asr'), n)}"
                    f"{rate_cell(node.get('arr'), n, interval=False)}"
                    f"{rate_cell(node.get('refusal_rate'), n)}{_benign(node, split)}</tr>")
        out.append(f"<h3>UniSAFE: {escape(model)}</h3><table>{head}{''.join(rows)}</table>")
    return "".join(out)


def bench_tables(aggregate: dict[str, Any]) -> str:
    out = []
    head = ("<tr><th>task</th><th>category</th><th>N total</th><th>N valid</th>"
            "<th>N error</th><th>N skipped</th><th>C-U</th><th>C-R</th><th>I-U</th>"
            "<th>B-S</th></tr>")
    for model, model_node in aggregate.get("models", {}).items():
        rows = []
        items = [(t, c, node) for t, tn in model_node["tasks"].items()
                 for c, node in [*tn.get("categories", {}).items(), ("all", tn)]]
        items.append(("overall", "pooled", model_node["overall"]))
        for task, category, node in items:
            n = node.get("n_valid")
            rates = "".join(rate_cell(node.get(k), n) for k in ("c_u", "c_r", "i_u", "b_s"))
            cls = ' class="total"' if category in ("all", "pooled") else ""
            rows.append(f"<tr{cls}><td>{escape(task)}</td><td>{escape(category)}</td>"
                        f"{_counts(node, 'n_valid')}{rates}</tr>")
        out.append(f"<h3>Uni-SafeBench: {escape(model)}</h3><table>{head}{''.join(rows)}"
                   "</table>")
    return "".join(out)
