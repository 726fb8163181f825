"""pytest-xdist wiring: the run id and run directory travel to workers via workerinput.

Registered only when xdist is installed (its hooks would be unknown otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from unisafe_pytest.pytest_plugin.session import UnisafeSession


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def worker_input(config: pytest.Config) -> dict[str, Any]:
    data: dict[str, Any] = getattr(config, "workerinput", {})
    return data


def worker_id(config: pytest.Config) -> str:
    return str(worker_input(config).get("workerid", "main"))


def upcoming_indices(config: pytest.Config) -> list[int] | None:
    """Indices (into session.items) this xdist worker has queued, or None outside xdist.

    Reads the worker's queue (pytest-xdist's WorkerInteractor: ``nextitem_index`` and
    ``torun``) without changing it; an xdist that no longer has them gives None, which
    falls back to prefetching in collection order.
    """
    if not is_worker(config):
        return None
    for plugin in config.pluginmanager.get_plugins():
        if type(plugin).__name__ != "WorkerInteractor":
            continue
        queue = getattr(plugin, "torun", None)
        lock = getattr(queue, "lock", None)
        if lock is None:
            return None
        with lock() as queued:
            indices = [i for i in queued if isinstance(i, int)]
        first = getattr(plugin, "nextitem_index", None)
        return ([first] if isinstance(first, int) else []) + indices
    return None


class XdistHooks:
    """Controller-side xdist hooks: the run id and folder go to the workers; the workers'
    collection tells the run what it set out to run; a crashed worker's instance gets its
    record (xdist's public ``pytest_handlecrashitem``)."""

    def __init__(self, session: UnisafeSession):
        self.session = session

    @pytest.hookimpl
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["unisafe_run_id"] = self.session.run_id
        node.workerinput["unisafe_run_dir"] = str(self.session.run_dir)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if not self.session.to_run:  # every worker collects the same items
            self.session.note_to_run(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport,
                               sched: Any) -> None:
        message = str(report.longrepr).strip().splitlines()[0] if report.longrepr else ""
        self.session.record_crash(crashitem, message)
