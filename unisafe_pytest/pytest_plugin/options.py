"""Command-line options and ini keys, validated at parse time, and the frozen RunConfig.

Every flag is ``--unisafe-*`` and every ini key ``unisafe_*``; bad values fail before
collection (``type=`` parsers raise ``argparse.ArgumentTypeError``).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from unisafe_pytest.runtime.modes import CACHE_MODES, DEFAULT_CACHE_MODE

if TYPE_CHECKING:
    from unisafe_pytest.suites.shards import Shard

_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def _nonnegative_int(value: str) -> int:
    number = _int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value!r}")
    return number


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from None


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0 or number == float("inf"):  # also rejects nan
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds >= 0, got {value!r} (e.g. 300; 0 turns retries off)")
    return number


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


def _renamed_sample(value: str) -> int:
    """The old spelling of --unisafe-subset, too close to --unisafe-samples: an error."""
    raise argparse.ArgumentTypeError(
        f"--unisafe-sample={value} is now --unisafe-subset={value} (a stratified subset of "
        f"instances per suite); for {value} generations per instance use "
        f"--unisafe-samples={value}")


def _shard(value: str) -> Shard:
    from unisafe_pytest.suites.shards import parse_shard

    return parse_shard(value)


def _max_asr(value: str) -> dict[str, float]:
    from unisafe_pytest.metrics.gates import parse_max_asr

    return parse_max_asr(value)


def _baseline(value: str) -> dict[str, object]:
    from unisafe_pytest.metrics.gates import parse_baseline

    return parse_baseline(value)


def _allowance(value: str) -> float:
    from unisafe_pytest.metrics.gates import parse_allowance

    return parse_allowance(value)


def _add_report_options(group: pytest.OptionGroup) -> None:
    """Gates, shards, samples, JUnit strictness and the HTML report (issue 6)."""
    group.addoption(
        "--unisafe-max-asr",
        type=_max_asr,
        default=None,
        metavar="RATE|TASK=RATE,...",
        help="gate: fail the run when the unsafe rate's 95%% Wilson lower bound is above "
        "RATE (overall) or above a task's RATE, e.g. 0.2 or TI=0.1,TT=0.3.",
    )
    group.addoption(
        "--unisafe-baseline",
        type=_baseline,
        default=None,
        metavar="FILE",
        help="gate: a previous run's summary.json (or run directory); fail when a rate's "
        "lower bound is above the baseline rate + --unisafe-allowed-regression.",
    )
    group.addoption(
        "--unisafe-allowed-regression",
        type=_allowance,
        default=0.0,
        metavar="RATE",
        help="allowed increase over --unisafe-baseline (default 0).",
    )
    group.addoption(
        "--unisafe-gate-only",
        action="store_true",
        default=False,
        help="unsafe verdicts still fail their tests, but the exit status is decided by "
        "the gates alone (model/judge errors and other failing tests still give 1).",
    )
    group.addoption(
        "--unisafe-shard",
        type=_shard,
        default=None,
        metavar="I/N",
        help="run shard I of N (1-based; deterministic, by a stable hash of "
        "suite/task/id); join the run directories with 'unisafe merge'.",
    )
    group.addoption(
        "--unisafe-samples",
        type=_positive_int,
        default=1,
        metavar="N",
        help="generations per instance (default 1), reduced by --unisafe-reducer.",
    )
    group.addoption(
        "--unisafe-reducer",
        choices=("mean", "any", "majority"),
        default="mean",
        help="how an instance's samples decide its outcome (default mean).",
    )
    group.addoption(
        "--unisafe-junit-strict",
        action="store_true",
        default=False,
        help="write no testcase properties to JUnit XML (for strict xunit2 consumers such "
        "as Jenkins' xunit plugin).",
    )
    group.addoption(
        "--unisafe-html",
        choices=("on", "off"),
        default="on",
        help="write report.html in the run directory (default on).",
    )


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
        "--unisafe-subset",
        type=_positive_int,
        default=None,
        metavar="N",
        help="a stratified random subset of N instances per suite (strata: task x category); "
        "not --unisafe-samples, the generations per instance.",
    )
    group.addoption(
        "--unisafe-sample",
        type=_renamed_sample,
        default=None,
        help=argparse.SUPPRESS,
    )
    group.addoption(
        "--unisafe-seed",
        type=_int,
        default=0,
        metavar="SEED",
        help="seed of --unisafe-subset (default 0).",
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
        type=_nonempty,
        default=[],
        metavar="DIR",
        help="extra folder of model profiles NAME.toml, searched before adapters/.",
    )
    _add_report_options(group)
    group.addoption(
        "--unisafe-cache",
        choices=CACHE_MODES,
        default=DEFAULT_CACHE_MODE,
        help="cache of model outputs and verdicts (default read-write; replay-only makes a "
        "miss an error, for hermetic CI). Reruns reuse it: finished work is not redone.",
    )
    group.addoption(
        "--unisafe-cache-dir",
        default=None,
        metavar="DIR",
        help="cache folder (default .unisafe/cache).",
    )
    group.addoption(
        "--unisafe-concurrency",
        type=_positive_int,
        default=8,
        metavar="C",
        help="calls in flight at most, across all xdist workers together (default 8); a 429 "
        "halves it for a while.",
    )
    group.addoption(
        "--unisafe-prefetch",
        type=_nonnegative_int,
        default=None,
        metavar="W",
        help="upcoming instances whose calls may start ahead, per process (default 2 x C; "
        "0 turns prefetching off).",
    )
    group.addoption(
        "--unisafe-retry-budget",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="seconds an instance may spend waiting between retries, over all its calls "
        "(model, judges, samples; default 300; 0 = no retries). Once spent, the next "
        "transport failure, 429 or 5xx is final; a longer Retry-After fails at once.",
    )
    group.addoption(
        "--unisafe-max-calls",
        type=_nonnegative_int,
        default=None,
        metavar="N",
        help="refuse to start when the run needs more than N model + judge calls (after "
        "cache hits).",
    )
    parser.addini("unisafe_suites", "default suites when --unisafe-suite is not given",
                  type="linelist", default=[])
    parser.addini("unisafe_judges", "default judges when --unisafe-judge is not given",
                  type="linelist", default=[])
    parser.addini("unisafe_report_root", "folder under which run directories are made",
                  default=".unisafe/runs")


@dataclass(frozen=True)
class RunConfig:
    """The run configuration: the plugin's options and ini keys, parsed once (``RunConfig.of``)."""

    model: str | None
    suites: tuple[str, ...]
    tasks: tuple[str, ...]
    categories: tuple[str, ...]
    limit: int | None
    subset: int | None
    seed: int
    judges: tuple[str, ...]
    report_dir: Path | None
    report_root: Path
    profile_dirs: tuple[Path, ...]
    rootdir: Path
    cache_mode: str = "read-write"
    cache_dir: Path | None = None
    concurrency: int = 8
    prefetch: int | None = None
    retry_budget: float = 300.0
    max_calls: int | None = None
    max_asr: dict[str, float] | None = None
    baseline: dict[str, Any] | None = None
    allowed_regression: float = 0.0
    gate_only: bool = False
    shard: Shard | None = None
    samples: int = 1
    reducer: str = "mean"
    junit_strict: bool = False
    html: bool = True

    @classmethod
    def of(cls, config: pytest.Config) -> RunConfig:
        """The run's settings: parsed on the first call, then the same object."""
        settings = config.stash.get(_SETTINGS_KEY, None)
        if settings is None:
            settings = config.stash[_SETTINGS_KEY] = cls.from_config(config)
        return settings

    @classmethod
    def from_config(cls, config: pytest.Config) -> RunConfig:
        opt = config.getoption
        rootdir = Path(config.rootpath)
        # a suite named twice (addopts and the command line) runs once: its instances would
        # otherwise be paid for and counted twice
        suites = tuple(dict.fromkeys(opt("unisafe_suite"))) or tuple(
            dict.fromkeys(config.getini("unisafe_suites"))) or ("smoke",)
        judges = tuple(opt("unisafe_judge")) or tuple(config.getini("unisafe_judges"))
        report_dir = opt("unisafe_report_dir")
        return cls(
            model=opt("unisafe_model"),
            suites=suites,
            tasks=tuple(code for group in opt("unisafe_task") for code in group),
            categories=tuple(opt("unisafe_category")),
            limit=opt("unisafe_limit"),
            subset=opt("unisafe_subset"),
            seed=opt("unisafe_seed"),
            judges=judges,
            report_dir=(rootdir / report_dir) if report_dir else None,
            report_root=rootdir / str(config.getini("unisafe_report_root")),
            profile_dirs=tuple(rootdir / d for d in opt("unisafe_profiles")),
            rootdir=rootdir,
            cache_mode=opt("unisafe_cache"),
            cache_dir=rootdir / (opt("unisafe_cache_dir") or ".unisafe/cache"),
            concurrency=opt("unisafe_concurrency"),
            prefetch=opt("unisafe_prefetch"),
            retry_budget=opt("unisafe_retry_budget"),
            max_calls=opt("unisafe_max_calls"),
            max_asr=opt("unisafe_max_asr"),
            baseline=opt("unisafe_baseline"),
            allowed_regression=opt("unisafe_allowed_regression"),
            gate_only=opt("unisafe_gate_only"),
            shard=opt("unisafe_shard"),
            samples=opt("unisafe_samples"),
            reducer=opt("unisafe_reducer"),
            junit_strict=opt("unisafe_junit_strict"),
            html=opt("unisafe_html") == "on",
        )

    def problems(self) -> list[str]:
        """Values argparse cannot check (they depend on the rootdir): each a usage error."""
        found: list[str] = []
        if self.gate_only and not self.max_asr and self.baseline is None:
            found.append("--unisafe-gate-only needs a gate: add --unisafe-max-asr=RATE or "
                         "--unisafe-baseline=FILE (without one, every unsafe run would exit 0)")
        for folder in self.profile_dirs:
            if not folder.is_dir():
                found.append(f"--unisafe-profiles: the folder {folder} does not exist (a "
                             "relative path starts at the rootdir)")
        return found

    def selection(self) -> dict[str, object]:
        return {
            "tasks": list(self.tasks),
            "categories": list(self.categories),
            "limit": self.limit,
            "subset": self.subset,
            "seed": self.seed,
            "shard": str(self.shard) if self.shard else None,
            "samples": self.samples,
            "reducer": self.reducer,
        }


_SETTINGS_KEY = pytest.StashKey[RunConfig]()
