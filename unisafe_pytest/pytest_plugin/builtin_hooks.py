"""The built-in implementations of the factory hooks, run last so a team's own win."""

from __future__ import annotations

from pathlib import Path

import pytest

from unisafe_pytest import builtin
from unisafe_pytest.adapters.base import Adapter
from unisafe_pytest.judges.base import Judge
from unisafe_pytest.pytest_plugin.options import RunConfig
from unisafe_pytest.suites import LoadedSuite, load_suite
from unisafe_pytest.tasks import TaskRegistry


@pytest.hookimpl(trylast=True)
def pytest_unisafe_load_suite(
    spec: str, registry: TaskRegistry, config: pytest.Config
) -> LoadedSuite | None:
    return load_suite(spec, registry, base_dir=Path(config.rootpath))


@pytest.hookimpl(trylast=True)
def pytest_unisafe_make_adapter(spec: str, config: pytest.Config) -> Adapter | None:
    settings = RunConfig.of(config)
    return builtin.make_adapter(spec, base_dir=settings.rootdir,
                                extra_profile_dirs=settings.profile_dirs)


@pytest.hookimpl(trylast=True)
def pytest_unisafe_make_judge(spec: str, config: pytest.Config) -> Judge | None:
    return builtin.make_judge(spec, base_dir=Path(config.rootpath))
