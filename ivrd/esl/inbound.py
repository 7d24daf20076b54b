"""The inbound client: we dial FreeSWITCH (port 8021), authenticate, subscribe, and stay connected.

librevox's order: wait for `auth/request`, `auth`, `event <format> ...`, then one `filter` per
filter, each waiting for its reply. When FreeSWITCH restarts the client reconnects with
exponential backoff and jitter and subscribes again; a wrong password (or an ACL rejection) is
not retried, since it would only hammer FreeSWITCH with the same mistake.
"""

from __future__ import annotations

import logging
import random as _random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self

import anyio
import anyio.abc

from ivrd.esl import _requests, _transport
from ivrd.esl._dispatch import EventHooks, EventSource, Subscriptions
from ivrd.esl._requests import BackgroundJobs
from ivrd.esl.connection import Connection, ReplyWaiter
from ivrd.esl.errors import (
    AuthenticationError,
    CommandError,
    ConnectionClosed,
    ESLError,
    ESLTimeout,
)
from ivrd.esl.protocol import (
    DEFAULT_MAX_FRAME_SIZE,
    CommandReply,
    DisconnectNotice,
    EventMessage,
    Message,
    commands,
)
from ivrd.esl.timeouts import DEFAULT_TIMEOUTS, Timeouts, deadline

logger = logging.getLogger("ivrd.esl")

EventFormat = Literal["plain", "json", "xml"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays: `base * 2**attempt` seconds, capped at `max`, with equal jitter.

    Half the delay is fixed and half random, so a fleet of clients spreads out after a
    FreeSWITCH restart yet none retries in a tight loop.
    """

    base: float = 0.5
    max: float = 30.0

    def delay(self, attempt: int, random: Callable[[], float]) -> float:
        ceiling = min(self.max, self.base * 2.0 ** min(attempt, 32))
        return ceiling / 2 + random() * ceiling / 2


class InboundClient(EventSource):
    """A long-lived inbound connection with event hooks, `api` and `bgapi`.

    Run it with `async with InboundClient(...) as client:` or `await tg.start(client.run)`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8021,
        password: str = "ClueCon",
        *,
        events: Iterable[str] = ("ALL",),
        subclasses: Iterable[str] = (),
        format: EventFormat = "plain",
        filters: Iterable[tuple[str, str]] = (),
        reconnect: bool = True,
        backoff: Backoff = Backoff(),
        random: Callable[[], float] = _random.random,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        self.host = host
        self.port = port
        self.peer = _transport.peer_name(host, port)
        self._password = password
        self.event_names = tuple(events)
        self.subclasses = tuple(subclasses)
        self.format: EventFormat = format
        self.filters = tuple(filters)
        self.reconnect = reconnect
        self.backoff = backoff
        self.timeouts = timeouts
        self.max_frame_size = max_frame_size
        self.connections = 0
        self._random = random
        self._hooks = EventHooks(dict)
        self._subscriptions = Subscriptions()
        self._jobs = BackgroundJobs()
        self._jobs_subscribed = False
        self._conn: Connection | None = None
        self._hooks_tg: anyio.abc.TaskGroup | None = None
        self._own_tg: anyio.abc.TaskGroup | None = None
        self._closing = False
        self._backoff_scope: anyio.CancelScope | None = None
        self._changed: anyio.Event | None = None

    # -- events ------------------------------------------------------------------------------

    # -- commands ----------------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """True once `aclose()` was called."""
        return self._closing

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    async def wait_connected(self, connections: int = 1) -> None:
        """Until connected and subscribed, on at least the `connections`-th connection."""
        while not (self.connected and self.connections >= connections):
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()

    def _state_changed(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _connection(self) -> Connection:
        conn = self._conn
        if conn is None or conn.closed:
            retry = "; reconnecting" if self.reconnect and not self._closing else ""
            raise ConnectionClosed(f"not connected to FreeSWITCH at {self.peer}{retry}")
        return conn

    async def command(self, data: bytes) -> CommandReply:
        """Send a command built with `ivrd.esl.protocol.commands`; `-ERR` raises CommandError."""
        return await _requests.request(self._connection(), data, self.timeouts.reply)

    async def api(self, command: str) -> str:
        """`api <command>`: its output, or CommandError on `-ERR` (with the text)."""
        return await _requests.api(self._connection(), command, self.timeouts)

    async def bgapi(self, command: str) -> str:
        """`bgapi <command>` with our own Job-UUID; the output of its BACKGROUND_JOB."""
        conn = self._connection()
        return await self._jobs.run(
            conn, command, subscribe=self._subscribe_jobs, timeouts=self.timeouts
        )

    async def _subscribe_jobs(self) -> None:
        if self._jobs_subscribed:
            return
        await self.command(commands.event(["BACKGROUND_JOB"], format=self.format))
        if self.filters:
            # With filters set FreeSWITCH passes only matching events; let our results through.
            await self.command(commands.filter("Event-Name", "BACKGROUND_JOB"))
        self._jobs_subscribed = True

    # -- the reader's side -------------------------------------------------------------------

    def _on_message(self, message: Message) -> None:
        if isinstance(message, EventMessage):
            event = message.event
            if self._jobs and event.name == "BACKGROUND_JOB":
                self._jobs.on_event(event)
            if self._hooks_tg is not None:
                self._hooks.dispatch(event, self._hooks_tg)
            if self._subscriptions:
                self._subscriptions.publish(event)
        elif isinstance(message, DisconnectNotice):
            logger.info("FreeSWITCH at %s is closing the connection", self.peer)

    # -- life cycle --------------------------------------------------------------------------

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Connect, and stay connected until cancelled or `aclose()`; `started` once subscribed.

        Raises AuthenticationError (never retried) and CommandError (a refused subscription);
        with `reconnect=False`, ConnectionFailed when the first connection cannot be made (a
        later drop just ends it: pending and later calls raise ConnectionClosed).
        """
        error: ESLError | None = None
        async with anyio.create_task_group() as hooks:
            self._hooks_tg = hooks
            try:
                error = await self._stay_connected(task_status)
                with anyio.move_on_after(self.timeouts.teardown):
                    await self._hooks.wait_idle()
            finally:
                self._subscriptions.close()
                hooks.cancel_scope.cancel()
        if error is not None:
            raise error

    serve = run  # the name `run_listeners` calls, as on OutboundServer

    async def _stay_connected(self, task_status: anyio.abc.TaskStatus[None]) -> ESLError | None:
        attempt = 0
        while not self._closing:
            connections = self.connections
            try:
                failure: ESLError = await self._serve_connection(
                    None if connections else task_status
                )
            except (AuthenticationError, CommandError) as exc:
                return exc
            except ESLError as exc:
                failure = exc
            if self.closing:
                return None
            if self.connections > connections:
                attempt = 0
            if not self.reconnect:
                return None if self.connections else failure
            delay = self.backoff.delay(attempt, self._random)
            attempt += 1
            logger.warning("%s; reconnecting in %.3g s", failure, delay)
            with anyio.CancelScope() as self._backoff_scope:
                await anyio.sleep(delay)
        return None

    async def _serve_connection(
        self, task_status: anyio.abc.TaskStatus[None] | None
    ) -> ConnectionClosed:
        """One connection, from connect to its end; returns why it ended."""
        stream = await _transport.connect(self.host, self.port, self.timeouts.connect)
        conn = Connection(
            stream,
            self.peer,
            self._on_message,
            max_frame_size=self.max_frame_size,
            write_timeout=self.timeouts.write,
        )
        greeting = conn.expect_reply()
        error: ESLError | None = None
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(conn.run)
            try:
                await self._handshake(conn, greeting)
            except ESLError as exc:
                error = exc
                task_group.cancel_scope.cancel()
            else:
                self._conn = conn
                self.connections += 1
                self._state_changed()
                logger.info("connected to FreeSWITCH at %s", self.peer)
                if task_status is not None:
                    task_status.started()
                try:
                    await conn.wait_closed()
                finally:
                    self._conn = None
                    self._state_changed()
                    self._jobs.fail_all(conn.closed_error)
        if error is not None:
            raise error
        return conn.closed_error()

    async def _handshake(self, conn: Connection, greeting: ReplyWaiter) -> None:
        hello = await conn.wait_reply(greeting, deadline(self.timeouts.connect))
        if hello is None:
            raise ESLTimeout(
                f"no greeting from FreeSWITCH at {self.peer} within {self.timeouts.connect:g} s"
            )
        _requests.check_greeting(hello, self.host, self.port)
        try:
            await _requests.request(conn, commands.auth(self._password), self.timeouts.reply)
        except CommandError as exc:
            raise _requests.password_refused(self.peer, exc) from None
        names = self.event_names
        self._jobs_subscribed = "ALL" in names or "BACKGROUND_JOB" in names
        if names or self.subclasses:
            event = commands.event(names, format=self.format, subclasses=self.subclasses)
            await _requests.request(conn, event, self.timeouts.reply)
        for header, value in self.filters:
            await _requests.request(conn, commands.filter(header, value), self.timeouts.reply)

    async def aclose(self) -> None:
        """Say goodbye (`exit`) and stop: `run` returns, event streams end."""
        self._closing = True
        if self._backoff_scope is not None:
            self._backoff_scope.cancel()
        conn = self._conn
        if conn is not None and not conn.closed:
            with anyio.move_on_after(self.timeouts.teardown):
                try:
                    await _requests.request(conn, commands.exit(), self.timeouts.reply)
                except ESLError as exc:
                    logger.debug("exit: %s", exc)
            await conn.aclose()

    async def __aenter__(self) -> Self:
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        try:
            await task_group.start(self.run)
        except BaseException:
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(None, None, None)
            raise
        self._own_tg = task_group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        task_group, self._own_tg = self._own_tg, None
        assert task_group is not None, "InboundClient used in `async with` twice at once"
        try:
            with anyio.CancelScope(shield=True):
                await self.aclose()
        finally:
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(None, None, None)
