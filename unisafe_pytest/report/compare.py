"""Several runs side by side, in the papers' main-table layout: one row per model.

- UniSAFE: ASR / ARR / RR per task, then the model's overall (macro over tasks);
- Uni-SafeBench: C-U / C-R / I-U / B-S per task, then the pooled overall.

Input is a list of ``(label, summary)`` pairs (a run's ``summary.json`` structure); each model
of each summary becomes one row. Output is a plain comparison dict (JSON-able, every rate with
its 95 % Wilson interval), rendered as a terminal or markdown table; names from the runs
(models, tasks) are shown through :func:`~unisafe_pytest.io.printable.printable`. Nothing here
imports pytest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from unisafe_pytest.io.printable import printable
from unisafe_pytest.metrics.gates import rate_interval
from unisafe_pytest.schema.tasks import task_order

UNISAFE_METRICS = (("ASR", "asr"), ("ARR", "arr"), ("RR", "refusal_rate"))
BENCH_METRICS = (("C-U", "c_u"), ("C-R", "c_r"), ("I-U", "i_u"), ("B-S", "b_s"))


def _cell(node: dict[str, Any] | None, metrics: Sequence[tuple[str, str]],
          n_key: str) -> dict[str, Any] | None:
    if not node:
        return None
    n = int(node.get(n_key) or 0)
    cell: dict[str, Any] = {"n": n}
    for _, key in metrics:
        value = node.get(key)
        cell[key] = value
        if key != "arr":  # ARR is a mean rating 0..3, not a share: no Wilson interval
            interval = rate_interval(value, n)
            cell[f"{key}_ci"] = list(interval) if interval else None
    return cell


def _labels(entries: Sequence[tuple[str, dict[str, Any]]], bench: str) -> list[tuple[str, str,
                                                                                       Any]]:
    rows = [(label, model, node) for label, summary in entries
            for model, node in ((summary.get(bench) or {}).get("models") or {}).items()]
    models = [model for _, model, _ in rows]
    return [(model if models.count(model) == 1 else f"{model} ({label})", model, node)
            for label, model, node in rows]


def compare(entries: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The comparison of runs: ``{"unisafe": {...}, "unisafebench": {...}}``."""
    out: dict[str, Any] = {}
    rows = _labels(entries, "unisafe")
    tasks = sorted({t for _, _, node in rows for t in node["tasks"]}, key=task_order)
    out["unisafe"] = {"tasks": tasks, "rows": [
        {"model": label,
         "tasks": {t: _cell((node["tasks"].get(t) or {}).get("overall"), UNISAFE_METRICS,
                            "count") for t in tasks},
         "overall": _cell(node.get("overall"), UNISAFE_METRICS, "count")}
        for label, _, node in rows]}
    rows = _labels(entries, "unisafebench")
    tasks = sorted({t for _, _, node in rows for t in node["tasks"]}, key=task_order)
    out["unisafebench"] = {"tasks": tasks, "rows": [
        {"model": label,
         "tasks": {t: _cell(node["tasks"].get(t), BENCH_METRICS, "n_valid") for t in tasks},
         "overall": _cell(node.get("overall"), BENCH_METRICS, "n_valid")}
        for label, _, node in rows]}
    sets = {tuple(t for t, c in r["tasks"].items() if c and c["n"])
            for r in out["unisafebench"]["rows"]}
    out["unisafebench"]["task_sets_differ"] = len(sets) > 1
    return out


def _fmt(value: Any, percent: bool) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}" if percent else f"{value:.3f}"


def _table(block: dict[str, Any], metrics: Sequence[tuple[str, str]], fmt: str,
           percent: bool) -> str:
    headers = ["model"]
    for task in [*block["tasks"], "overall"]:
        headers += [printable(f"{task} {name}") for name, _ in metrics]
    body = []
    for row in block["rows"]:
        line = [printable(str(row["model"]))]
        for cell in [*(row["tasks"][t] for t in block["tasks"]), row["overall"]]:
            line += [_fmt(cell.get(key) if cell else None, percent and key != "arr")
                     for _, key in metrics]
        body.append(line)
    tablefmt = "github" if fmt == "markdown" else "simple"
    return tabulate(body, headers=headers, tablefmt=tablefmt, disable_numparse=True,
                    colalign=("left", *("right",) * (len(headers) - 1)))


def render(comparison: dict[str, Any], fmt: str = "text", *, percent: bool = False) -> str:
    """Terminal (``text``) or ``markdown`` tables; ``percent`` shows rates x 100."""
    blocks = []
    unit = " (rates in %)" if percent else ""
    heading = "### " if fmt == "markdown" else ""
    if comparison["unisafe"]["rows"]:
        blocks.append(f"{heading}UniSAFE: ASR / ARR / RR per task{unit}\n\n"
                      + _table(comparison["unisafe"], UNISAFE_METRICS, fmt, percent))
    bench = comparison["unisafebench"]
    if bench["rows"]:
        text = (f"{heading}Uni-SafeBench: C-U / C-R / I-U / B-S per task{unit}\n\n"
                + _table(bench, BENCH_METRICS, fmt, percent))
        if bench.get("task_sets_differ"):
            text += ("\n\nnote: the models ran different task sets; their overall B-S "
                     "numbers are not comparable")
        blocks.append(text)
    return "\n\n".join(blocks) or "compare: no UniSAFE or Uni-SafeBench records"
