"""The built-in implementations of the factory hooks, run last so a team's own win."""

from __future__ import annotations

from pathlib import Path

import pytest

from unisafe_pytest.adapters.base import Adapter
from unisafe_pytest.errors import SuiteError
from unisafe_pytest.judges.base import Judge
from unisafe_pytest.pytest_plugin.options import RunConfig
from unisafe_pytest.registry import builtin
from unisafe_pytest.schema.tasks import TaskRegistry
from unisafe_pytest.suites import HF_SPECS, LoadedSuite, builtin_suite_names, load_suite

MISSING_SUITES = pytest.StashKey[dict[str, Path]]()
"""Suite specs the built-in loader found no file, folder or built-in for: spec -> the path it
looked at. The controller makes them one usage error before collection (``session.py``)."""


def suite_base_dir(spec: str, config: pytest.Config) -> Path:
    """Where a relative suite path starts: the folder pytest was run from for
    ``--unisafe-suite`` (as a shell user expects), the rootdir for the ini key
    ``unisafe_suites`` and suites added by hooks (as the ini file's author expects)."""
    if spec not in HF_SPECS and spec in (config.getoption("unisafe_suite", None) or []):
        return Path(config.invocation_params.dir)
    return Path(config.rootpath)


@pytest.hookimpl(trylast=True)
def pytest_unisafe_load_suite(
    spec: str, registry: TaskRegistry, config: pytest.Config
) -> LoadedSuite | None:
    base_dir = suite_base_dir(spec, config)
    try:
        return load_suite(spec, registry, base_dir=base_dir)
    except SuiteError:
        path = base_dir / spec
        if (not spec.startswith("hf:") and spec not in builtin_suite_names()
                and not path.exists()):
            config.stash.setdefault(MISSING_SUITES, {})[spec] = path
        raise


def missing_suites(config: pytest.Config) -> dict[str, Path]:
    """The suites the built-in loader found nothing for (spec -> resolved path)."""
    found: dict[str, Path] = config.stash.get(MISSING_SUITES, {})
    return dict(found)


@pytest.hookimpl(trylast=True)
def pytest_unisafe_make_adapter(spec: str, config: pytest.Config) -> Adapter | None:
    settings = RunConfig.of(config)
    return builtin.make_adapter(spec, base_dir=settings.rootdir,
                                extra_profile_dirs=settings.profile_dirs)


@pytest.hookimpl(trylast=True)
def pytest_unisafe_make_judge(spec: str, config: pytest.Config) -> Judge | None:
    return builtin.make_judge(spec, base_dir=Path(config.rootpath))
