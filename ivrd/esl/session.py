"""One call over the outbound event socket: set-up, applications, events, teardown.

FreeSWITCH connects to us (dialplan `socket <addr> async full`); the session sends `connect`,
`myevents`, `linger` and `divert_events on`, each waiting for its reply, then runs the
handler. Applications go one at a time, each with `event-lock: true` and a fresh `Event-UUID`,
and complete on the CHANNEL_EXECUTE_COMPLETE whose `Application-UUID` matches (in async mode
FreeSWITCH nests an application sent while another runs, it does not queue it).

Every wait ends: CHANNEL_HANGUP raises CallHangup in the pending application (it arrives
before the completion), a dropped socket raises ConnectionClosed, a time limit ESLTimeout.
After the call is gone (CHANNEL_HANGUP_COMPLETE and the disconnect notice, in either order)
running hooks may finish, then we send `exit`: with `linger` FreeSWITCH keeps the channel
until then and never closes the socket itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from uuid import uuid4

import anyio
import anyio.abc

from ivrd.esl import _requests
from ivrd.esl._app_methods import ApplicationMethods
from ivrd.esl._dispatch import EventHooks, Subscriptions
from ivrd.esl._requests import BackgroundJobs, Completion
from ivrd.esl._session_events import SessionEvents
from ivrd.esl.applications import ExecuteResult, normalise_variable
from ivrd.esl.connection import Connection
from ivrd.esl.errors import CallHangup, ConnectionClosed, ESLError
from ivrd.esl.protocol import (
    DEFAULT_MAX_FRAME_SIZE,
    CommandReply,
    DisconnectNotice,
    Event,
    EventMessage,
    Headers,
    Message,
    commands,
)
from ivrd.esl.timeouts import DEFAULT_TIMEOUTS, Timeouts, time_limit

logger = logging.getLogger("ivrd.esl")

CallHandler = Callable[["OutboundSession"], Awaitable[None]]
EventFormat = Literal["plain", "json"]

_FAILURE_CAUSE = "NORMAL_TEMPORARY_FAILURE"
_SHUTDOWN_CAUSE = "SYSTEM_SHUTDOWN"


class _RunningApp(Completion):
    __slots__ = ("event_uuid", "interrupted", "name")

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.event_uuid = str(uuid4())
        self.interrupted = False


class OutboundSession(SessionEvents, ApplicationMethods):
    """One call. Made by OutboundServer for each connection; the handler gets it."""

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        peer: str,
        *,
        event_format: EventFormat = "plain",
        linger: bool | int = True,
        divert_events: bool = True,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        self.timeouts = timeouts
        self.event_format: EventFormat = event_format
        self.uuid = ""
        self._linger = linger
        self._divert_events = divert_events
        self._conn = Connection(
            stream,
            peer,
            self._on_message,
            max_frame_size=max_frame_size,
            write_timeout=timeouts.write,
        )
        self._channel_data = Headers([])
        self._hooks = EventHooks(self._log_extra)
        self._subscriptions = Subscriptions()
        self._jobs = BackgroundJobs()
        self._jobs_subscribed = False
        self._app_lock = anyio.Lock(fast_acquire=True)
        self._app: _RunningApp | None = None
        self._hangup_cause: str | None = None
        self._hangup_complete = False
        self._notice: DisconnectNotice | None = None
        self._gone = anyio.Event()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._handler_scope: anyio.CancelScope | None = None
        self._reader_scope = anyio.CancelScope(shield=True)
        self._handler_done = False
        self._failed = False

    # -- what the handler reads ---------------------------------------------------------------

    @property
    def peer(self) -> str:
        return self._conn.peer

    @property
    def channel_data(self) -> Headers:
        """Latest channel data: from `connect`, CHANNEL_DATA, each completion, `uuid_dump`."""
        return self._channel_data

    def variable(self, name: str) -> str | None:
        """A channel variable (`foo` or `variable_foo`) from the latest channel data."""
        return self._channel_data.get(f"variable_{normalise_variable(name)}")

    @property
    def hangup_cause(self) -> str | None:
        """None while the call is up; FreeSWITCH's cause once CHANNEL_HANGUP arrived."""
        return self._hangup_cause

    @property
    def closed(self) -> bool:
        return self._conn.closed

    def _log_extra(self) -> dict[str, Any]:
        return {"call_uuid": self.uuid or None}

    # -- commands ----------------------------------------------------------------------------

    async def command(self, data: bytes) -> CommandReply:
        """Send a command built with `ivrd.esl.protocol.commands`; `-ERR` raises CommandError."""
        return await _requests.request(self._conn, data, self.timeouts.reply)

    async def api(self, command: str) -> str:
        """`api <command>` on this socket; its output, or CommandError on `-ERR`."""
        return await _requests.api(self._conn, command, self.timeouts)

    async def bgapi(self, command: str) -> str:
        """`bgapi <command>` with our own Job-UUID; the output from its BACKGROUND_JOB."""
        return await self._jobs.run(
            self._conn,
            command,
            subscribe=self._subscribe_jobs,
            timeouts=self.timeouts,
        )

    async def _subscribe_jobs(self) -> None:
        # myevents does not include BACKGROUND_JOB; FreeSWITCH passes our own jobs to a
        # myevents socket (by Job-Owner-UUID) once we ask for the event.
        if not self._jobs_subscribed:
            await self.command(commands.event(["BACKGROUND_JOB"], format=self.event_format))
            self._jobs_subscribed = True

    async def getvar(self, name: str) -> str | None:
        reply = await self.command(commands.getvar(normalise_variable(name)))
        value = reply.headers.get("Reply-Text")
        return None if value in (None, "", "_undef_") else value

    async def update_channel_data(self) -> Headers:
        """Refresh the channel data with `uuid_dump` and return it."""
        dump = await self.api(f"uuid_dump {self.uuid}")
        self._channel_data = Event.from_bytes(dump.strip("\n").encode() + b"\n", "plain").headers
        return self._channel_data

    async def execute(self, app: str, arg: str = "", *, loops: int | None = None) -> ExecuteResult:
        """Run one application and wait for its completion (one at a time per session)."""
        async with self._app_lock:
            self._check_call(app)
            return await self._execute(app, arg, loops)

    async def hangup(self, cause: str = "") -> ExecuteResult | None:
        """Hang the call up; returns when CHANNEL_HANGUP (or the completion) arrives.

        None if the call had already hung up.
        """
        async with self._app_lock:
            if self._hangup_cause is not None:
                return None
            if self._conn.closed:
                raise self._conn.closed_error()
            return await self._execute("hangup", cause, None)

    async def uuid_break(self, *, all: bool = False) -> None:
        """Stop the playing prompt now (`api uuid_break`); its result says `interrupted`."""
        if self._app is not None:
            self._app.interrupted = True
        await self.api(f"uuid_break {self.uuid}{' all' if all else ''}")

    async def _execute(self, app: str, arg: str, loops: int | None) -> ExecuteResult:
        running = _RunningApp(app)
        data = commands.execute(app, arg, event_uuid=running.event_uuid, loops=loops)
        # Registered before the send: a completion may in principle overtake the +OK.
        self._app = running
        try:
            await self.command(data)
            with time_limit(self.timeouts.application, f"`{app}` did not complete"):
                event = await running.wait()
        finally:
            self._app = None
        return ExecuteResult(app, event, running.interrupted)

    async def disconnect(self) -> None:
        """Send `exit` and half-close; then read what FreeSWITCH still sends, until it closes."""
        if self._conn.closed:
            return
        try:
            waiter = await self._conn.send_command(commands.exit())
            await self._conn.send_eof()
            await self._conn.wait_reply(waiter)
        except ESLError:
            pass
        await self._conn.wait_closed()

    # -- the reader's side -------------------------------------------------------------------

    def _on_message(self, message: Message) -> None:
        if isinstance(message, EventMessage):
            self._on_event(message.event)
        elif isinstance(message, DisconnectNotice):
            self._notice = message
            self._check_gone()
        else:
            logger.debug(
                "ignoring %s from FreeSWITCH", message.content_type, extra=self._log_extra()
            )

    def _on_event(self, event: Event) -> None:
        name = event.name
        if name == "CHANNEL_EXECUTE_COMPLETE":
            self._channel_data = event.headers
            app = self._app
            if app is not None and event.get("Application-UUID") == app.event_uuid:
                app.finish(event)
        elif name == "CHANNEL_HANGUP":
            if self._is_ours(event):
                self._on_hangup(event)
        elif name == "CHANNEL_HANGUP_COMPLETE":
            if self._is_ours(event):
                self._on_hangup(event)
                self._hangup_complete = True
                self._check_gone()
        elif name == "CHANNEL_DATA":
            self._channel_data = event.headers
        elif name == "BACKGROUND_JOB":
            self._jobs.on_event(event)
        if self._task_group is not None:
            self._hooks.dispatch(event, self._task_group)
        if self._subscriptions:
            self._subscriptions.publish(event)

    def _on_hangup(self, event: Event) -> None:
        if self._hangup_cause is not None:
            return
        cause = self._hangup_cause = event.get("Hangup-Cause") or "NORMAL_CLEARING"
        app = self._app
        if app is not None:
            if app.name == "hangup":
                app.finish(event)  # FreeSWITCH may never report the hangup app's completion
            else:
                app.fail(CallHangup(cause, uuid=self.uuid, waiting_for=app.name))
        self._limit_handler()

    def _check_gone(self) -> None:
        if self._conn.closed or (self._notice is not None and self._hangup_complete):
            self._gone.set()

    def _on_closed(self) -> None:
        error = self._conn.closed_error
        if self._app is not None:
            self._app.fail(error())
        self._jobs.fail_all(error)
        self._subscriptions.close()
        self._gone.set()
        self._limit_handler()

    def _limit_handler(self) -> None:
        """The call is over: the handler gets `after_hangup` seconds more, then is cancelled."""
        scope, grace = self._handler_scope, self.timeouts.after_hangup
        if scope is not None and not self._handler_done:
            scope.deadline = min(scope.deadline, anyio.current_time() + grace)

    async def _read(self) -> None:
        # Shielded: when the call is cancelled (server shutdown) the teardown still needs the
        # reader to hang up and say goodbye; `run` stops it when it is done.
        with self._reader_scope:
            try:
                await self._conn.run()
            finally:
                self._on_closed()

    # -- life cycle --------------------------------------------------------------------------

    async def run(self, handler: CallHandler) -> None:
        """Set the call up, run `handler(self)`, tear down. Raises only cancellation."""
        async with anyio.create_task_group() as task_group:
            self._task_group = task_group
            task_group.start_soon(self._read)
            try:
                await self._run_handler(handler)
            finally:
                with anyio.CancelScope(shield=True):
                    await self._teardown()
                self._reader_scope.cancel()
                task_group.cancel_scope.cancel()

    async def _setup(self) -> None:
        data = (
            await _requests.request(self._conn, commands.connect(), self.timeouts.connect)
        ).headers
        self._channel_data = data
        self.uuid = data.get("Unique-ID") or data.get("Channel-Unique-ID") or ""
        self._conn.log_extra = self._log_extra()
        if data.get("Socket-Mode") != "async" or data.get("Control") != "full":
            logger.warning(
                "FreeSWITCH connected with Socket-Mode %s, Control %s: the dialplan should use "
                "`socket <host:port> async full`",
                data.get("Socket-Mode"),
                data.get("Control"),
                extra=self._log_extra(),
            )
        await self.command(
            commands.myevents(format=None if self.event_format == "plain" else "json")
        )
        if self._linger is not False:
            await self.command(commands.linger(None if self._linger is True else int(self._linger)))
        if self._divert_events:
            await self.command(commands.divert_events(True))

    async def _run_handler(self, handler: CallHandler) -> None:
        with anyio.CancelScope() as scope:
            self._handler_scope = scope
            try:
                await self._setup()
            except ESLError as exc:
                logger.warning("could not set up the call: %s", exc, extra=self._log_extra())
                self._handler_done = True
                return
            try:
                await handler(self)
            except CallHangup as exc:
                logger.debug("call ended: %s", exc, extra=self._log_extra())
            except ConnectionClosed as exc:
                logger.info("call lost: %s", exc, extra=self._log_extra())
            except Exception:
                self._failed = True
                logger.exception("call handler failed", extra=self._log_extra())
        self._handler_done = True
        if scope.cancelled_caught:
            logger.warning(
                "call handler still running %g s after the call ended; cancelled it",
                self.timeouts.after_hangup,
                extra=self._log_extra(),
            )

    async def _teardown(self) -> None:
        """Hang up if we must, let the call finish and hooks run, then `exit` and close."""
        budget = self.timeouts.teardown
        if not self._conn.closed and self.uuid:
            must_hang_up = self._hangup_cause is None and (self._failed or not self._handler_done)
            with anyio.move_on_after(budget):
                if must_hang_up:
                    cause = _FAILURE_CAUSE if self._failed else _SHUTDOWN_CAUSE
                    try:
                        # Not `sendmsg hangup`: FreeSWITCH reads that only between
                        # event-locked applications, so it would wait behind a running prompt.
                        await self.api(f"uuid_kill {self.uuid} {cause}")
                    except ESLError as exc:
                        logger.debug("could not hang up: %s", exc, extra=self._log_extra())
                if must_hang_up or self._hangup_cause is not None:
                    await self._gone.wait()
                await self._hooks.wait_idle()
        with anyio.move_on_after(budget):
            await self.disconnect()
        await self._conn.aclose()
