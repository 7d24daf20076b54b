"""One call over the outbound event socket: set-up, applications, events, teardown.

FreeSWITCH connects to us (dialplan `socket <addr> async full`); the session sends `connect`
with `myevents`, `linger` and `divert_events on` in one write (each answered in order), then
runs the handler; with `unneeded_events`, a `nixevent` after `myevents` stops the events nobody
reads (each one costs framing and decoding its name). Applications go one at a time, each with
`event-lock: true` and a fresh `Event-UUID`, and complete on the CHANNEL_EXECUTE_COMPLETE whose
`Application-UUID` matches (in async mode FreeSWITCH nests an application sent while another
runs without `event-lock`; event-locked ones it runs one after another). An application that
finishes at once and whose result nobody reads (`multiset` of settings) may be queued ahead
with `enqueue`, without a round trip of its own.

Every wait ends: CHANNEL_HANGUP raises CallHangup in the pending application (it arrives
before the completion), a dropped socket raises ConnectionClosed, a time limit ESLTimeout.
After the call is gone (CHANNEL_HANGUP_COMPLETE and the disconnect notice, in either order)
running hooks may finish, then we send `exit`: with `linger` FreeSWITCH keeps the channel
until then and never closes the socket itself.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
import anyio.abc

from ivrd.esl import _requests
from ivrd.esl._app_methods import ApplicationMethods
from ivrd.esl._asyncio_stream import ProtocolStream
from ivrd.esl._dispatch import EventHooks, Listeners, Subscriptions
from ivrd.esl._requests import BackgroundJobs
from ivrd.esl._running import RunningApp, new_event_uuid
from ivrd.esl._session_commands import EventFormat, SessionCommands, setup_commands
from ivrd.esl._session_events import SessionEvents
from ivrd.esl._wakeup import Turns
from ivrd.esl.applications import ExecuteResult, normalise_variable
from ivrd.esl.connection import Connection, ReplyWaiter
from ivrd.esl.errors import CallHangup, CommandError, ConnectionClosed, ESLError, ESLTimeout
from ivrd.esl.latch import Latch
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
from ivrd.esl.timeouts import (
    DEFAULT_TIMEOUTS,
    Timeouts,
    deadline,
    loop_clock,
    running_asyncio_loop,
)

logger = logging.getLogger("ivrd.esl")

CallHandler = Callable[["OutboundSession"], Awaitable[None]]

_FAILURE_CAUSE = "NORMAL_TEMPORARY_FAILURE"
_SHUTDOWN_CAUSE = "SYSTEM_SHUTDOWN"


class OutboundSession(SessionCommands, SessionEvents, ApplicationMethods):
    """One call. Made by OutboundServer for each connection; the handler gets it."""

    def __init__(
        self,
        stream: anyio.abc.ByteStream | ProtocolStream,
        peer: str,
        *,
        event_format: EventFormat = "plain",
        linger: bool | int = True,
        divert_events: bool = True,
        unneeded_events: Iterable[str] = (),
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        self.timeouts = timeouts
        self.event_format: EventFormat = event_format
        self.uuid = ""
        self._linger = linger
        self._divert_events = divert_events
        self._unneeded_events = tuple(sorted(set(unneeded_events)))
        self._conn = Connection(
            stream,
            peer,
            self._on_message,
            on_closed=self._on_closed,
            max_frame_size=max_frame_size,
            write_timeout=timeouts.write,
        )
        self._channel_data = Headers([])
        # One dict for every log line of the call (the uuid goes in once known); the helpers
        # get it through a closure, not a method of ours: no reference cycle keeps a finished
        # call's objects for the garbage collector, they go when the call does.
        extra: dict[str, Any] = {"call_uuid": None}
        self._extra = extra
        self._hooks = EventHooks(lambda: extra)
        self._listeners = Listeners(lambda: extra)
        self._subscriptions = Subscriptions()
        self._jobs = BackgroundJobs()
        self._jobs_subscribed = False
        self._app_lock = Turns()
        self._app: RunningApp | None = None
        self._refused: CommandError | None = None  # an `enqueue`d application's -ERR
        self._nixevent_refused = False  # (said once, in the set-up: `stop_events` is moot)
        self._hangup_cause: str | None = None
        self._hangup_complete = False
        self._notice: DisconnectNotice | None = None
        self._gone = Latch()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._handler_scope: anyio.CancelScope | None = None
        self._handler_done = False
        self._failed = False
        # What runs the call, found once (`run`): see `timeouts.current_clock`.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clock: Callable[[], float] = anyio.current_time

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
        return self._extra

    async def execute(self, app: str, arg: str = "", *, loops: int | None = None) -> ExecuteResult:
        """Run one application and wait for its completion (one at a time per session)."""
        async with self._app_lock:
            self._check_call(app)
            refused, self._refused = self._refused, None
            if refused is not None:
                raise refused
            return await self._execute(app, arg, loops)

    def enqueue(self, app: str, arg: str = "") -> None:
        """Queue one application ahead of the next command, without waiting for it.

        For applications that finish at once and whose result nobody reads, such as a
        `multiset` of settings: it goes out in the same write as whatever the session sends
        next (the next application, usually), and FreeSWITCH runs event-locked applications
        one after another, so that one runs after it. No round trip, no system call of its
        own. Should FreeSWITCH refuse it (`-ERR`), the application waited for then, or else
        the next one, raises that CommandError. Nothing follows (the call ended)? Not sent.
        """
        self._check_call(app)
        self._conn.send_with_next(
            commands.execute(app, arg, event_uuid=new_event_uuid()),
            lambda waiter: self._on_enqueued_reply(app, waiter),
        )

    def stop_events(self, *names: str) -> None:
        """Stop events this call turned out not to need (`nixevent`), without waiting.

        Each event of a SIP call carries its 5 KB of channel data, read and framed by us and
        written by FreeSWITCH: a flow without key hooks, say, reads no DTMF event. Sent with
        the next command, as `enqueue`; the `+OK` is checked when it comes, and a refusal (a
        socket without `full` control) costs only the saving, and is logged. Nothing is sent
        if the set-up's `nixevent` was refused already.
        """
        self._check_call("nixevent")
        if not self._nixevent_refused:
            self._conn.send_with_next(commands.nixevent(names), self._on_nixevent_reply)

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
        timeouts = self.timeouts
        running = RunningApp(
            app,
            reply=timeouts.reply,
            after_reply=timeouts.application,
            loop=self._loop,
        )
        data = commands.execute(app, arg, event_uuid=running.event_uuid, loops=loops)
        # Registered before the send: a completion may in principle overtake the +OK.
        self._app = running
        waiter: ReplyWaiter | None = None
        try:
            waiter = await self._conn.send_command(data)
            if waiter.resolved:
                running.on_reply(waiter)
            else:
                waiter.notify = running.on_reply
            event = await running.wait()
        finally:
            self._app = None
            if waiter is not None and not waiter.resolved:
                waiter.notify = None
                waiter.abandoned = True  # its late reply is dropped
        if event is None:  # the time limit passed
            if running.replied:
                raise ESLTimeout(f"`{app}` did not complete within {timeouts.application:g} s")
            raise self._conn.no_answer("sendmsg", timeouts.reply)
        return ExecuteResult(app, event, running.interrupted)

    async def disconnect(self) -> None:
        """Send `exit` and half-close; then read what FreeSWITCH still sends, until it closes."""
        await self._disconnect(math.inf)

    async def _disconnect(self, deadline: float) -> None:
        self._conn.drop_held()  # settings for applications that will not run
        if self._conn.closed:
            return
        try:
            # Its `+OK` comes before FreeSWITCH closes: waiting for the close is enough.
            await self._conn.send_command(commands.exit())
            await self._conn.send_eof()
        except ESLError:
            pass
        await self._conn.wait_closed(deadline)

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
            if app is not None and event.last("Application-UUID") == app.event_uuid:
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
        if self._listeners:
            self._listeners.dispatch(name, event)
        if self._task_group is not None:
            self._hooks.dispatch(event, self._task_group, name)
        if self._subscriptions:
            self._subscriptions.publish(event, name)

    def _on_nixevent_reply(self, waiter: ReplyWaiter) -> None:
        answer = waiter.message
        if isinstance(answer, CommandReply) and not answer.ok:
            logger.warning(
                "FreeSWITCH refused nixevent: %s", answer.reply_text, extra=self._log_extra()
            )

    def _on_enqueued_reply(self, app: str, waiter: ReplyWaiter) -> None:
        if waiter.message is None:
            return  # the connection ended: whatever waits learns it from the connection
        try:
            _requests.checked_reply(waiter.message, f"sendmsg {app}")
        except CommandError as exc:
            if self._hangup_cause is not None:
                return  # the call is gone: that is what whatever waits will hear
            logger.warning("FreeSWITCH refused %s", exc, extra=self._log_extra())
            running = self._app
            if running is not None:
                running.fail(exc)
            else:
                self._refused = exc

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
            scope.deadline = min(scope.deadline, self._clock() + grace)

    # -- life cycle --------------------------------------------------------------------------

    async def run(self, handler: CallHandler) -> None:
        """Set the call up, run `handler(self)`, tear down. Raises only cancellation."""
        self._loop = running_asyncio_loop()
        self._clock = loop_clock(self._loop)
        async with anyio.create_task_group() as task_group:
            self._task_group = task_group
            reader: anyio.CancelScope | None = None
            if self._conn.reads_itself:
                self._conn.start()  # the stream delivers in the loop's callbacks: no task
            else:
                # Shielded: when the call is cancelled (server shutdown) the teardown still
                # needs the reader to hang up and say goodbye; it is stopped here after that.
                reader = anyio.CancelScope(shield=True)
                task_group.start_soon(self._read, reader)
            try:
                await self._run_handler(handler)
            finally:
                with anyio.CancelScope(shield=True):
                    await self._teardown()
                if reader is not None:
                    reader.cancel()
                if self._hooks.running or not self._conn.reads_itself:
                    task_group.cancel_scope.cancel()
            self._task_group = None

    async def _read(self, scope: anyio.CancelScope) -> None:
        with scope:
            await self._conn.run()  # calls _on_closed when it ends

    async def _setup(self) -> None:
        setup, nixevent = setup_commands(
            self.event_format, self._unneeded_events, self._linger, self._divert_events
        )
        # `connect` and the set-up in one write: FreeSWITCH reads the socket a command at a
        # time (mod_event_socket's read_packet) and answers each in order, and none of the
        # set-up needs the channel data, so the call starts one round trip sooner.
        connected, *waiters = await self._conn.send_commands((commands.connect(), *setup))
        answer = await self._conn.wait_reply(
            connected, deadline(self.timeouts.connect, self._clock)
        )
        if answer is None:
            raise self._conn.no_answer("connect", self.timeouts.connect)
        reply = _requests.checked_reply(answer, "connect")
        # The channel data: kept as the text it came in (the parser does), read as looked up.
        data = self._channel_data = reply.headers
        self.uuid = data.get("Unique-ID") or data.get("Channel-Unique-ID") or ""
        self._extra["call_uuid"] = self.uuid or None
        self._conn.log_extra = self._extra
        if data.get("Socket-Mode") != "async" or data.get("Control") != "full":
            logger.warning(
                "FreeSWITCH connected with Socket-Mode %s, Control %s: the dialplan should use "
                "`socket <host:port> async full`",
                data.get("Socket-Mode"),
                data.get("Control"),
                extra=self._log_extra(),
            )
        limit = deadline(self.timeouts.reply, self._clock)
        for waiter, command in zip(waiters, setup, strict=True):
            what = _requests.what_of(command)
            answer = await self._conn.wait_reply(waiter, limit)
            if answer is None:
                raise self._conn.no_answer(what, self.timeouts.reply)
            if command is nixevent and isinstance(answer, CommandReply) and not answer.ok:
                # Only a saving refused (FreeSWITCH without `full` control): not worth the call.
                self._nixevent_refused = True
                logger.warning(
                    "FreeSWITCH refused %s: %s", what, answer.reply_text, extra=self._log_extra()
                )
                continue
            _requests.checked_reply(answer, what)

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
        self._conn.drop_held()  # settings for applications that will not run
        if not self._conn.closed and self.uuid:
            must_hang_up = self._hangup_cause is None and (self._failed or not self._handler_done)
            if must_hang_up or self._hooks.running:
                with anyio.move_on_after(budget):
                    if must_hang_up:
                        cause = _FAILURE_CAUSE if self._failed else _SHUTDOWN_CAUSE
                        try:
                            # Not `sendmsg hangup`: FreeSWITCH reads that only between
                            # event-locked applications, so it would wait behind a running
                            # prompt.
                            await self.api(f"uuid_kill {self.uuid} {cause}")
                        except ESLError as exc:
                            logger.debug("could not hang up: %s", exc, extra=self._log_extra())
                    if must_hang_up or self._hangup_cause is not None:
                        await self._gone.wait()
                    await self._hooks.wait_idle()
            elif self._hangup_cause is not None:
                # The usual end: the call hung up; wait for FreeSWITCH to say it is gone.
                await self._gone.wait(deadline(budget, self._clock))
        await self._disconnect(deadline(budget, self._clock))
        await self._conn.aclose()
