"""The fixtures ``unisafe_model`` and ``unisafe_judge``, and an instance item's setup.

``unisafe_model`` and ``unisafe_judge`` are session-scoped and may be overridden in the
rootdir's conftest.py (an in-process model, a house judge). Instance items live outside any
test folder, so only fixtures from the rootdir conftest.py or from plugins reach them.
"""

from __future__ import annotations

import itertools
import types
from typing import Any

import pytest

from unisafe_pytest.adapters.base import Adapter
from unisafe_pytest.judges.callable import as_judge
from unisafe_pytest.judges.panel import JudgePanel
from unisafe_pytest.pytest_plugin.records import RESULT_KEY
from unisafe_pytest.pytest_plugin.session import UnisafeSession, get_session
from unisafe_pytest.runner import InstanceResult, combine_samples


def fixtures_plugin(session: UnisafeSession) -> types.ModuleType:
    """The plugin's fixtures for one run, as a module object to register as a plugin.

    The fixtures close over the run instead of taking ``request``: pytest builds a fixture
    definition for ``request`` each time a fixture asks for it, even a cached session-scoped
    one, i.e. once per instance. (Methods of a plugin object would do, but pytest deprecates
    session-scoped fixtures that are instance methods.)
    """

    @pytest.fixture(scope="session")
    def unisafe_model() -> Adapter:
        """The model under test, built from ``--unisafe-model``. Override it in conftest.py."""
        return session.adapter()

    @pytest.fixture(scope="session")
    def unisafe_judge() -> JudgePanel:
        """The judges (behind the refusal rule), built from ``--unisafe-judge``."""
        return session.panel()

    module = types.ModuleType(f"{__name__}.run", __doc__)
    module.unisafe_model = unisafe_model  # type: ignore[attr-defined]
    module.unisafe_judge = unisafe_judge  # type: ignore[attr-defined]
    return module


def _panel(judge: Any) -> JudgePanel:
    if isinstance(judge, JudgePanel):
        return judge
    if isinstance(judge, list | tuple):
        return JudgePanel([as_judge(j) for j in judge])
    return JudgePanel([as_judge(judge)])


def run_instance(item: Any, model: Any, judge: Any) -> InstanceResult:
    """Generate and judge ``item``'s instance, in its setup (failures are pytest errors).

    The calls may already have run ahead on the prefetch pipeline; this takes their result.
    The result is stashed on the item for its test body and its record.
    """
    session = get_session(item.config)
    adapter = session.wrapped_adapter(model)
    reason = adapter.capabilities.unsupported_reason(item.unisafe_task)
    if reason is not None:
        item.stash[RESULT_KEY] = InstanceResult(
            instance=item.unisafe_instance, task=item.unisafe_task, model=adapter.name)
        pytest.skip(f"{reason} [--unisafe-model={session.model_label}]")
    panel = _panel(judge)
    session.note_components(adapter, panel)
    run, pipeline = session.runtime(adapter, panel)
    samples = range(session.settings.samples)
    mine = [(item, s) for s in samples]
    pipeline.ahead(itertools.chain(
        mine, ((nxt, s) for nxt in session.upcoming(item, adapter) for s in samples)))
    result = combine_samples([pipeline.take(key) for key in mine], session.settings.reducer)
    run.finished(item.unisafe_instance)
    item.stash[RESULT_KEY] = result
    result.raise_failure()
    if result.output is not None and result.verdict is not None:
        item.config.hook.pytest_unisafe_verdict(
            instance=item.unisafe_instance, output=result.output, verdict=result.verdict,
            item=item,
        )
    return result
