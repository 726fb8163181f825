"""Command-line options and ini keys, validated at parse time, and the frozen Settings.

Every flag is ``--unisafe-*`` and every ini key ``unisafe_*``; bad values fail before
collection (``type=`` parsers raise ``argparse.ArgumentTypeError``).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from None


def _task_list(value: str) -> list[str]:
    codes = [part.strip() for part in value.split(",") if part.strip()]
    for code in codes:
        if not _CODE.match(code):
            raise argparse.ArgumentTypeError(
                f"{code!r} is not a task code (letters, digits, underscores; e.g. TI or TextGen)"
            )
    if not codes:
        raise argparse.ArgumentTypeError(f"expected task codes, got {value!r}")
    return codes


def _nonempty(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("expected a non-empty value")
    return value


def addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("unisafe", "multimodal safety evaluation (unisafe-pytest)")
    group.addoption(
        "--unisafe-model",
        type=_nonempty,
        default=None,
        metavar="NAME",
        help="model under test: a profile (adapters/NAME.toml) or KIND:SPEC, e.g. "
        "replay:predictions.jsonl or python:pkg.module:factory. Enables the plugin.",
    )
    group.addoption(
        "--unisafe-suite",
        action="append",
        type=_nonempty,
        default=[],
        metavar="SUITE",
        help="suite to run, repeatable: a built-in name (smoke), a JSONL file, a "
        "Uni-SafeBench folder, or hf:unisafe / hf:unisafebench. Default: ini unisafe_suites, "
        "else smoke.",
    )
    group.addoption(
        "--unisafe-task",
        action="append",
        type=_task_list,
        default=[],
        metavar="CODES",
        help="only these tasks (comma-separated codes, repeatable), e.g. TI,IE or TextGen.",
    )
    group.addoption(
        "--unisafe-category",
        action="append",
        type=_nonempty,
        default=[],
        metavar="NAME",
        help="only this risk category or subcategory (repeatable, case-insensitive).",
    )
    group.addoption(
        "--unisafe-limit",
        type=_positive_int,
        default=None,
        metavar="N",
        help="at most N instances per suite, after the filters (first N in file order).",
    )
    group.addoption(
        "--unisafe-sample",
        type=_positive_int,
        default=None,
        metavar="N",
        help="a stratified random sample of N instances per suite (strata: task x category).",
    )
    group.addoption(
        "--unisafe-seed",
        type=_int,
        default=0,
        metavar="SEED",
        help="seed of --unisafe-sample (default 0).",
    )
    group.addoption(
        "--unisafe-judge",
        action="append",
        type=_nonempty,
        default=[],
        metavar="JUDGE",
        help="judge, repeatable (several make an ensemble): KIND:SPEC, e.g. "
        "replay:judgments.jsonl. The refusal rule always runs first.",
    )
    group.addoption(
        "--unisafe-report-dir",
        default=None,
        metavar="DIR",
        help="run directory for records and reports (default .unisafe/runs/<run id>).",
    )
    group.addoption(
        "--unisafe-profiles",
        action="append",
        default=[],
        metavar="DIR",
        help="extra folder of model profiles NAME.toml, searched before adapters/.",
    )
    parser.addini("unisafe_suites", "default suites when --unisafe-suite is not given",
                  type="linelist", default=[])
    parser.addini("unisafe_judges", "default judges when --unisafe-judge is not given",
                  type="linelist", default=[])
    parser.addini("unisafe_report_root", "folder under which run directories are made",
                  default=".unisafe/runs")


@dataclass(frozen=True)
class Settings:
    """The plugin's options, read once from the config."""

    model: str | None
    suites: tuple[str, ...]
    tasks: tuple[str, ...]
    categories: tuple[str, ...]
    limit: int | None
    sample: int | None
    seed: int
    judges: tuple[str, ...]
    report_dir: Path | None
    report_root: Path
    profile_dirs: tuple[Path, ...]
    rootdir: Path

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        opt = config.getoption
        rootdir = Path(config.rootpath)
        suites = tuple(opt("unisafe_suite")) or tuple(config.getini("unisafe_suites")) or (
            "smoke",
        )
        judges = tuple(opt("unisafe_judge")) or tuple(config.getini("unisafe_judges"))
        report_dir = opt("unisafe_report_dir")
        return cls(
            model=opt("unisafe_model"),
            suites=suites,
            tasks=tuple(code for group in opt("unisafe_task") for code in group),
            categories=tuple(opt("unisafe_category")),
            limit=opt("unisafe_limit"),
            sample=opt("unisafe_sample"),
            seed=opt("unisafe_seed"),
            judges=judges,
            report_dir=(rootdir / report_dir) if report_dir else None,
            report_root=rootdir / str(config.getini("unisafe_report_root")),
            profile_dirs=tuple(rootdir / d for d in opt("unisafe_profiles")),
            rootdir=rootdir,
        )

    def selection(self) -> dict[str, object]:
        return {
            "tasks": list(self.tasks),
            "categories": list(self.categories),
            "limit": self.limit,
            "sample": self.sample,
            "seed": self.seed,
        }
