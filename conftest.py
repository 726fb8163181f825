"""This repository's own pytest configuration (nothing a user of the plugin needs).

Being at the rootdir, it puts the checkout on sys.path so tests can share helpers
(``tests.conftest``) whatever the command that started them. Tests marked ``slow`` (servers,
subprocess runs under xdist) are deselected unless ``--run-slow`` is given; CI gives it.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the tests marked slow (end-to-end; CI runs them).")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]
