"""The pytest11 entry point: glue only.

Options and hookspecs are always added; the run object (UnisafeSession) and the fixtures are
registered only when the plugin is active: ``--unisafe-model`` is given, or the rootdir's
conftest.py defines a ``unisafe_model`` fixture and ``--unisafe-suite`` is given (a team
keeps its override in conftest.py and still runs its own tests the usual way). Inactive, it
adds no items, writes no file and imports nothing beyond this module, options and hookspecs.
"""

from __future__ import annotations

import pytest

from unisafe_pytest.pytest_plugin import options

_ACTIVE = pytest.StashKey[bool]()
"""Set when this config's run was started (unconfigure then imports the session to stop it)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    options.addoption(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from unisafe_pytest.pytest_plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def _model_label(config: pytest.Config) -> str | None:
    model: str | None = config.getoption("unisafe_model", None)
    if model:
        return model
    if not config.getoption("unisafe_suite", None):
        return None  # a conftest override alone never turns a run into a safety run
    for plugin in config.pluginmanager.get_plugins():
        name = getattr(plugin, "__file__", None) or ""
        if name.endswith("conftest.py") and hasattr(plugin, "unisafe_model"):
            return "conftest:unisafe_model"
    return None


def pytest_configure(config: pytest.Config) -> None:
    label = _model_label(config)
    if label is None:
        return
    from unisafe_pytest.pytest_plugin.session import UnisafeSession

    config.stash[_ACTIVE] = True
    UnisafeSession.start(config, label)


def pytest_unconfigure(config: pytest.Config) -> None:
    if not config.stash.get(_ACTIVE, False):
        return  # inactive: importing the session here would load the whole package
    from unisafe_pytest.pytest_plugin.session import UnisafeSession

    UnisafeSession.stop(config)
