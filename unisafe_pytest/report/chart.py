"""A grouped bar chart of per-task rates per model, as a self-contained SVG written by hand.

One panel per benchmark: UniSAFE's ASR and Uni-SafeBench's B-S, one group of bars per task
(and the overall), one bar per model, with 95 % Wilson intervals as whiskers. Every label is
XML-escaped. Nothing here imports pytest.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
BAR = 14
GAP = 18
PLOT_H = 220
LEFT = 56
TOP = 34
PANEL_GAP = 70


def _panel(block: dict[str, Any], key: str, title: str, y0: float,
           width: float) -> list[str]:
    tasks = [*block["tasks"], "overall"]
    models = [row["model"] for row in block["rows"]]
    group_w = max(1, len(models)) * BAR + GAP
    parts = [f'<text x="{LEFT}" y="{y0 - 12}" class="title">{escape(title)}</text>']
    base = y0 + PLOT_H
    for tick in range(0, 11, 2):
        y = base - PLOT_H * tick / 10
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" '
                     'class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" '
                     f'text-anchor="end">{tick / 10:.1f}</text>')
    for t_index, task in enumerate(tasks):
        x0 = LEFT + 10 + t_index * group_w
        for m_index, row in enumerate(block["rows"]):
            cell = row["overall"] if task == "overall" else row["tasks"].get(task)
            value = cell.get(key) if cell else None
            if value is None:
                continue
            x = x0 + m_index * BAR
            h = PLOT_H * float(value)
            colour = PALETTE[m_index % len(PALETTE)]
            label = escape(f"{row['model']} {task}: {value:.3f} (N={cell['n']})")
            parts.append(f'<rect x="{x}" y="{base - h:.1f}" width="{BAR - 2}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{label}</title></rect>')
            interval = cell.get(f"{key}_ci")
            if interval:
                cx = x + (BAR - 2) / 2
                lo, hi = base - PLOT_H * interval[0], base - PLOT_H * interval[1]
                parts.append(f'<line x1="{cx}" y1="{lo:.1f}" x2="{cx}" y2="{hi:.1f}" '
                             'class="ci"/>')
        centre = x0 + len(models) * BAR / 2
        parts.append(f'<text x="{centre:.1f}" y="{base + 16}" class="tick" '
                     f'text-anchor="middle">{escape(task)}</text>')
    return parts


def svg_chart(comparison: dict[str, Any]) -> str:
    """The SVG document for a :func:`unisafe_pytest.report.compare.compare` result."""
    panels = [(comparison["unisafe"], "asr", "UniSAFE: attack success rate (ASR) per task"),
              (comparison["unisafebench"], "b_s", "Uni-SafeBench: both-safe rate (B-S) per task")]
    panels = [p for p in panels if p[0]["rows"]]
    models: list[str] = []
    for block, _, _ in panels:
        models += [row["model"] for row in block["rows"] if row["model"] not in models]
    widest = max([len(b["tasks"]) + 1 for b, _, _ in panels] or [1])
    count = max([len(b["rows"]) for b, _, _ in panels] or [1])
    width = max(480, LEFT + 20 + widest * (count * BAR + GAP))
    legend_h = 18 * len(models) + 10
    height = TOP + len(panels) * (PLOT_H + PANEL_GAP) + legend_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
        "<style>.title{font-size:14px;font-weight:bold}.tick{font-size:11px;fill:#333}"
        ".grid{stroke:#ddd;stroke-width:1}.ci{stroke:#222;stroke-width:1.5}"
        ".legend{font-size:12px}</style>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    y = TOP
    for block, key, title in panels:
        parts += _panel(block, key, title, y, width)
        y += PLOT_H + PANEL_GAP
    for index, model in enumerate(models):
        ly = y - PANEL_GAP / 2 + 18 * index
        parts.append(f'<rect x="{LEFT}" y="{ly}" width="12" height="12" '
                     f'fill="{PALETTE[index % len(PALETTE)]}"/>')
        parts.append(f'<text x="{LEFT + 18}" y="{ly + 10}" class="legend">'
                     f"{escape(model)}</text>")
    if not panels:
        parts.append(f'<text x="{LEFT}" y="{TOP}">no records</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
