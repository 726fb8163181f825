"""The prefetch pipeline: upcoming instances' model and judge calls run ahead on threads.

A pytest test body is synchronous, so without this one process has one call in flight.
The session tells the pipeline which items come next in this process (the rest of the
serial run, or the xdist worker's queue); the pipeline keeps up to ``window`` of them
submitted to a pool of ``threads``, and an item's setup takes its result (waiting if it is
still running, computing it directly if it was never submitted). The limiter, not the pool,
bounds the calls in flight across processes.

Handing work to a thread costs a little, and a thread computing beside the test loop
fights it for the GIL; when results need no waiting (a fully cached run), ``ahead`` stops
submitting and ``take`` computes inline, and it resumes as soon as a result waits again.
Whether a result waited is told by ``waited(result)`` (the session: "did it call a model or
judge?"); without it, a result that took over ``FAST_S`` counts as having waited. Time alone is
a poor sign under the GIL: a cached result computed on a thread beside the test loop can take
milliseconds of wall time while needing microseconds of work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

FAST_S = 0.002
"""Without ``waited``: a result computed faster than this did not wait."""
RESUME = 0.1
"""Prefetch while the moving share of results that waited is at least this."""

K = TypeVar("K")
R = TypeVar("R")


class _Dropped(Exception):
    """A prefetched key whose turn came after :meth:`Prefetcher.close` (never computed)."""


class Prefetcher(Generic[K, R]):
    """Runs ``compute(key)`` ahead of time for up to ``window`` upcoming keys."""

    def __init__(self, compute: Callable[[K], R], *, threads: int, window: int,
                 waited: Callable[[R], bool] | None = None):
        self.compute = compute
        self.waited = waited
        self.window = max(0, window)
        self._pool = (ThreadPoolExecutor(max_workers=threads, thread_name_prefix="unisafe")
                      if threads > 1 and window > 0 else None)
        self._pending: dict[K, Future[R]] = {}
        self._lock = threading.Lock()
        self.submitted = 0
        self._waiting = 2 * RESUME  # moving share of results that waited; start prefetching
        self._step = max(1, self.window // 8)
        self._skipped = 0
        self.closed = False
        """Set by :meth:`close`: nothing more is submitted or started on the pool."""

    def ahead(self, upcoming: Iterable[K]) -> None:
        """Make sure the next ``window`` keys of ``upcoming`` are submitted.

        Walking the window costs a little per key; it is walked once the pending results
        are ``window / 8`` short of it (or after as many calls), not at every call."""
        if self._pool is None or self.closed or self._waiting < RESUME:
            return
        with self._lock:
            if (self._skipped < self._step - 1
                    and len(self._pending) > self.window - self._step):
                self._skipped += 1
                return
            self._skipped = 0
            for count, key in enumerate(upcoming):
                if count >= self.window:
                    break
                if key not in self._pending:
                    self._pending[key] = self._pool.submit(self._pooled, key)
                    self.submitted += 1

    def take(self, key: K) -> R:
        """The result for ``key``: the prefetched one, or computed now."""
        with self._lock:
            future = self._pending.pop(key, None)
        if future is not None and not future.cancelled():
            try:
                return future.result()
            except _Dropped:
                pass  # it was due to start after close(): computed now
        return self._timed(key)

    def _pooled(self, key: K) -> R:
        if self.closed:  # a thread took it between close() and the pool's cancelling
            raise _Dropped
        return self._timed(key)

    def _timed(self, key: K) -> R:
        started = time.perf_counter()
        result = self.compute(key)
        elapsed = time.perf_counter() - started
        waited = self.waited(result) if self.waited is not None else elapsed >= FAST_S
        with self._lock:
            self._waiting = 0.8 * self._waiting + (0.2 if waited else 0.0)
        return result

    def close(self) -> None:
        """Drop what was not started; wait for nothing (results of calls in flight are lost,
        their cache entries are written if they finish)."""
        self.closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
