"""The fixtures ``unisafe_model`` and ``unisafe_judge``.

Both are session-scoped and may be overridden in the rootdir's conftest.py (an in-process
model, a house judge). Instance items live outside any test folder, so only fixtures from
the rootdir conftest.py or from plugins reach them. (An instance item's setup, which uses
them, is ``execution.Execution.run``.)
"""

from __future__ import annotations

import inspect
import os
import types

import pytest

from unisafe_pytest.adapters.base import Adapter
from unisafe_pytest.judges.panel import JudgePanel
from unisafe_pytest.pytest_plugin.components import Components

FIXTURE_NAMES = ("unisafe_model", "unisafe_judge")


def scope_problem(fixturedef: pytest.FixtureDef[object]) -> str | None:
    """Why an override of ``unisafe_model`` or ``unisafe_judge`` cannot be used: it is not
    session-scoped. The run builds one adapter, judge panel, cache, limiter and prefetch
    pipeline per process from them; a new object per instance would rebuild all of these
    for every instance (its factory run again, the prefetched calls thrown away)."""
    if fixturedef.argname not in FIXTURE_NAMES or fixturedef.scope == "session":
        return None
    func = inspect.unwrap(fixturedef.func)
    code = getattr(func, "__code__", None)
    where = ""
    if code is not None:
        where = f" ({os.path.basename(code.co_filename)}:{code.co_firstlineno})"
    return (f"unisafe: the {fixturedef.argname} fixture{where} is {fixturedef.scope}-scoped; "
            "the run uses one model and one judge panel for the whole session: declare it "
            f"with @pytest.fixture(scope=\"session\")")


def fixtures_plugin(components: Components) -> types.ModuleType:
    """The plugin's fixtures for one run, as a module object to register as a plugin.

    The fixtures close over the run's components instead of taking ``request``: pytest
    builds a fixture definition for ``request`` each time a fixture asks for it, even a
    cached session-scoped one, i.e. once per instance. (Methods of a plugin object would
    do, but pytest deprecates session-scoped fixtures that are instance methods.)
    """

    @pytest.fixture(scope="session")
    def unisafe_model() -> Adapter:
        """The model under test, built from ``--unisafe-model``. Override it in conftest.py."""
        return components.adapter()

    @pytest.fixture(scope="session")
    def unisafe_judge() -> JudgePanel:
        """The judges (behind the refusal rule), built from ``--unisafe-judge``."""
        return components.panel()

    module = types.ModuleType(f"{__name__}.run", __doc__)
    module.unisafe_model = unisafe_model  # type: ignore[attr-defined]
    module.unisafe_judge = unisafe_judge  # type: ignore[attr-defined]
    return module
