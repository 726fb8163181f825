"""The HTML report's first screen: what a reader needs before any table.

1. the judge's kind as a banner (:func:`judge_banner`): screening judges (not a paper
   protocol), the paper's judges, or no protocol block;
2. the verdict (:func:`verdict_line`): the gates' pass/fail when gates were set, else the
   records by verdict, unsafe and errors first;
3. the headline rates (:func:`headline`) per model and benchmark, each with its 95 % Wilson
   interval and its denominator (UniSAFE: ASR and RR over risky instances, and beside them
   the benign controls' false-flag and over-refusal rates when the suite has benign twins;
   Uni-SafeBench: B-S and C-U), and a bar chart of the headline rate per task with its
   interval as a whisker, in plain HTML/CSS so it fits any width.

Everything from data goes through :func:`escape`. Nothing
here imports pytest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape as html_escape
from typing import Any

from unisafe_pytest.io.printable import printable
from unisafe_pytest.metrics.benign import BENIGN_KEY
from unisafe_pytest.metrics.gates import rate_interval
from unisafe_pytest.schema.tasks import task_order

VERDICT_ORDER = ("unsafe", "error", "refusal", "safe", "skipped")
"""How instances and counts are ordered: what needs a look first, what did not run last."""


def escape(text: str) -> str:
    return html_escape(printable(text, multiline=True))


def verdict_rank(label: str) -> int:
    """Sort key of an instance's verdict (unknown labels before ``skipped``)."""
    if label in VERDICT_ORDER:
        return VERDICT_ORDER.index(label)
    return len(VERDICT_ORDER) - 1


def judge_banner(protocol: Mapping[str, Any] | None) -> str:
    """The banner naming the judges' kind (first thing on the page)."""
    if not protocol:
        return ("<div id='judge-banner' class='banner warn'><strong>No protocol block.</strong>"
                " The judges are unknown: these numbers are not comparable to other runs."
                "</div>")
    judges = [str(j.get("id") or j.get("model") or "?") for j in protocol.get("judges") or []
              if isinstance(j, dict) and j.get("kind") != "rule"]
    named = escape(", ".join(judges) or "the refusal rule alone")
    if protocol.get("screening_only"):
        return ("<div id='judge-banner' class='banner warn'><strong>Screening judge, not a "
                "paper protocol.</strong> Verdicts come from " + named + "; use them to find "
                "instances worth a look, not to compare with the UniSAFE or Uni-SafeBench "
                "papers.</div>")
    if protocol.get("single_judge") and len(judges) <= 1:
        return ("<div id='judge-banner' class='banner note'><strong>Single judge.</strong> "
                f"Verdicts come from {named}; the UniSAFE paper uses three.</div>")
    return (f"<div id='judge-banner' class='banner ok'><strong>Paper protocol judges.</strong>"
            f" Verdicts come from {named}.</div>")


def verdict_line(counts: Mapping[str, int], gates: Sequence[Mapping[str, Any]]) -> str:
    """The run's verdict: gates when set, else the records by verdict."""
    badges = " ".join(f"<span class='badge {escape(label)}'>{counts[label]} {escape(label)}"
                      "</span>" for label in sorted(counts, key=verdict_rank))
    badges = badges or "no records"
    if gates:
        failed = sum(1 for g in gates if not g.get("passed"))
        state = ("FAILED", "bad") if failed else ("PASSED", "ok")
        noun = "gate" if len(gates) == 1 else "gates"
        what = (f"{failed} of {len(gates)} {noun} failed" if failed
                else f"{len(gates)} of {len(gates)} {noun} passed")
        return (f"<div id='verdict' class='verdict {state[1]}'><strong>Gates {state[0]}</strong>"
                f" ({what}) &middot; {badges}</div>")
    return (f"<div id='verdict' class='verdict'><strong>No gates set</strong> &middot; "
            f"{badges}</div>")


def _ci_text(value: float | None, n: int) -> str:
    if value is None:
        return "<span class='rate'>-</span>"
    ci = rate_interval(value, n)
    bounds = f" <span class='ci'>[{ci[0]:.3f}, {ci[1]:.3f}]</span>" if ci else ""
    return f"<span class='rate'>{value:.3f}</span>{bounds}"


def _stat(name: str, value: float | None, n: int, note: str) -> str:
    return (f"<div class='stat'><div class='name'>{escape(name)}</div>{_ci_text(value, n)}"
            f"<div class='muted'>{escape(note)}</div></div>")


def _benign_stats(node: Mapping[str, Any]) -> list[str]:
    block = node.get(BENIGN_KEY)
    if not isinstance(block, dict):
        return []
    n = int(block["n_scored"])
    return [_stat("false-flag (benign judged unsafe)", block["false_flag_rate"], n,
                  f"{block['n_false_flag']} of {n} scored benign controls"),
            _stat("over-refusal (benign refused)", block["over_refusal_rate"], n,
                  f"{block['n_over_refusal']} of {n} scored benign controls")]


def _chart(bars: list[tuple[str, float | None, int]], title: str) -> str:
    """Horizontal bars (0..1) with the 95 % interval as a whisker; fits any width."""
    rows = []
    for label, value, n in bars:
        if value is None:
            rows.append(f"<div class='bar-row'><span class='bar-label'>{escape(label)}</span>"
                        "<span class='bar-track'></span><span class='bar-value'>-</span></div>")
            continue
        ci = rate_interval(value, n)
        whisker = ""
        if ci:
            whisker = (f"<span class='whisker' style='left:{ci[0] * 100:.1f}%;"
                       f"width:{max(0.5, (ci[1] - ci[0]) * 100):.1f}%'></span>")
        rows.append(f"<div class='bar-row'><span class='bar-label'>{escape(label)}</span>"
                    f"<span class='bar-track'><span class='bar' style='width:{value * 100:.1f}%'>"
                    f"</span>{whisker}</span><span class='bar-value'>{value:.3f}"
                    f" <span class='ci'>n={n}</span></span></div>")
    return (f"<figure class='chart' role='img' aria-label='{escape(title)}'><figcaption>"
            f"{escape(title)}</figcaption>{''.join(rows)}</figure>")


def _unisafe_card(model: str, node: Mapping[str, Any]) -> str:
    overall = node["overall"]
    n = int(overall.get("count") or 0)
    split = isinstance(overall.get(BENIGN_KEY), dict)
    over = "risky instances" if split else "instances"
    stats = [_stat("ASR (attack success)", overall.get("asr"), n,
                   f"macro over tasks; {n} scored {over}"),
             _stat("RR (refusal rate)", overall.get("refusal_rate"), n,
                   f"{n} scored {over}"),
             *_benign_stats(overall)]
    tasks = sorted(node["tasks"], key=task_order)
    bars = [(t, node["tasks"][t]["overall"].get("asr"),
             int(node["tasks"][t]["overall"].get("count") or 0)) for t in tasks]
    chart = _chart(bars, f"ASR per task ({over}), 95% interval as a whisker")
    return (f"<div class='card'><h3>UniSAFE: {escape(model)}</h3><div class='stats'>"
            f"{''.join(stats)}</div>{chart}</div>")


def _bench_card(model: str, node: Mapping[str, Any]) -> str:
    overall = node["overall"]
    n = int(overall.get("n_valid") or 0)
    stats = [_stat("B-S (both safe)", overall.get("b_s"), n, f"pooled; {n} valid items"),
             _stat("C-U (content unsafe)", overall.get("c_u"), n, f"{n} valid items"),
             *_benign_stats(overall)]
    bars = [(t, tn.get("b_s"), int(tn.get("n_valid") or 0)) for t, tn in node["tasks"].items()]
    chart = _chart(bars, "B-S per task, 95% interval as a whisker")
    return (f"<div class='card'><h3>Uni-SafeBench: {escape(model)}</h3><div class='stats'>"
            f"{''.join(stats)}</div>{chart}</div>")


def headline(summary: Mapping[str, Any]) -> str:
    """The headline cards (rates with intervals and a chart per model and benchmark)."""
    cards = [_unisafe_card(m, n) for m, n in (summary.get("unisafe") or {}).get(
        "models", {}).items()]
    cards += [_bench_card(m, n) for m, n in (summary.get("unisafebench") or {}).get(
        "models", {}).items()]
    if not cards:
        return ""
    return f"<section id='headline'>{''.join(cards)}</section>"
