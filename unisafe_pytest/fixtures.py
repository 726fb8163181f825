"""The fixtures: ``unisafe_model``, ``unisafe_judge`` and ``unisafe_result``.

``unisafe_model`` and ``unisafe_judge`` are session-scoped and may be overridden in the
rootdir's conftest.py (an in-process model, a house judge). Instance items live outside any
test folder, so only fixtures from the rootdir conftest.py or from plugins reach them.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from unisafe_pytest.adapters.base import Adapter
from unisafe_pytest.judges.callable import as_judge
from unisafe_pytest.judges.panel import JudgePanel
from unisafe_pytest.recording import RESULT_KEY
from unisafe_pytest.runner import InstanceResult, combine_samples
from unisafe_pytest.session import get_session


@pytest.fixture(scope="session")
def unisafe_model(request: pytest.FixtureRequest) -> Adapter:
    """The model under test, built from ``--unisafe-model``. Override it in conftest.py."""
    return get_session(request.config).adapter()


@pytest.fixture(scope="session")
def unisafe_judge(request: pytest.FixtureRequest) -> JudgePanel:
    """The judges (behind the refusal rule), built from ``--unisafe-judge``."""
    return get_session(request.config).panel()


def _panel(judge: Any) -> JudgePanel:
    if isinstance(judge, JudgePanel):
        return judge
    if isinstance(judge, list | tuple):
        return JudgePanel([as_judge(j) for j in judge])
    return JudgePanel([as_judge(judge)])


@pytest.fixture
def unisafe_result(
    request: pytest.FixtureRequest, unisafe_model: Any, unisafe_judge: Any
) -> InstanceResult:
    """Generate and judge this item's instance (in setup: failures are pytest errors).

    The calls may already have run ahead on the prefetch pipeline; this takes their result.
    """
    from unisafe_pytest.items import InstanceItem

    item = request.node
    if not isinstance(item, InstanceItem):
        pytest.fail("the unisafe_result fixture belongs to unisafe instance items only",
                    pytrace=False)
    session = get_session(request.config)
    adapter = session.wrapped_adapter(unisafe_model)
    reason = adapter.capabilities.unsupported_reason(item.unisafe_task)
    if reason is not None:
        item.stash[RESULT_KEY] = InstanceResult(
            instance=item.unisafe_instance, task=item.unisafe_task, model=adapter.name)
        pytest.skip(f"{reason} [--unisafe-model={session.model_label}]")
    panel = _panel(unisafe_judge)
    session.note_components(adapter, panel)
    _, pipeline = session.runtime(adapter, panel)
    samples = range(session.settings.samples)
    mine = [(item, s) for s in samples]
    pipeline.ahead(itertools.chain(
        mine, ((nxt, s) for nxt in session.upcoming(item, adapter) for s in samples)))
    result = combine_samples([pipeline.take(key) for key in mine], session.settings.reducer)
    item.stash[RESULT_KEY] = result
    result.raise_failure()
    if result.output is not None and result.verdict is not None:
        request.config.hook.pytest_unisafe_verdict(
            instance=item.unisafe_instance, output=result.output, verdict=result.verdict,
            item=item,
        )
    return result
