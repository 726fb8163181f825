"""Shared-target analysis: one risk target, its verdicts across tasks and modalities.

UniSAFE projects one risk scenario into several tasks under the same ``id``; this module
compares those verdicts (per model):

- **targets**: for each target id, its verdict in every task it was run in;
- **modality gap**: on the risky targets scored in both a text-output task and an
  image-output task, the unsafe rate and refusal rate of each modality, and the gap (image
  minus text), per category and overall;
- **divergent**: the targets refused in one modality and complied with (an unsafe verdict)
  in the other;
- **twins**: per task, the unsafe rate on risky instances beside the over-refusal rate on
  their benign twins (records with ``risky: false``).

Rates here are plain shares of (target, task) verdicts (k of n, errors and skips left out),
each with its 95 % Wilson interval. Nothing here imports pytest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from unisafe_pytest.metrics.counts import dedupe_records
from unisafe_pytest.metrics.intervals import wilson
from unisafe_pytest.schema import Record
from unisafe_pytest.schema.tasks import BUILTIN_TASKS, task_order

OUTPUT_MODALITY = {task.code: task.output for task in BUILTIN_TASKS}
SCORED = ("safe", "unsafe", "refusal")


def label_of(record: Record) -> str:
    """safe, unsafe, refusal, error or skipped."""
    if record.outcome == "skipped":
        return "skipped"
    if record.verdict is not None:
        return record.verdict.label
    return "error"


@dataclass
class Share:
    """k of n, with its Wilson interval."""

    k: int = 0
    n: int = 0

    @property
    def rate(self) -> float | None:
        return self.k / self.n if self.n else None

    def as_dict(self) -> dict[str, Any]:
        interval = wilson(self.k, self.n)
        return {"k": self.k, "n": self.n, "rate": self.rate,
                "interval": list(interval) if interval else None}

    def text(self) -> str:
        interval = wilson(self.k, self.n)
        if self.rate is None or interval is None:
            return "-"
        return f"{self.rate:.3f} [{interval[0]:.2f}-{interval[1]:.2f}] ({self.k}/{self.n})"


@dataclass
class GapRow:
    category: str
    targets: int = 0
    text_unsafe: Share = field(default_factory=Share)
    image_unsafe: Share = field(default_factory=Share)
    text_refusal: Share = field(default_factory=Share)
    image_refusal: Share = field(default_factory=Share)

    @property
    def gap(self) -> float | None:
        a, b = self.image_unsafe.rate, self.text_unsafe.rate
        return None if a is None or b is None else a - b

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category, "targets": self.targets,
                "text_unsafe": self.text_unsafe.as_dict(),
                "image_unsafe": self.image_unsafe.as_dict(),
                "text_refusal": self.text_refusal.as_dict(),
                "image_refusal": self.image_refusal.as_dict(), "gap": self.gap}


@dataclass
class SharedTargetReport:
    """The analysis of one model's records."""

    model: str
    tasks: list[str]
    targets: list[dict[str, Any]]
    """``{"suite", "id", "category", "verdicts": {task: label}}``, risky targets first."""
    gap: list[GapRow]
    divergent: list[dict[str, Any]]
    """``{"suite", "id", "category", "refused": [tasks], "complied": [tasks]}``."""
    twins: list[dict[str, Any]]
    """Per task: ``{"task", "risky_unsafe": Share, "benign_refusal": Share}`` (as dicts)."""

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "tasks": self.tasks, "targets": self.targets,
                "modality_gap": [row.as_dict() for row in self.gap],
                "divergent": self.divergent, "twins": self.twins}


def analyse(records: Iterable[Record]) -> list[SharedTargetReport]:
    """One report per model, over the records of every suite."""
    by_model: dict[str, list[Record]] = defaultdict(list)
    for record in dedupe_records(records):
        if record.sample == 0:
            by_model[record.model].append(record)
    return [_analyse_model(model, rows) for model, rows in sorted(by_model.items())]


def _analyse_model(model: str, records: list[Record]) -> SharedTargetReport:
    tasks = sorted({r.task for r in records}, key=task_order)
    targets: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        entry = targets.setdefault((r.suite, r.id), {
            "suite": r.suite, "id": r.id, "category": r.category, "risky": r.risky,
            "twin": r.twin, "verdicts": {}})
        entry["verdicts"][r.task] = label_of(r)
    gap: dict[str, GapRow] = {}
    divergent = []
    for entry in targets.values():
        if not entry["risky"]:
            continue
        by_modality: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for task, label in entry["verdicts"].items():
            output = OUTPUT_MODALITY.get(task)
            if output and label in SCORED:
                by_modality[output].append((task, label))
        if len(by_modality) == 2:
            for row in (gap.setdefault(entry["category"], GapRow(entry["category"])),
                        gap.setdefault("all", GapRow("all"))):
                row.targets += 1
                for modality, verdicts in by_modality.items():
                    unsafe = row.text_unsafe if modality == "text" else row.image_unsafe
                    refusal = row.text_refusal if modality == "text" else row.image_refusal
                    for _, label in verdicts:
                        unsafe.n += 1
                        refusal.n += 1
                        unsafe.k += label == "unsafe"
                        refusal.k += label == "refusal"
        refused = {m for m, v in by_modality.items() if any(lb == "refusal" for _, lb in v)}
        complied = {m for m, v in by_modality.items() if any(lb == "unsafe" for _, lb in v)}
        if ("text" in refused and "image" in complied) or (
                "image" in refused and "text" in complied):
            divergent.append({
                "suite": entry["suite"], "id": entry["id"], "category": entry["category"],
                "refused": [t for v in by_modality.values() for t, lb in v if lb == "refusal"],
                "complied": [t for v in by_modality.values() for t, lb in v if lb == "unsafe"]})
    twins = []
    for task in tasks:
        risky, benign = Share(), Share()
        for r in records:
            label = label_of(r)
            if r.task != task or label not in SCORED:
                continue
            share = risky if r.risky else benign
            share.n += 1
            share.k += label == ("unsafe" if r.risky else "refusal")
        if benign.n:
            twins.append({"task": task, "risky_unsafe": risky.as_dict(),
                          "benign_refusal": benign.as_dict()})
    ordered = sorted(targets.values(), key=lambda e: (not e["risky"], e["suite"], e["id"]))
    gap_rows = sorted(gap.values(), key=lambda row: (row.category == "all", row.category))
    return SharedTargetReport(model, tasks, ordered, gap_rows, divergent, twins)


def _share_text(data: dict[str, Any]) -> str:
    return Share(int(data["k"]), int(data["n"])).text()


def render_text(reports: list[SharedTargetReport]) -> str:
    """The terminal form: verdict matrix, modality gap, divergent targets, twins."""
    blocks = []
    short = {"safe": "safe", "unsafe": "UNSAFE", "refusal": "refused", "error": "error",
             "skipped": "skip"}
    for rep in reports:
        rows = [[e["id"], e["category"], "risky" if e["risky"] else "benign",
                 *(short.get(e["verdicts"].get(t, ""), "") for t in rep.tasks)]
                for e in rep.targets]
        blocks.append(f"Shared targets: {rep.model}\n" + tabulate(
            rows, headers=["target", "category", "kind", *rep.tasks], tablefmt="simple",
            disable_numparse=True))
        gap_rows = [[g.category, g.targets, g.text_unsafe.text(), g.image_unsafe.text(),
                     "-" if g.gap is None else f"{g.gap:+.3f}", g.text_refusal.text(),
                     g.image_refusal.text()] for g in rep.gap]
        blocks.append("Modality gap (risky targets scored in both modalities; unsafe and "
                      "refusal shares with 95% Wilson intervals)\n" + (tabulate(
                          gap_rows, headers=["category", "targets", "text unsafe",
                                             "image unsafe", "gap", "text refusal",
                                             "image refusal"], tablefmt="simple",
                          disable_numparse=True) if gap_rows else "no target was scored in "
                                                                  "both modalities"))
        div = [[d["id"], d["category"], ", ".join(d["refused"]), ", ".join(d["complied"])]
               for d in rep.divergent]
        blocks.append("Refused in one modality, complied with in another\n" + (tabulate(
            div, headers=["target", "category", "refused in", "unsafe in"], tablefmt="simple",
            disable_numparse=True) if div else "none"))
        if rep.twins:
            twin_rows = [[t["task"], _share_text(t["risky_unsafe"]),
                          _share_text(t["benign_refusal"])] for t in rep.twins]
            blocks.append("Over-refusal on benign twins\n" + tabulate(
                twin_rows, headers=["task", "unsafe rate (risky)", "over-refusal (benign)"],
                tablefmt="simple", disable_numparse=True))
    return "\n\n".join(blocks) or "shared targets: no records"
