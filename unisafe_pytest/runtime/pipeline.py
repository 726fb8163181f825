"""The prefetch pipeline: upcoming instances' model and judge calls run ahead on threads.

A pytest test body is synchronous, so without this one process has one call in flight.
The session tells the pipeline which items come next in this process (the rest of the
serial run, or the xdist worker's queue); the pipeline keeps up to ``window`` of them
submitted to a pool of ``threads``, and an item's setup takes its result (waiting if it is
still running, computing it directly if it was never submitted). The limiter, not the pool,
bounds the calls in flight across processes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

K = TypeVar("K")
R = TypeVar("R")


class Prefetcher(Generic[K, R]):
    """Runs ``compute(key)`` ahead of time for up to ``window`` upcoming keys."""

    def __init__(self, compute: Callable[[K], R], *, threads: int, window: int):
        self.compute = compute
        self.window = max(0, window)
        self._pool = (ThreadPoolExecutor(max_workers=threads, thread_name_prefix="unisafe")
                      if threads > 1 and window > 0 else None)
        self._pending: dict[K, Future[R]] = {}
        self._lock = threading.Lock()
        self.submitted = 0

    def ahead(self, upcoming: Iterable[K]) -> None:
        """Make sure the next ``window`` keys of ``upcoming`` are submitted."""
        if self._pool is None:
            return
        with self._lock:
            for count, key in enumerate(upcoming):
                if count >= self.window:
                    break
                if key not in self._pending:
                    self._pending[key] = self._pool.submit(self.compute, key)
                    self.submitted += 1

    def take(self, key: K) -> R:
        """The result for ``key``: the prefetched one, or computed now."""
        with self._lock:
            future = self._pending.pop(key, None)
        if future is None:
            return self.compute(key)
        return future.result()

    def close(self) -> None:
        """Drop what was not started; wait for nothing (results of calls in flight are lost,
        their cache entries are written if they finish)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
