"""Each process's role under pytest-xdist: controller (or a plain run) or worker.

The one module that knows how xdist tells a worker apart (``config.workerinput``) and the
one place that reads xdist internals: :func:`upcoming_indices` peeks at the worker's queue.
"""

from __future__ import annotations

from typing import Any

import pytest

DIST_KEY = "unisafe_dist"
"""workerinput key: the controller's ``--dist`` (a worker's own option reads ``no``)."""


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
    ``torun``) without changing it: xdist has no public way to see what a worker runs next.
    An xdist that no longer has them gives None, which falls back to prefetching in
    collection order.

    Under ``--dist worksteal`` only the first half of the queue is given. The controller
    steals at most half of a worker's pending items (the running one included), from the
    end, so the items given here stay here and their calls are not made again by the worker
    that stole them (short of a steal racing with reports still on their way: a few items).
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
        upcoming = ([first] if isinstance(first, int) else []) + indices
        if worker_input(config).get(DIST_KEY) == "worksteal":
            del upcoming[len(upcoming) // 2:]
        return upcoming
    return None
