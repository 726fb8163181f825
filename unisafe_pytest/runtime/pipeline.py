"""The prefetch pipeline: upcoming instances' model and judge calls run ahead on threads.

A pytest test body is synchronous, so without this one process has one call in flight.
The session tells the pipeline which items come next in this process (the rest of the
serial run, or the xdist worker's queue); the pipeline keeps up to ``window`` of them
submitted to a pool of ``threads``, and an item's setup takes its result (waiting if it is
still running, computing it directly if it was never submitted). The limiter, not the pool,
bounds the calls in flight across processes.

Handing work to a thread costs a little; when results come back faster than that (a fully
cached run), ``ahead`` stops submitting and ``take`` computes inline, and it resumes as soon as
a result is slow again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

FAST_S = 0.002
"""Below this average inline compute time, prefetching costs more than it saves."""

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
        self._recent_s = FAST_S * 2  # start by prefetching

    def ahead(self, upcoming: Iterable[K]) -> None:
        """Make sure the next ``window`` keys of ``upcoming`` are submitted."""
        if self._pool is None or self._recent_s < FAST_S:
            return
        with self._lock:
            for count, key in enumerate(upcoming):
                if count >= self.window:
                    break
                if key not in self._pending:
                    self._pending[key] = self._pool.submit(self._timed, key)
                    self.submitted += 1

    def take(self, key: K) -> R:
        """The result for ``key``: the prefetched one, or computed now."""
        with self._lock:
            future = self._pending.pop(key, None)
        if future is not None:
            return future.result()
        return self._timed(key)

    def _timed(self, key: K) -> R:
        started = time.perf_counter()
        result = self.compute(key)
        elapsed = time.perf_counter() - started
        with self._lock:  # moving average of how long one result takes to compute
            self._recent_s = 0.8 * self._recent_s + 0.2 * elapsed
        return result

    def close(self) -> None:
        """Drop what was not started; wait for nothing (results of calls in flight are lost,
        their cache entries are written if they finish)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
