"""The operations endpoint over real loopback sockets, on asyncio and trio."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import anyio
import httpx
import pytest
from anyio.abc import SocketStream
from prometheus_client.parser import text_string_to_metric_families

from ivrd.observability import CONTENT_TYPE, HttpLimits, Metrics, serve_http

pytestmark = pytest.mark.anyio

HOST = "127.0.0.1"
DEFAULT_LIMITS = HttpLimits()


class Readiness:
    """A `ready` callable whose answer the test changes, as the daemon does when it drains."""

    def __init__(self) -> None:
        self.ready = True
        self.reason = ""

    def __call__(self) -> tuple[bool, str]:
        return self.ready, self.reason


@asynccontextmanager
async def running(
    metrics: Metrics | None = None,
    ready: Readiness | None = None,
    limits: HttpLimits = DEFAULT_LIMITS,
) -> AsyncIterator[int]:
    """Serve on an ephemeral port for the block; yields the port."""
    async with anyio.create_task_group() as group:
        serve = partial(
            serve_http,
            HOST,
            0,
            metrics or Metrics(),
            ready or Readiness(),
            limits=limits,
        )
        port: int = await group.start(serve)
        yield port
        group.cancel_scope.cancel()


@asynccontextmanager
async def client(port: int) -> AsyncIterator[httpx.AsyncClient]:
    # trust_env=False: a proxy from the environment must not carry loopback requests away.
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", trust_env=False) as http:
        yield http


async def read_to_end(stream: SocketStream) -> bytes:
    received = bytearray()
    while True:
        try:
            received += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return bytes(received)


async def raw_exchange(port: int, request: bytes, *, deadline: float = 10.0) -> bytes:
    """Send raw bytes, return everything the server sends until it closes."""
    with anyio.fail_after(deadline):
        async with await anyio.connect_tcp(HOST, port) as stream:
            await stream.send(request)
            return await read_to_end(stream)


def scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_healthz_answers_ok() -> None:
    async with running() as port, client(port) as http:
        response = await http.get("/healthz")

    assert response.status_code == 200
    assert response.text == "ok\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


async def test_metrics_are_scraped_with_the_exact_numbers() -> None:
    metrics = Metrics()
    metrics.call_started("acme-main")
    metrics.call_started("acme-main")
    metrics.step_finished("acme-main", "menu", "no_input", 5.2)
    metrics.step_finished("acme-main", "menu", "next", 0.3)

    async with running(metrics) as port, client(port) as http:
        first = await http.get("/metrics")
        metrics.call_ended("acme-main", "hangup", 61.0)
        second = await http.get("/metrics")

    assert first.status_code == 200
    assert first.headers["content-type"] == CONTENT_TYPE
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"
    before, after = scrape(first.text), scrape(second.text)
    flow = frozenset({("flow", "acme-main")})
    menu = frozenset({("flow", "acme-main"), ("step_type", "menu")})
    assert before[("ivrd_calls_active", flow)] == 2
    assert before[("ivrd_calls_started_total", flow)] == 2
    assert before[("ivrd_step_duration_seconds_count", menu)] == 2
    assert before[("ivrd_step_duration_seconds_sum", menu)] == pytest.approx(5.5)
    no_input = menu | {("outcome", "no_input")}
    assert before[("ivrd_steps_total", no_input)] == 1
    assert after[("ivrd_calls_active", flow)] == 1
    assert after[("ivrd_calls_ended_total", flow | {("disposition", "hangup")})] == 1
    assert after[("ivrd_call_duration_seconds_sum", flow)] == 61.0


async def test_head_gives_the_headers_without_the_body() -> None:
    async with running() as port, client(port) as http:
        response = await http.head("/healthz")

    assert response.status_code == 200
    assert response.headers["content-length"] == "3"
    assert response.content == b""


async def test_readyz_follows_the_ready_callable() -> None:
    readiness = Readiness()
    async with running(ready=readiness) as port, client(port) as http:
        ready = await http.get("/readyz")
        readiness.ready, readiness.reason = False, "draining"
        draining = await http.get("/readyz")
        readiness.ready, readiness.reason = True, ""
        ready_again = await http.get("/readyz")

    assert (ready.status_code, ready.text) == (200, "ready\n")
    assert (draining.status_code, draining.text) == (503, "not ready: draining\n")
    assert (ready_again.status_code, ready_again.text) == (200, "ready\n")


async def test_a_failing_readiness_check_means_not_ready(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> tuple[bool, str]:
        raise RuntimeError("flows not loaded")

    async with anyio.create_task_group() as group:
        port = await group.start(partial(serve_http, HOST, 0, Metrics(), broken))
        async with client(port) as http:
            with caplog.at_level(logging.ERROR, logger="ivrd.observability.http"):
                response = await http.get("/readyz")
            health = await http.get("/healthz")
        group.cancel_scope.cancel()

    assert (response.status_code, response.text) == (503, "not ready: the readiness check failed\n")
    assert [record.getMessage() for record in caplog.records] == ["the readiness check failed"]
    assert health.status_code == 200


async def test_unknown_paths_are_404_and_other_methods_405() -> None:
    async with running() as port, client(port) as http:
        unknown = await http.get("/admin")
        post = await http.post("/metrics", content=b"x=1")
        delete = await http.delete("/readyz")
        with_query = await http.get("/healthz?verbose=1")

    assert unknown.status_code == 404
    assert (post.status_code, post.headers["allow"]) == (405, "GET, HEAD")
    assert delete.status_code == 405
    assert with_query.status_code == 200


async def test_a_connection_serves_several_requests_in_a_row() -> None:
    async with running() as port:
        answer = await raw_exchange(
            port,
            b"GET /healthz HTTP/1.1\r\nHost: ivrd\r\n\r\n"
            b"GET /readyz HTTP/1.1\r\nHost: ivrd\r\nConnection: close\r\n\r\n",
        )

    assert answer.count(b"HTTP/1.1 200 ") == 2
    assert answer.endswith(b"ready\n")


async def test_an_oversized_request_head_is_refused() -> None:
    limits = HttpLimits(max_request_bytes=4096)
    async with running(limits=limits) as port:
        long_header = await raw_exchange(
            port, b"GET /metrics HTTP/1.1\r\nHost: ivrd\r\nX-Pad: " + b"a" * 100_000 + b"\r\n\r\n"
        )
        long_target = await raw_exchange(port, b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n")

    assert long_header.startswith(b"HTTP/1.1 431 ")
    assert long_target.startswith(b"HTTP/1.1 431 ")


async def test_an_oversized_request_body_is_refused() -> None:
    limits = HttpLimits(max_request_bytes=4096)
    async with running(limits=limits) as port, client(port) as http:
        response = await http.post("/metrics", content=b"x" * 100_000)

    assert (response.status_code, response.text) == (413, "request body too large\n")
    assert response.headers["connection"] == "close"


async def test_a_malformed_request_is_a_400() -> None:
    async with running() as port:
        answer = await raw_exchange(port, b"HELLO THERE\r\n\r\n")

    assert answer.startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio-mockclock"], indirect=True)
async def test_a_slow_client_gets_a_408_and_the_connection_closes(anyio_backend: object) -> None:
    # The mock clock jumps ahead while everyone waits, so 30 s cost nothing on trio.
    timeout = 0.25 if anyio_backend == "asyncio" else 30.0
    async with running(limits=HttpLimits(request_timeout=timeout)) as port:
        started = anyio.current_time()
        answer = await raw_exchange(
            port, b"GET /metrics HTTP/1.1\r\nHost: iv", deadline=4 * timeout
        )
        waited = anyio.current_time() - started

    assert answer.startswith(b"HTTP/1.1 408 ")
    assert answer.endswith(b"request timed out\n")
    assert waited >= timeout


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio-mockclock"], indirect=True)
async def test_an_idle_connection_is_closed_silently(anyio_backend: object) -> None:
    timeout = 0.25 if anyio_backend == "asyncio" else 30.0
    async with running(limits=HttpLimits(request_timeout=timeout)) as port:
        started = anyio.current_time()
        answer = await raw_exchange(port, b"", deadline=4 * timeout)
        waited = anyio.current_time() - started

    assert answer == b""
    assert waited >= timeout


async def test_connections_past_the_limit_get_a_503() -> None:
    async with (
        running(limits=HttpLimits(max_connections=1)) as port,
        await anyio.connect_tcp(HOST, port) as first,
    ):
        # An answered request proves the first connection holds the only place.
        await first.send(b"GET /healthz HTTP/1.1\r\nHost: ivrd\r\n\r\n")
        assert (await first.receive()).startswith(b"HTTP/1.1 200 ")

        refused = await raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: ivrd\r\n\r\n")

        await first.send(b"GET /healthz HTTP/1.1\r\nHost: ivrd\r\nConnection: close\r\n\r\n")
        still_served = await read_to_end(first)

    assert refused.startswith(b"HTTP/1.1 503 ")
    assert refused.endswith(b"too many connections\n")
    assert still_served.startswith(b"HTTP/1.1 200 ")


async def test_cancelling_the_server_closes_the_port() -> None:
    async with running() as port, client(port) as http:
        assert (await http.get("/healthz")).status_code == 200

    with pytest.raises(OSError):
        await anyio.connect_tcp(HOST, port)


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio-mockclock"], indirect=True)
async def test_a_client_trickling_bytes_is_cut_off_at_the_deadline(anyio_backend: object) -> None:
    # The deadline covers the whole request, not each read: a byte now and then does not reset it.
    timeout = 0.25 if anyio_backend == "asyncio" else 30.0
    request = b"GET /metrics HTTP/1.1\r\nHost: ivrd\r\nX-Slow: " + b"a" * 1000
    async with (
        running(limits=HttpLimits(request_timeout=timeout)) as port,
        await anyio.connect_tcp(HOST, port) as stream,
    ):
        started = anyio.current_time()

        async def trickle() -> None:
            for byte in request:
                await stream.send(bytes([byte]))
                await anyio.sleep(timeout / 10)

        with anyio.fail_after(4 * timeout):
            async with anyio.create_task_group() as group:
                group.start_soon(trickle)
                answer = await read_to_end(stream)
                group.cancel_scope.cancel()
        waited = anyio.current_time() - started

    # Had each byte restarted the clock, the trickle (a hundred timeouts long) would have hit
    # fail_after instead.
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert waited >= timeout
