"""The ``unisafe`` commands that work on several run directories: compare, merge, gate.

    unisafe compare RUN [RUN...] [--format text|markdown|json] [--percent] [--chart OUT.svg]
    unisafe merge RUN [RUN...] -o OUT
    unisafe gate RUN [--max-asr RATE|TASK=RATE,...] [--baseline FILE] [--allowed-regression R]

``merge`` joins run directories (e.g. the shards of one run, ``--unisafe-shard i/n``) into
one: records are deduplicated (the last run given wins), output images copied, protocol
blocks checked for compatibility (a warning names every field that differs), and the merged
run gets its ``protocol.json``, ``summary.json``, ``judgments.jsonl`` and ``report.html``.
``gate`` judges the CI gates on a run directory (exit 1 when one fails), e.g. after a merge.
This module never imports pytest.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path
from typing import Any

from unisafe_pytest.errors import UnisafeError
from unisafe_pytest.io.files import ensure_dir, write_atomic
from unisafe_pytest.io.jsonl import write_jsonl
from unisafe_pytest.io.printable import echo, echo_json
from unisafe_pytest.metrics import gates
from unisafe_pytest.metrics.counts import dedupe_records
from unisafe_pytest.report import rundir
from unisafe_pytest.report.chart import svg_chart
from unisafe_pytest.report.compare import compare, render
from unisafe_pytest.report.html import write_html
from unisafe_pytest.report.recorder import record_line, write_json
from unisafe_pytest.report.rundir import read_run_dir
from unisafe_pytest.report.summary import build_summary_json
from unisafe_pytest.report.upstream import records_to_judgment_rows
from unisafe_pytest.schema import Record

COMPATIBLE_KEYS = ("model", "adapter", "refusal_policy", "mt_protocol", "it_prompt_policy",
                   "unisafe_pytest_version")
"""Protocol fields that must agree between merged runs (besides judges, suites, selection)."""


def add_commands(commands: Any) -> None:
    """Register the subcommands on the ``unisafe`` parser's subparsers."""
    cmp = commands.add_parser(
        "compare", help="compare runs in the papers' main-table layout",
        description="One row per model: ASR / ARR / RR per task (UniSAFE), C-U / C-R / I-U / "
        "B-S per task (Uni-SafeBench), and optionally an SVG chart of per-task rates.")
    cmp.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run directories")
    cmp.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    cmp.add_argument("--percent", action="store_true", help="rates x 100, as the papers print")
    cmp.add_argument("--chart", type=Path, metavar="OUT.svg",
                     help="also write an SVG bar chart of per-task rates per model")
    cmp.set_defaults(func=_compare)

    merge = commands.add_parser(
        "merge", help="join run directories (e.g. shards) into one",
        description="Join run directories into one: records deduplicated (the last run "
        "wins), protocol blocks checked compatible, summary and report.html rewritten.")
    merge.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run directories")
    merge.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                       help="the merged run directory (created; must not hold records yet)")
    merge.set_defaults(func=_merge)

    gate = commands.add_parser(
        "gate", help="judge CI gates on a run directory (exit 1 when one fails)",
        description="The gates of --unisafe-max-asr / --unisafe-baseline, on a finished run.")
    gate.add_argument("run", type=Path, metavar="RUN", help="a run directory")
    gate.add_argument("--max-asr", type=gates.parse_max_asr, metavar="RATE|TASK=RATE,...")
    gate.add_argument("--baseline", type=gates.parse_baseline, metavar="FILE")
    gate.add_argument("--allowed-regression", type=gates.parse_allowance, default=0.0,
                      metavar="RATE")
    gate.set_defaults(func=_gate)


def _summary(run: Path) -> tuple[list[Record], dict[str, Any] | None, dict[str, Any]]:
    if not run.is_dir():
        raise UnisafeError(f"{run}: not a run directory")
    records, protocol = read_run_dir(run)
    return records, protocol, build_summary_json(records, protocol)


def _compare(args: argparse.Namespace) -> int:
    entries = []
    for run in args.runs:
        _, protocol, summary = _summary(run)
        entries.append((str((protocol or {}).get("run_id") or run.name), summary))
    comparison = compare(entries)
    if args.format == "json":
        import json

        echo_json(json.dumps(comparison, indent=2, ensure_ascii=False))
    else:
        echo(render(comparison, args.format, percent=args.percent))
    if args.chart:
        write_atomic(args.chart, svg_chart(comparison))
        echo(f"wrote {args.chart}", stderr=True)
    return 0


def _judges(protocol: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((str(j.get("id")), str(j.get("prompt_hash")), str(j.get("parser_version")))
                  for j in protocol.get("judges") or [] if isinstance(j, dict))


def _suite_files(protocol: dict[str, Any]) -> dict[str, Any]:
    return {name: block.get("files") for name, block in (protocol.get("suites") or {}).items()
            if isinstance(block, dict)}


def _selection(protocol: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in (protocol.get("selection") or {}).items() if k != "shard"}


def protocol_differences(blocks: list[dict[str, Any]]) -> list[str]:
    """The protocol fields that differ between runs (empty when they can be merged as one)."""
    if len(blocks) < 2:
        return []
    first, diffs = blocks[0], []
    for key in COMPATIBLE_KEYS:
        if any(b.get(key) != first.get(key) for b in blocks[1:]):
            diffs.append(key)
    for name, view in (("judges", _judges), ("suite files", _suite_files),
                       ("selection", _selection)):
        if any(view(b) != view(first) for b in blocks[1:]):
            diffs.append(name)
    return diffs


def merged_protocol(blocks: list[dict[str, Any]], records: list[Record]) -> dict[str, Any]:
    """The first run's block, with the merged run id, the sources and summed suite counts."""
    merged = dict(blocks[0]) if blocks else {}
    ids = [str(b.get("run_id")) for b in blocks]
    merged["run_id"] = "merged-" + hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12]
    merged["merged_from"] = ids
    merged["tasks"] = sorted({r.task for r in records})
    suites: dict[str, Any] = {}
    for block in blocks:
        for name, suite in (block.get("suites") or {}).items():
            if name in suites and isinstance(suite, dict):
                total = int(suites[name].get("selected") or 0) + int(suite.get("selected") or 0)
                suites[name] = {**suites[name], "selected": total}
            else:
                suites[name] = suite
    merged["suites"] = suites
    selection = dict(merged.get("selection") or {})
    selection["shard"] = None
    selection["shards"] = [(b.get("selection") or {}).get("shard") for b in blocks]
    merged["selection"] = selection
    return merged


def _merge(args: argparse.Namespace) -> int:
    out: Path = args.output
    if (out / rundir.RECORDS_FILE).exists() or (out / rundir.WORKER_RECORDS_DIR).exists():
        raise UnisafeError(f"{out}: already holds records; merge into a new directory")
    records: list[Record] = []
    blocks: list[dict[str, Any]] = []
    for run in args.runs:
        if not run.is_dir():
            raise UnisafeError(f"{run}: not a run directory")
        found, protocol = read_run_dir(run)
        if protocol is None:
            echo(f"unisafe merge: warning: {run} has no protocol.json", stderr=True)
        else:
            blocks.append(protocol)
        records += found
        if rundir.outputs_dir(run).is_dir():
            shutil.copytree(rundir.outputs_dir(run), rundir.outputs_dir(out), dirs_exist_ok=True)
    merged = dedupe_records(records)
    if len(merged) < len(records):
        echo(f"unisafe merge: warning: {len(records) - len(merged)} record(s) appear in "
              "several runs; the last run given wins", stderr=True)
    for field in protocol_differences(blocks):
        echo(f"unisafe merge: warning: the runs differ in '{field}'; their numbers may not "
              "be comparable as one run", stderr=True)
    merged.sort(key=lambda r: (r.suite, r.task, r.id, r.sample, r.model))
    protocol = merged_protocol(blocks, merged) if blocks else None
    ensure_dir(out)
    write_atomic(out / rundir.RECORDS_FILE, "".join(record_line(r) + "\n" for r in merged))
    summary = build_summary_json(merged, protocol)
    if protocol is not None:
        write_json(out / rundir.PROTOCOL_FILE, protocol)
    write_json(out / rundir.SUMMARY_FILE, summary)
    write_jsonl(out / rundir.JUDGMENTS_FILE, records_to_judgment_rows(merged))
    write_html(out / rundir.HTML_FILE, merged, protocol, summary)
    echo(f"merged {len(args.runs)} run(s), {len(merged)} record(s) into {out}")
    return 0


def _gate(args: argparse.Namespace) -> int:
    _, _, summary = _summary(args.run)
    results = gates.evaluate(summary, max_asr=args.max_asr, baseline=args.baseline,
                             allowance=args.allowed_regression)
    if not results:
        raise UnisafeError("no gate given: pass --max-asr and/or --baseline")
    echo(gates.render(results))
    return 0 if all(r.passed for r in results) else 1
