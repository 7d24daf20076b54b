"""The operations endpoint: `/metrics`, `/healthz` and `/readyz` over HTTP/1.1 on one port.

A small anyio server around h11, which parses and frames HTTP correctly; it runs on asyncio
and trio alike and needs no web framework. Its clients are Prometheus, the
kubelet, Docker's HEALTHCHECK and curious operators; it still expects the odd hostile one:

- a request is bounded (`HttpLimits.max_request_bytes` for the head and again for a body),
  so a huge header is answered 431 and a huge body 413 without reading it all;
- each request/response exchange has one deadline (`HttpLimits.request_timeout`), so a
  client that trickles a request byte by byte, or never reads its response, is dropped;
  an idle keep-alive connection ends at the same deadline;
- at most `HttpLimits.max_connections` connections are served at once; the next ones get an
  immediate 503.

Connection handlers run in the listener's task group: cancelling `serve_http` ends them all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import h11
from anyio.abc import SocketAttribute, SocketStream, TaskStatus

from ivrd.observability.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from ivrd.observability.metrics import Metrics

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], tuple[bool, str]]
"""Says whether the daemon takes calls: `(True, "")`, or `(False, "draining")` and the like."""

_TEXT = "text/plain; charset=utf-8"
_RECEIVE_SIZE = 65536
# After answering a client that may still be sending (a refused body, a broken request), we
# half-close and read what is still coming for a moment: closing a socket with unread input
# makes the kernel send a reset, which can destroy the response before the client reads it.
_LINGER_SECONDS = 1.0
_LINGER_MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class HttpLimits:
    """Bounds that keep one slow or hostile client from holding the endpoint."""

    max_request_bytes: int = 16 * 1024
    """The most a request head may take (431 past it), and separately its body (413)."""
    request_timeout: float = 10.0
    """Seconds to receive a whole request and send the response; also the keep-alive idle time."""
    max_connections: int = 64
    """Connections served at once; more are answered 503 and closed."""


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    content_type: str = _TEXT
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False


class _RequestTooLarge(Exception):
    """The request body passed `HttpLimits.max_request_bytes`."""


@dataclass
class _Exchange:
    """What is known of the request being answered."""

    method: bytes = b"GET"


async def serve_http(
    host: str,
    port: int,
    metrics: Metrics,
    ready: ReadyCheck,
    *,
    limits: HttpLimits = HttpLimits(),
    task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the operations endpoint on `host:port` until cancelled.

    Reports the bound port through `task_status.started(port)` (useful with `port=0`).
    `ready` is called for every `/readyz` request and must be quick and never block.
    """
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    server = _Server(metrics, ready, limits)
    async with listener:
        bound_port = listener.extra(SocketAttribute.local_port)
        log.info("metrics and health on http://%s:%d/", host, bound_port)
        task_status.started(bound_port)
        await listener.serve(server.handle)


class _Server:
    def __init__(self, metrics: Metrics, ready: ReadyCheck, limits: HttpLimits) -> None:
        self._metrics = metrics
        self._ready = ready
        self._limits = limits
        self._open_connections = 0

    async def handle(self, stream: SocketStream) -> None:
        """One connection, start to end; nothing a client does escapes from here."""
        async with stream:
            try:
                if self._open_connections >= self._limits.max_connections:
                    await self._refuse_busy(stream)
                    return
                self._open_connections += 1
                try:
                    await self._serve_connection(stream)
                finally:
                    self._open_connections -= 1
            except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                log.debug("http client went away: %r", exc)
            except Exception:
                # A bug in answering one request must not take the daemon's calls down with it.
                log.exception("http connection failed")

    async def _serve_connection(self, stream: SocketStream) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self._limits.max_request_bytes)
        keep_alive = True
        while keep_alive:
            keep_alive = False
            with anyio.move_on_after(self._limits.request_timeout) as deadline:
                keep_alive = await self._exchange(stream, conn)
            if deadline.cancelled_caught:
                await self._time_out(stream, conn)
                return

    async def _exchange(self, stream: SocketStream, conn: h11.Connection) -> bool:
        """Read one request and answer it; True if the connection can carry another."""
        exchange = _Exchange()
        try:
            request = await self._receive_request(stream, conn, exchange)
        except h11.RemoteProtocolError as exc:
            response = _plain(exc.error_status_hint, f"bad request: {exc}")
            await self._send_and_close(stream, conn, exchange, response)
            return False
        except _RequestTooLarge:
            response = _plain(413, "request body too large")
            await self._send_and_close(stream, conn, exchange, response)
            return False
        if request is None:
            return False
        response = self._respond(request.method, request.target)
        await stream.send(_response_bytes(conn, request.method, response))
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            return True
        await _close_gently(stream)
        return False

    async def _receive_request(
        self, stream: SocketStream, conn: h11.Connection, exchange: _Exchange
    ) -> h11.Request | None:
        """The next complete request (body read and dropped), or None if the client closed."""
        request: h11.Request | None = None
        body_bytes = 0
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = await stream.receive(_RECEIVE_SIZE)
                except anyio.EndOfStream:
                    data = b""
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                request = event
                exchange.method = event.method
            elif isinstance(event, h11.Data):
                body_bytes += len(event.data)
                if body_bytes > self._limits.max_request_bytes:
                    raise _RequestTooLarge
            elif isinstance(event, h11.EndOfMessage):
                return request
            elif isinstance(event, h11.ConnectionClosed):
                return None
            else:  # pragma: no cover - PAUSED cannot happen: each cycle ends before the next
                raise RuntimeError(f"unexpected h11 event {event!r}")

    def _respond(self, method: bytes, target: bytes) -> _Response:
        path = target.split(b"?", 1)[0]
        if path not in (b"/metrics", b"/healthz", b"/readyz"):
            return _plain(404, "not found; try /metrics, /healthz or /readyz")
        if method not in (b"GET", b"HEAD"):
            return _plain(405, "method not allowed", headers=(("allow", "GET, HEAD"),))
        if path == b"/metrics":
            return _Response(200, self._metrics.render(), METRICS_CONTENT_TYPE)
        if path == b"/healthz":
            return _plain(200, "ok")
        return self._readiness()

    def _readiness(self) -> _Response:
        try:
            is_ready, reason = self._ready()
        except Exception:
            log.exception("the readiness check failed")
            return _plain(503, "not ready: the readiness check failed")
        if is_ready:
            return _plain(200, "ready")
        return _plain(503, f"not ready: {reason}" if reason else "not ready")

    async def _time_out(self, stream: SocketStream, conn: h11.Connection) -> None:
        """The exchange passed its deadline: a 408 if a request had begun, then close."""
        began = conn.their_state is not h11.IDLE or bool(conn.trailing_data[0])
        if began and conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            with anyio.move_on_after(self._limits.request_timeout):
                response = _plain(408, "request timed out")
                await self._send_and_close(stream, conn, _Exchange(), response)

    async def _send_and_close(
        self,
        stream: SocketStream,
        conn: h11.Connection,
        exchange: _Exchange,
        response: _Response,
    ) -> None:
        closing = _Response(
            response.status, response.body, response.content_type, response.headers, close=True
        )
        await stream.send(_response_bytes(conn, exchange.method, closing))
        await _close_gently(stream)

    async def _refuse_busy(self, stream: SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        with anyio.move_on_after(self._limits.request_timeout):
            response = _plain(503, "too many connections")
            await self._send_and_close(stream, conn, _Exchange(), response)


def _plain(status: int, text: str, *, headers: tuple[tuple[str, str], ...] = ()) -> _Response:
    return _Response(status, text.encode() + b"\n", _TEXT, headers)


def _response_bytes(conn: h11.Connection, method: bytes, response: _Response) -> bytes:
    headers = [
        ("content-type", response.content_type),
        ("content-length", str(len(response.body))),
        ("cache-control", "no-store"),
        *response.headers,
    ]
    if response.close:
        headers.append(("connection", "close"))
    events: list[h11.Event] = [h11.Response(status_code=response.status, headers=headers)]
    if method != b"HEAD":  # h11 frames a HEAD response without a body, as HTTP requires
        events.append(h11.Data(data=response.body))
    events.append(h11.EndOfMessage())
    return b"".join(conn.send(event) or b"" for event in events)


async def _close_gently(stream: SocketStream) -> None:
    """Half-close, then drop what the client still sends for a moment (see `_LINGER_SECONDS`)."""
    with anyio.move_on_after(_LINGER_SECONDS):
        try:
            await stream.send_eof()
            discarded = 0
            while discarded < _LINGER_MAX_BYTES:
                discarded += len(await stream.receive(_RECEIVE_SIZE))
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
