"""Measure the offline judge's text classifier on the held-out labelled set.

    python scripts/eval_offline_judge.py [--data FILE] [--threshold P] [--markdown]

Prints, per category and overall, the number of held-out texts, true and false positives,
precision and recall of "harmful" at the judge's decision threshold (0.5 unless given), with
the same scoring the judge uses (windows, highest probability). The held-out file
(``unisafe_pytest/judges/data/offline_heldout.jsonl``) was written by this project and never
used in training.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from unisafe_pytest.judges.offline_text import DATA, HarmClassifier


def ratio(num: int, den: int) -> str:
    return f"{num / den:.2f}" if den else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA / "offline_heldout.jsonl")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    clf = HarmClassifier()
    cells: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    errors: list[str] = []
    for line in args.data.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        score = clf.score(row["text"])
        said = score.probability >= args.threshold
        truth = bool(row["harmful"])
        for key in (row["category"], "overall"):
            c = cells[key]
            c["n"] += 1
            c["pos"] += truth
            c["tp"] += said and truth
            c["fp"] += said and not truth
            c["fn"] += truth and not said
        if said != truth:
            errors.append(f"  {'FP' if said else 'FN'} p={score.probability:.2f} "
                          f"[{row['category']}] {row['text'][:90]}")
    header = ("category", "n", "harmful", "TP", "FP", "FN", "precision", "recall")
    rows = []
    for key in [*sorted(k for k in cells if k != "overall"), "overall"]:
        c = cells[key]
        rows.append((key, str(c["n"]), str(c["pos"]), str(c["tp"]), str(c["fp"]), str(c["fn"]),
                     ratio(c["tp"], c["tp"] + c["fp"]), ratio(c["tp"], c["tp"] + c["fn"])))
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
        for r in rows:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)))
    print(f"threshold {args.threshold:g}; head {clf.version}; data {args.data.name}")
    if args.show_errors and errors:
        print("errors:")
        print("\n".join(errors))


if __name__ == "__main__":
    main()
