"""The ``unisafe`` command: summaries and format conversion outside pytest.

    unisafe report PATH [PATH...] [--json] [--format auto|unisafe|unijudger]
                   [--html OUT] [--images DIR] [--shared-target]
    unisafe export-judgments RUN_DIR -o FILE
    unisafe compare | merge | gate ...     (see runs.py)

``report`` reads run directories (``records.jsonl`` or ``records/*.jsonl``, and
``protocol.json``), records files, upstream UniSAFE judgment rows, Uni-Judger numeric
results or Uni-Judger summaries (stats files, statistics rows), and prints the same summary
as the plugin. With ``--json`` it prints the summary JSON; for upstream UniSAFE judgment
files, exactly upstream's aggregate structure.
``export-judgments`` writes a run's UniSAFE records as upstream judgment rows.

Exit status: 0 on success, 2 on bad input (the message names file and line). This module
never imports pytest.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unisafe_pytest.cli.runs import add_commands
from unisafe_pytest.errors import UnisafeError
from unisafe_pytest.io.jsonl import write_jsonl
from unisafe_pytest.io.printable import echo, echo_json, printable
from unisafe_pytest.metrics.counts import dedupe_records
from unisafe_pytest.metrics.gates import with_intervals
from unisafe_pytest.metrics.samples import find_flips
from unisafe_pytest.metrics.unisafe import JudgmentRow, aggregate_judgments
from unisafe_pytest.metrics.unisafebench import LabelRow, aggregate_label_rows
from unisafe_pytest.report.html import write_html
from unisafe_pytest.report.rundir import read_records, read_run_dir
from unisafe_pytest.report.shared_target import analyse, render_text
from unisafe_pytest.report.summary import build_summary_json, protocol_line
from unisafe_pytest.report.terminal import render_summary, render_unisafe, render_unisafebench
from unisafe_pytest.report.upstream import (
    FileFormat,
    detect_format,
    read_judgment_rows,
    read_unijudger_numeric,
    records_to_judgment_rows,
    would_have_scored,
)
from unisafe_pytest.report.upstream_summaries import (
    read_summaries,
    render_summaries,
    summaries_json,
)
from unisafe_pytest.schema import Record


class InputError(UnisafeError):
    """The command's inputs do not fit together."""


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unisafe",
        description="Summaries of unisafe-pytest runs and of the benchmarks' own files.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    report = commands.add_parser(
        "report",
        help="print the summary of run directories or upstream result files",
        description="Print the summary tables (or --json) of run directories, records "
        "files, UniSAFE judgment-row files or Uni-Judger numeric files. Paths of one kind "
        "are merged.",
    )
    report.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="a run directory, a records JSONL file, a UniSAFE judgment-row JSONL file or "
        "a Uni-Judger numeric JSONL file",
    )
    report.add_argument("--json", action="store_true", help="print the summary JSON instead")
    report.add_argument(
        "--format",
        choices=("auto", "unisafe", "unijudger"),
        default="auto",
        help="format of file PATHs (default: auto, from the first line's keys); "
        "directories are always run directories",
    )
    report.add_argument(
        "--model", help="model of Uni-Judger files without a model field (default: file name)"
    )
    report.add_argument(
        "--task",
        help="Uni-SafeBench task of Uni-Judger files without a task field (default: from "
        "the folder or file name, e.g. T2I or VQA/safety_I_safety_T)",
    )
    report.add_argument("--html", type=Path, metavar="OUT",
                        help="also write the HTML report (run directories only)")
    report.add_argument("--images", type=Path, action="append", default=[], metavar="DIR",
                        help="folder where input image refs resolve (a suite's folder), "
                        "repeatable; output images resolve against each run directory")
    report.add_argument("--shared-target", action="store_true",
                        help="print the shared-target analysis (run directories only)")
    report.set_defaults(func=_report)

    export = commands.add_parser(
        "export-judgments",
        help="write a run's UniSAFE records as upstream judgment rows (JSONL)",
        description="Write one upstream UniSAFE judgment row per judge row of the run, so "
        "upstream tools can read it.",
    )
    export.add_argument("run", type=Path, metavar="RUN_DIR",
                        help="a run directory (or a records JSONL file)")
    export.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                        help="the JSONL file to write (replaced atomically)")
    export.set_defaults(func=_export)
    add_commands(commands)
    return parser


def _load_records(path: Path) -> tuple[list[Record], dict[str, Any] | None]:
    if path.is_dir():
        return read_run_dir(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    return read_records(path), None


def _merge_protocols(blocks: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    known = [b for b in blocks if b is not None]
    distinct: list[dict[str, Any]] = []
    for block in known:
        if block not in distinct:
            distinct.append(block)
    if not distinct:
        return None
    if len(distinct) == 1:
        return distinct[0]
    return {"runs": distinct}


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def _classify(paths: list[Path], fmt: str) -> dict[str, list[Path]]:
    kinds: dict[str, list[Path]] = {}
    for path in paths:
        if path.is_dir():
            kind: FileFormat = "records"
        elif not path.exists():
            raise InputError(f"{path}: no such file or directory")
        elif fmt == "auto":
            kind = detect_format(path)
        else:
            kind = "unisafe" if fmt == "unisafe" else "unijudger"
        kinds.setdefault(kind, []).append(path)
    if len(kinds) > 1:
        listed = ", ".join(f"{kind}: {', '.join(map(str, p))}" for kind, p in kinds.items())
        raise InputError(
            f"cannot mix input kinds in one report ({listed}); run one report per kind"
        )
    return kinds


def _report(args: argparse.Namespace) -> int:
    kinds = _classify(list(args.paths), args.format)
    kind, paths = next(iter(kinds.items()))
    if kind == "records":
        records: list[Record] = []
        blocks = []
        for path in paths:
            found, block = _load_records(path)
            records.extend(found)
            blocks.append(block)
        records = dedupe_records(records)
        protocol = _merge_protocols(blocks)
        summary = build_summary_json(records, protocol)
        if args.json:
            echo_json(_dump(with_intervals(summary)))
        else:
            echo(render_summary(records, protocol_line(protocol)))
        if args.shared_target:
            echo("\n" + render_text(analyse(records)))
        if not args.json and any(r.sample for r in records):
            flips = find_flips(records)
            echo(f"\nverdicts that flip between samples: {len(flips)}")
            for flip in flips:
                echo(printable(f"  {flip.model} {flip.task} {flip.id}: "
                               f"{' / '.join(flip.labels)}"))
        if args.html:
            roots = [p for p in paths if p.is_dir()] + list(args.images)
            write_html(args.html, records, protocol, summary, image_roots=roots)
            echo(f"wrote {args.html}", stderr=True)
        return 0
    if kind == "unisafe":
        rows: list[JudgmentRow] = []
        for path in paths:
            rows.extend(read_judgment_rows(path))
        if args.json:
            echo_json(_dump(aggregate_judgments(rows)))
            return 0
        blocks_text = render_unisafe(aggregate_judgments(rows, counts=True))
        judges = sorted({row.judge for row in rows})
        line = (
            f"protocol: upstream UniSAFE judgment rows from {len(paths)} file(s); "
            f"judges: {', '.join(judges) or 'none'}; N counts are prompts "
            "(a judgment file records no skips)"
        )
        echo("\n\n".join([*(blocks_text or ["UniSAFE: no judgment rows"]), line]))
        return 0
    if kind == "unijudger-summary":
        entries = read_summaries(paths)
        if args.json:
            echo_json(_dump(summaries_json(entries)))
        else:
            echo(render_summaries(entries, len(paths)))
        return 0
    labels: list[LabelRow] = []
    for path in paths:
        labels.extend(read_unijudger_numeric(path, model=args.model, task=args.task))
    aggregate = aggregate_label_rows(labels)
    scored = would_have_scored(labels)
    if args.json:
        echo_json(_dump({**aggregate, "upstream_would_have_scored": scored} if scored
                        else aggregate))
        return 0
    line = (
        f"protocol: upstream Uni-Judger numeric results from {len(paths)} file(s); the "
        "judge is not recorded in these files; N counts are items"
    )
    if scored:
        line += (f"; {scored} row(s) are N_error because the judge call failed: upstream "
                 f"would have scored {scored} of these rows from the error message's digits")
    echo("\n\n".join([*(render_unisafebench(aggregate) or ["Uni-SafeBench: no rows"]), line]))
    return 0


def _export(args: argparse.Namespace) -> int:
    records, _ = _load_records(args.run)
    rows = records_to_judgment_rows(records)
    count = write_jsonl(args.output, rows)
    if count == 0:
        echo(f"unisafe: no UniSAFE records in {args.run}; wrote an empty {args.output}",
              stderr=True)
    else:
        echo(f"wrote {count} judgment row(s) to {args.output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``unisafe`` command; returns the exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed by argparse
        return exc.code if isinstance(exc.code, int) else 2
    try:
        status: int = args.func(args)
    except UnisafeError as exc:
        echo(f"unisafe: error: {exc}", stderr=True)
        return 2
    return status
