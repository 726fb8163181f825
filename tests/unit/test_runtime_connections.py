"""The endpoint's client: connections split over small pools, the total kept, counts exact."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.servers.latency_server import LatencyServer
from unisafe_pytest.adapters.connections import PER_POOL, PooledClient, http_client


def _ask(client: httpx.Client, base_url: str, i: int) -> str:
    reply = client.post(base_url + "/chat/completions", json={
        "model": "m", "messages": [{"role": "user", "content": f"q{i}"}]})
    reply.raise_for_status()
    return str(reply.json()["choices"][0]["message"]["content"])


def test_small_limits_and_injected_transports_get_a_plain_client() -> None:
    with http_client(timeout_s=5, max_connections=PER_POOL) as plain:
        assert type(plain) is httpx.Client
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with http_client(timeout_s=5, max_connections=500, transport=transport) as mocked:
        assert type(mocked) is httpx.Client
        assert mocked.get("http://x/").json() == {}


def test_many_threads_share_the_pools_within_the_total() -> None:
    connections = 2 * PER_POOL + 5
    with LatencyServer(latency=0.05) as server, http_client(
            timeout_s=10, max_connections=connections) as client:
        assert isinstance(client, PooledClient)
        threads = connections + 10  # more callers than connections: some wait for one
        with ThreadPoolExecutor(threads) as pool:
            answers = list(pool.map(lambda i: _ask(client, server.base_url, i), range(300)))
        assert answers == [f"answer to: q{i}" for i in range(300)]
        assert server.state.peak <= connections
        assert client._in_flight == [0, 0, 0]  # every request was counted out


def test_a_streamed_response_counts_until_it_is_closed() -> None:
    with LatencyServer(latency=0.0) as server, http_client(
            timeout_s=10, max_connections=4 * PER_POOL) as client:
        assert isinstance(client, PooledClient)
        request = client.build_request("POST", server.base_url + "/chat/completions",
                                       json={"messages": [{"content": "x"}]})
        response = client.send(request, stream=True)
        assert sum(client._in_flight) == 1
        response.read()
        response.close()
        assert sum(client._in_flight) == 0
        with client.stream("POST", server.base_url + "/chat/completions",
                           json={"messages": []}) as streamed:
            assert sum(client._in_flight) == 1
            assert b"answer" in streamed.read()
        assert sum(client._in_flight) == 0


def test_a_failed_send_is_counted_out() -> None:
    with http_client(timeout_s=2, max_connections=2 * PER_POOL) as client:
        assert isinstance(client, PooledClient)
        errors = []
        lock = threading.Lock()

        def fail() -> None:
            try:
                client.get("http://127.0.0.1:9/")  # discard port: refused
            except httpx.TransportError as exc:
                with lock:
                    errors.append(exc)

        threads = [threading.Thread(target=fail) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(errors) == 5
        assert client._in_flight == [0, 0]
    with pytest.raises(RuntimeError):
        client.get("http://127.0.0.1:9/")  # closed
