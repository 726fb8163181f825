"""The pytest11 entry point: glue only.

Options and hookspecs are always added; the run object (UnisafeSession) and the fixtures are
registered only when the plugin is active: ``--unisafe-model`` is given, or the rootdir's
conftest.py defines a ``unisafe_model`` fixture. Inactive, it adds no items, writes no
file and imports nothing beyond this module, options and hookspecs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import pytest

from unisafe_pytest.pytest_plugin import options

if TYPE_CHECKING:
    from unisafe_pytest.pytest_plugin.session import UnisafeSession

SESSION_KEY: pytest.StashKey[UnisafeSession] = pytest.StashKey()
_FIXTURES_NAME = "unisafe-fixtures"
_SESSION_NAME = "unisafe-session"
_XDIST_NAME = "unisafe-xdist"


def pytest_addoption(parser: pytest.Parser) -> None:
    options.addoption(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from unisafe_pytest.pytest_plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def _model_label(config: pytest.Config) -> str | None:
    model: str | None = config.getoption("unisafe_model", None)
    if model:
        return model
    for plugin in config.pluginmanager.get_plugins():
        name = getattr(plugin, "__file__", None) or ""
        if name.endswith("conftest.py") and hasattr(plugin, "unisafe_model"):
            return "conftest:unisafe_model"
    return None


def pytest_configure(config: pytest.Config) -> None:
    label = _model_label(config)
    if label is None:
        return
    # import_module, not "from unisafe_pytest import builtin_hooks": the latter returns a
    # stale package attribute when sys.modules was restored in between (pytester's inline runs).
    builtin_hooks = importlib.import_module("unisafe_pytest.pytest_plugin.builtin_hooks")
    from unisafe_pytest.pytest_plugin.fixtures import fixtures_plugin
    from unisafe_pytest.pytest_plugin.items import FIXED_MARKERS, register_markers
    from unisafe_pytest.pytest_plugin.session import UnisafeSession
    from unisafe_pytest.tasks import BUILTIN_TASKS

    session = UnisafeSession(config, label)
    config.stash[SESSION_KEY] = session
    session.sigterm.install()
    register_markers(config, [*FIXED_MARKERS,
                              *(f"unisafe_task_{task.code}" for task in BUILTIN_TASKS)])
    config.pluginmanager.register(builtin_hooks, "unisafe-builtin")
    config.pluginmanager.register(fixtures_plugin(session), _FIXTURES_NAME)
    config.pluginmanager.register(session, _SESSION_NAME)
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        from unisafe_pytest.pytest_plugin.distributed import XdistHooks

        config.pluginmanager.register(XdistHooks(session), _XDIST_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return
    session.sigterm.restore()
    for name in (_XDIST_NAME, _SESSION_NAME, _FIXTURES_NAME, "unisafe-builtin"):
        plugin = config.pluginmanager.get_plugin(name)
        if plugin is not None:
            config.pluginmanager.unregister(plugin)
    del config.stash[SESSION_KEY]
