"""The outbound server: FreeSWITCH's `socket` application connects here, one call per connection.

Shaped like hypercorn: the call handlers run in a task group that outlives the accept loop,
`serve` reports the bound port through `task_status.started(port)`, and `shutdown(grace)`
stops accepting at once and gives running calls a deadline, after which they are hung up.

The listening sockets are anyio's (one per address, `backlog` passed to listen(2)). On asyncio
they are then served by `loop.create_server`, whose connections are `ProtocolStream`s (see
`_asyncio_stream`): it accepts every queued connection at each wake-up, and no connection
needs a reader task. On trio, a task per listening socket accepts with anyio.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
from collections.abc import Iterable
from typing import cast

import anyio
import anyio.abc
from anyio.abc import SocketAttribute, SocketListener
from anyio.streams.stapled import MultiListener

from ivrd.esl import _transport
from ivrd.esl._asyncio_stream import ProtocolStream
from ivrd.esl._session_commands import EventFormat
from ivrd.esl.protocol import DEFAULT_MAX_FRAME_SIZE
from ivrd.esl.session import CallHandler, OutboundSession
from ivrd.esl.timeouts import DEFAULT_TIMEOUTS, Timeouts

logger = logging.getLogger("ivrd.esl")

# Out of file descriptors or buffers: accepting again at once would spin.
_ACCEPT_RETRY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_ACCEPT_RETRY_DELAY = 0.1


def _on_asyncio() -> bool:
    """Whether asyncio (or uvloop) runs us, rather than trio."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class OutboundServer:
    """Accept FreeSWITCH's outbound connections and run `handler(session)` for each call."""

    def __init__(
        self,
        handler: CallHandler,
        host: str = "127.0.0.1",
        port: int = 8084,
        *,
        backlog: int = 4096,
        event_format: EventFormat = "plain",
        linger: bool | int = True,
        divert_events: bool = True,
        unneeded_events: Iterable[str] = (),
        allowed_peers: Iterable[str] | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        shutdown_grace: float = 30.0,
    ) -> None:
        if event_format not in ("plain", "json"):
            raise ValueError(f"event_format must be 'plain' or 'json', not {event_format!r}")
        self.handler = handler
        self.host = host
        self.port = port
        self.backlog = backlog
        self.event_format: EventFormat = event_format
        self.linger = linger
        self.divert_events = divert_events
        # Events no handler reads, stopped with `nixevent` (see OutboundSession).
        self.unneeded_events = frozenset(unneeded_events)
        self.allowed_peers = (
            None
            if allowed_peers is None
            else [ipaddress.ip_network(peer, strict=False) for peer in allowed_peers]
        )
        self.timeouts = timeouts
        self.max_frame_size = max_frame_size
        self.shutdown_grace = shutdown_grace
        self.bound_port: int | None = None
        self.active_calls = 0
        self.total_calls = 0
        self._accept_scope: anyio.CancelScope | None = None
        self._calls_scope: anyio.CancelScope | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._stopping = False

    async def serve(
        self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen and serve calls until cancelled or `shutdown()`; reports the bound port."""
        listener = await _transport.create_listener(self.host, self.port, backlog=self.backlog)
        self.bound_port = listener.extra(SocketAttribute.local_port)
        async with anyio.create_task_group() as calls:
            self._calls_scope = calls.cancel_scope
            async with listener:
                with anyio.CancelScope() as accept_scope:
                    self._accept_scope = accept_scope
                    if self._stopping:
                        accept_scope.cancel()
                    logger.info(
                        "listening for FreeSWITCH on %s",
                        _transport.peer_name(self.host, self.bound_port),
                    )
                    task_status.started(self.bound_port)
                    if _on_asyncio():
                        await self._serve_protocols(listener, calls)
                    else:
                        async with anyio.create_task_group() as accepting:
                            for sub in listener.listeners:
                                sub = cast(SocketListener, sub)
                                accepting.start_soon(self._accept, sub, calls)
            if self.active_calls:
                logger.info("stopped accepting calls; %d still running", self.active_calls)

    def shutdown(self, grace: float | None = None) -> None:
        """Stop accepting now; running calls get `grace` seconds, then are hung up."""
        self._stopping = True
        self._close_servers()
        if self._accept_scope is not None:
            self._accept_scope.cancel()
        if self._calls_scope is not None:
            deadline = anyio.current_time() + (self.shutdown_grace if grace is None else grace)
            self._calls_scope.deadline = min(self._calls_scope.deadline, deadline)

    async def _serve_protocols(
        self, listener: MultiListener[anyio.abc.SocketStream], calls: anyio.abc.TaskGroup
    ) -> None:
        """Serve anyio's listening sockets with asyncio's own server until cancelled."""
        loop = asyncio.get_running_loop()

        def protocol() -> ProtocolStream:
            return ProtocolStream(lambda stream: self._connection_made(stream, calls))

        # The servers get duplicates: each side then closes only the sockets it owns.
        pending = [sub.extra(SocketAttribute.raw_socket).dup() for sub in listener.listeners]
        try:
            await listener.aclose()
            while pending:
                # Shielded: a server made but not handed back could not be closed.
                with anyio.CancelScope(shield=True):
                    server = await loop.create_server(
                        protocol, sock=pending[-1], backlog=self.backlog
                    )
                self._servers.append(server)
                pending.pop()  # the server owns it now
            if self._stopping:
                self._close_servers()
            await anyio.sleep_forever()
        finally:
            self._close_servers()
            for sock in pending:
                sock.close()

    def _close_servers(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()  # stops accepting; the calls it started go on

    def _connection_made(self, stream: ProtocolStream, calls: anyio.abc.TaskGroup) -> None:
        """asyncio accepted a connection (in the loop's callback): start its call."""
        try:
            host, port = stream.peer_address
            if self._stopping:
                stream.abort()
                return
            calls.start_soon(self._serve_call, stream, host, port)
        except Exception:
            # Never let a failure here reach asyncio's accept loop.
            logger.exception("cannot start a call for an accepted connection")
            stream.abort()

    async def _accept(self, listener: SocketListener, calls: anyio.abc.TaskGroup) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno not in _ACCEPT_RETRY_ERRNOS:
                    raise
                reason = exc.strerror
            else:
                calls.start_soon(self._serve_stream, stream)
                continue
            logger.error("cannot accept a call: %s; retrying", reason)
            await anyio.sleep(_ACCEPT_RETRY_DELAY)

    def _allowed(self, host: str) -> bool:
        if self.allowed_peers is None:
            return True
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        return any(address in network for network in self.allowed_peers)

    async def _serve_stream(self, stream: anyio.abc.SocketStream) -> None:
        address = stream.extra(SocketAttribute.remote_address)
        host, port = (address, 0) if isinstance(address, str) else (str(address[0]), address[1])
        await self._serve_call(stream, host, port)

    async def _serve_call(
        self, stream: anyio.abc.SocketStream | ProtocolStream, host: str, port: int
    ) -> None:
        peer = _transport.peer_name(host, port)
        if not self._allowed(host):
            logger.warning("refused a connection from %s: not in allowed_peers", peer)
            if isinstance(stream, ProtocolStream):
                stream.abort()
            else:
                await anyio.aclose_forcefully(stream)
            return
        session = OutboundSession(
            stream,
            peer,
            event_format=self.event_format,
            linger=self.linger,
            divert_events=self.divert_events,
            unneeded_events=self.unneeded_events,
            timeouts=self.timeouts,
            max_frame_size=self.max_frame_size,
        )
        self.active_calls += 1
        self.total_calls += 1
        try:
            await session.run(self.handler)
        except Exception:
            # A bug of ours in one call must not take the server and every other call down.
            logger.exception(
                "call session from %s crashed", peer, extra={"call_uuid": session.uuid}
            )
        finally:
            self.active_calls -= 1
