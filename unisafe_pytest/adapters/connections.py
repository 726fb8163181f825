"""The httpx client an endpoint sends through: its connections split over small pools.

httpx's connection pool looks at every one of its connections for every request it sends and
every response it closes (and asks the kernel whether each idle one is still readable), so its
cost per call grows with ``max_connections``: at 128 connections a plain ``httpx.Client`` with
128 threads spends about 5 ms of CPU per call on its own bookkeeping, and one process tops out
near 150-200 calls/s on a loopback server whatever the concurrency. :class:`PooledClient` keeps
the same total of connections in pools of at most :data:`PER_POOL` and sends each request
through the pool with the fewest requests in flight (the count lasts until a streamed
response is closed), so the bookkeeping stays the size of one small pool.

:func:`http_client` makes a plain ``httpx.Client`` when one pool suffices or when a transport
is given (tests' ``httpx.MockTransport``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx

PER_POOL = 16
"""Connections per pool."""


def http_client(*, timeout_s: float, max_connections: int,
                transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """A client for one endpoint: up to ``max_connections`` connections, no redirects."""
    if transport is not None or max_connections <= PER_POOL:
        return httpx.Client(timeout=httpx.Timeout(timeout_s),
                            limits=httpx.Limits(max_connections=max_connections),
                            transport=transport, follow_redirects=False)
    return PooledClient(timeout_s=timeout_s, max_connections=max_connections)


class _Counted(httpx.SyncByteStream):
    """A response's stream that tells its pool when the response is closed."""

    def __init__(self, stream: httpx.SyncByteStream, done: Any) -> None:
        self._stream = stream
        self._done = done

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()


class PooledClient(httpx.Client):
    """An ``httpx.Client`` whose ``max_connections`` are split over pools of ``PER_POOL``.

    Requests are built by this client (its timeout, no redirects) and sent by one of its
    pools; every way of sending (``send``, ``request``, ``post``, ``stream``...) goes through
    :meth:`send`."""

    def __init__(self, *, timeout_s: float, max_connections: int) -> None:
        super().__init__(timeout=httpx.Timeout(timeout_s), follow_redirects=False,
                         limits=httpx.Limits(max_connections=1))  # sends nothing itself
        count = -(-max_connections // PER_POOL)
        sizes = [max_connections // count + (1 if i < max_connections % count else 0)
                 for i in range(count)]
        self._pools = [httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False,
                                    limits=httpx.Limits(max_connections=size))
                       for size in sizes]
        self._in_flight = [0] * count
        self._lock = threading.Lock()

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        if self.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        with self._lock:
            index = min(range(len(self._pools)), key=self._in_flight.__getitem__)
            self._in_flight[index] += 1
        done = _Done(self, index)
        try:
            response = self._pools[index].send(request, **kwargs)
        except BaseException:
            done()
            raise
        if response.is_closed:
            done()
        else:
            response.stream = _Counted(response.stream, done)  # type: ignore[arg-type]
        return response

    def _finished(self, index: int) -> None:
        with self._lock:
            self._in_flight[index] -= 1

    def close(self) -> None:
        for pool in self._pools:
            pool.close()
        super().close()

    def __exit__(self, *exc_info: Any) -> None:
        for pool in self._pools:
            pool.close()
        super().__exit__(*exc_info)


class _Done:
    """Called once: the request sent through pool ``index`` is over."""

    def __init__(self, client: PooledClient, index: int) -> None:
        self._client: PooledClient | None = client
        self._index = index

    def __call__(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client._finished(self._index)
