"""This repository's own pytest configuration (nothing a user of the plugin needs).

Being at the rootdir, it puts the checkout on sys.path so tests can share helpers
(``tests.conftest``) whatever the command that started them. Tests marked ``slow`` (servers,
subprocess runs under xdist) are deselected unless ``--run-slow`` is given; CI gives it.

A safety run started in the checkout (``pytest --unisafe-model=smollm2 --unisafe-suite=smoke``,
the README's first command) runs the suites alone: this project's own tests are left out when
a model is given and no path was named (pytest took the paths from ``testpaths``).
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the tests marked slow (end-to-end; CI runs them).")


def pytest_configure(config: pytest.Config) -> None:
    if (config.args_source is pytest.Config.ArgsSource.TESTPATHS
            and config.getoption("unisafe_model", default=None)):
        # instead of testpaths' tests/: a folder with no test modules, so only the suites run
        config.args[:] = [str(config.rootpath / "instances")]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]
