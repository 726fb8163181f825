"""Measure the offline judge on the held-out set and on the smoke suite's echo baseline.

    python scripts/eval_offline_judge.py [--data FILE] [--markdown] [--show-errors]
                                         [--no-smoke] [--check-disjoint] [--head FILE]

Held-out set (default ``instances/offline-heldout/heldout.jsonl``; see its PROVENANCE.md):
texts written for this measurement and never used in training or in choosing the threshold.
Each text goes through the judge exactly as a TT output would (``OfflineJudge.judge``):
unsafe, safe, or uncertain (the band in which the judge says it cannot decide). Printed per
category and overall: n, harmful, TP, FP, FN, uncertain, precision, recall and false-positive
rate of "unsafe" on the texts the judge decided, then accuracy over all texts with uncertain
counted as wrong, per kind (harmful / hard negative / benign) and per language, and the time
per text. ``--check-disjoint`` stops when a held-out text, or a request text of the built-in
smoke suites, is also in the training set.

Other labelled files (``--data FILE``): JSON Lines, one answer a line. The answer is read
from ``text`` (or ``response``, ``answer``, ``output``); the label from ``harmful`` (0/1,
true/false) or ``label`` / ``unsafe`` (``unsafe``/``harmful``/1 against ``safe``/0);
``category``, ``kind``, ``lang`` are optional, and a ``request`` (or ``prompt``,
``instruction``) is given to the judge as the instance's instruction, as a run would. A line
that cannot be read stops the script naming the file and line. Printed twice: as a
measurement (uncertain apart, as above) and as the gate sees it: an uncertain verdict is a
JUDGE ERROR, so the test does not pass; there uncertain counts as flagged.

Smoke suite: the ``echo`` baseline's outputs (the request repeated; image tasks: rendered
into a PNG, read back by OCR) judged by the offline judge; prints how many risky instances and
benign twins were flagged unsafe, and how many were uncertain.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unisafe_pytest.adapters.base import GenerateContext
from unisafe_pytest.adapters.baselines import EchoAdapter
from unisafe_pytest.judges.offline import OfflineJudge
from unisafe_pytest.judges.offline_text import DATA, HEAD, HarmClassifier
from unisafe_pytest.schema import Instance, ModelOutput
from unisafe_pytest.schema.tasks import TaskRegistry
from unisafe_pytest.suites import load_suite

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from train_offline_judge import smoke_texts  # type: ignore[import-not-found]  # noqa: E402

HELDOUT = ROOT / "instances" / "offline-heldout" / "heldout.jsonl"
TASKS = TaskRegistry()


def ratio(num: int, den: int) -> str:
    return f"{num / den:.2f}" if den else "n/a"


def outcome(judge: OfflineJudge, instance: Instance, output: ModelOutput) -> str:
    row = judge.judge(instance, TASKS[instance.task], output)
    if row.error is not None:
        return "uncertain" if row.error.startswith("uncertain") else "error"
    if row.refusal:
        return "safe"
    return "unsafe" if row.judgment == 1 else "safe"


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], markdown: bool) -> None:
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


TEXT_KEYS = ("text", "response", "answer", "output")
REQUEST_KEYS = ("request", "prompt", "instruction")
UNSAFE_LABELS = {"1", "true", "unsafe", "harmful", "yes"}
SAFE_LABELS = {"0", "false", "safe", "harmless", "unharmful", "benign", "no"}
LABEL_KEYS = ("harmful", "label", "unsafe")


def label_of(value: Any) -> bool | None:
    """True (unsafe), False (safe) or None (not a label): booleans, the numbers 0 and 1
    (``1.0`` too), and the words of ``UNSAFE_LABELS`` / ``SAFE_LABELS``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value) if value in (0, 1) else None
    word = str(value).strip().lower()
    return True if word in UNSAFE_LABELS else False if word in SAFE_LABELS else None


def first(row: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((row[k] for k in keys if row.get(k) is not None), None)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Labelled answers of ``path`` as ``{text, harmful, category, kind, lang, request}``;
    a line that cannot be read stops the script naming the file and line (see the module
    docstring for the keys read)."""
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{where}: not JSON ({exc.msg}); one object a line") from None
        if not isinstance(row, dict):
            raise SystemExit(f"{where}: a JSON object is needed, got {type(row).__name__}")
        text = first(row, TEXT_KEYS)
        if not isinstance(text, str) or not text.strip():
            raise SystemExit(f"{where}: no answer text (keys {', '.join(TEXT_KEYS)}); "
                             f"got keys {sorted(row)}")
        labels = {k: label_of(row[k]) for k in LABEL_KEYS if row.get(k) is not None}
        unread = [k for k, v in labels.items() if v is None]
        if not labels or unread:
            shown = {k: row.get(k) for k in (unread or LABEL_KEYS)}
            raise SystemExit(f"{where}: label {shown} is neither unsafe "
                             f"({sorted(UNSAFE_LABELS)}) nor safe ({sorted(SAFE_LABELS)}); "
                             "set 'harmful' to 1 or 0")
        if len(set(labels.values())) > 1:
            raise SystemExit(f"{where}: the labels disagree ({labels}); keep one")
        value = next(iter(labels.values()))
        request = first(row, REQUEST_KEYS)
        rows.append({"text": text, "harmful": value,
                     "category": str(row.get("category") or "uncategorised"),
                     "kind": str(row.get("kind") or "?"), "lang": str(row.get("lang") or "en"),
                     "request": request if isinstance(request, str) else ""})
    if not rows:
        raise SystemExit(f"{path}: no labelled answers")
    return rows


def heldout(judge: OfflineJudge, path: Path, markdown: bool, show_errors: bool) -> None:
    rows = read_rows(path)
    cells: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    errors: list[str] = []
    warm = Instance(suite="heldout", id="x", task="TT", category="heldout")
    judge.judge(warm, TASKS["TT"], ModelOutput(text="warm-up text."))
    start = time.perf_counter()
    for row in rows:
        instance = Instance(suite="heldout", id="x", task="TT", category=row["category"],
                            instruction=row["request"])
        said = outcome(judge, instance, ModelOutput(text=row["text"]))
        truth = bool(row["harmful"])
        lang = "en" if row.get("lang", "en") == "en" else "non-en"
        for key in (row["category"], "overall", f"kind {row.get('kind', '?')}",
                    f"lang {lang}"):
            c = cells[key]
            c["n"] += 1
            c["pos"] += truth
            c["unc"] += said == "uncertain"
            c["gate_tp"] += said != "safe" and truth
            c["gate_fp"] += said != "safe" and not truth
            c["tp"] += said == "unsafe" and truth
            c["fp"] += said == "unsafe" and not truth
            c["fn"] += said == "safe" and truth
            c["tn"] += said == "safe" and not truth
        if said != ("unsafe" if truth else "safe"):
            errors.append(f"  {said:9} [{row['category']}|{row.get('kind')}|{row.get('lang')}] "
                          f"{row['text'][:100]}")
    per_text_ms = (time.perf_counter() - start) / len(rows) * 1000
    header = ("set", "n", "harmful", "TP", "FP", "FN", "uncertain", "precision", "recall",
              "FPR", "accuracy")
    out = []
    keys = sorted(k for k in cells if k != "overall" and not k.startswith(("kind", "lang")))
    for key in [*keys, "overall", *sorted(k for k in cells if k.startswith(("kind", "lang")))]:
        c = cells[key]
        neg_decided = c["fp"] + c["tn"]
        out.append((f"**{key}**" if key == "overall" and markdown else key, str(c["n"]),
                    str(c["pos"]), str(c["tp"]), str(c["fp"]), str(c["fn"]), str(c["unc"]),
                    ratio(c["tp"], c["tp"] + c["fp"]), ratio(c["tp"], c["tp"] + c["fn"]),
                    ratio(c["fp"], neg_decided), ratio(c["tp"] + c["tn"], c["n"])))
    table(header, out, markdown)
    c = cells["overall"]
    decided = c["n"] - c["unc"]
    print(f"\nheld-out {path.name}: {c['n']} texts; precision, recall and FPR over the "
          f"{decided} decided texts; accuracy over all {c['n']} (uncertain counts as wrong): "
          f"{ratio(c['tp'] + c['tn'], c['n'])}; accuracy over decided texts "
          f"{ratio(c['tp'] + c['tn'], decided)}; uncertain {c['unc']} "
          f"({ratio(c['unc'], c['n'])}); {per_text_ms:.1f} ms per text (whole judge)")
    flagged_pos, flagged_neg = c["gate_tp"], c["gate_fp"]
    negatives = c["n"] - c["pos"]
    print(f"as the gate sees it (uncertain or error is a JUDGE ERROR: the test does not pass): "
          f"accuracy {ratio(flagged_pos + negatives - flagged_neg, c['n'])}, recall "
          f"{ratio(flagged_pos, c['pos'])}, FPR {ratio(flagged_neg, negatives)}, "
          f"precision {ratio(flagged_pos, flagged_pos + flagged_neg)}")
    if show_errors and errors:
        print("errors:")
        print("\n".join(errors))


def smoke(judge: OfflineJudge) -> None:
    suite = load_suite("smoke", TASKS, base_dir=ROOT)
    echo = EchoAdapter()
    counts: dict[str, dict[str, int]] = {"risky": defaultdict(int), "benign": defaultdict(int)}
    with tempfile.TemporaryDirectory() as tmp:
        for instance in suite.instances:
            task = TASKS[instance.task]
            output = echo.generate(instance, task, GenerateContext(output_dir=Path(tmp)))
            kind = "risky" if instance.risky else "benign"
            counts[kind]["n"] += 1
            counts[kind][outcome(judge, instance, output)] += 1
    for kind, c in counts.items():
        print(f"smoke, echo, {kind:6}: unsafe {c['unsafe']}/{c['n']} ({ratio(c['unsafe'], c['n'])})"
              f", uncertain {c['uncertain']}, safe {c['safe']}, error {c['error']}")


def check_disjoint(path: Path) -> None:
    def norm(text: str) -> str:
        return re.sub(r"\W+", " ", text.lower()).strip()

    train = {norm(json.loads(line)["text"]) for line in
             (DATA / "offline_train.jsonl").read_text(encoding="utf-8").splitlines() if line}
    held = [row["text"] for row in read_rows(path)]
    both = [t for t in held if norm(t) in train]
    if both:
        raise SystemExit(f"{len(both)} held-out text(s) are in the training set: {both[:3]}")
    smoke = smoke_texts()
    echoed = [t for t in smoke if norm(t) in train]
    if echoed:
        raise SystemExit(f"{len(echoed)} smoke request text(s) are in the training set: "
                         f"{echoed[:3]}")
    print(f"disjoint: none of the {len(held)} held-out texts nor of the {len(smoke)} smoke "
          "request texts is in the training set")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HELDOUT)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--no-smoke", action="store_true")
    parser.add_argument("--check-disjoint", action="store_true")
    parser.add_argument("--head", type=Path, default=HEAD,
                        help="a head file to measure instead of the shipped one")
    args = parser.parse_args()
    if args.check_disjoint:
        check_disjoint(args.data)
    judge = OfflineJudge(classifier=HarmClassifier(args.head) if args.head != HEAD else None)
    clf = judge.classifier
    heldout(judge, args.data, args.markdown, args.show_errors)
    if not args.no_smoke:
        smoke(judge)
    info: dict[str, Any] = clf.head.get("train", {})
    print(f"head {clf.version} (threshold {clf.threshold:.3f}, uncertain band "
          f"[{clf.band[0]:.3f}, {clf.band[1]:.3f}); trained on {info.get('n')} texts; "
          f"5-fold CV {info.get('cross_validation')})")


if __name__ == "__main__":
    main()
