"""One call through the outbound socket: FreeSWITCH's `socket ip:port async full`, faked.

The call owns a channel (ChannelState), the socket (a Listener that controls the channel), the
channel's own thread (the `socket` application parked in async mode, which runs what `sendmsg`
queues) and the caller's script. What they do, in FreeSWITCH's order:

- the `connect` reply is the channel data; the socket application parks a little later
  (`park`: seconds, or ParkAtCommand to land CHANNEL_PARK between a command and its reply);
- `sendmsg` only queues; the parked channel picks the queue up at its next 20 ms frame and runs
  everything queued, one after another. A running media application (playback, ...) picks up
  new messages itself and runs them NESTED, unless the message it runs for came with
  `event-lock: true`;
- when the socket is gone (the server closed it, or `exit`), the park ends and what is still
  queued runs at once (a `hangup` sent just before closing still hangs up);
- a hangup fires CHANNEL_HANGUP at once; the running applications then complete (PLAYBACK ERROR,
  `_none_`), the socket application ends (UNPARK, EXECUTE_COMPLETE for `socket`), then
  CHANNEL_STATE twice and CHANNEL_HANGUP_COMPLETE; then the socket gets its disconnect notice
  (linger: kept open until `exit`, or for N + 0.5 s) and CHANNEL_DESTROY goes to inbound
  listeners only once the socket is gone.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from ivrd.esl.protocol import Command, writers
from ivrd.testing._signal import Job
from ivrd.testing.caller import Caller, run_script
from ivrd.testing.cdr import cdr_variables
from ivrd.testing.channel import Channel, ChannelState
from ivrd.testing.execution import Execution, Message, is_true
from ivrd.testing.faults import FaultInjector
from ivrd.testing.listener import Listener
from ivrd.testing.record import (
    AppRecord,
    CallRecord,
    ReceivedCommand,
)

if TYPE_CHECKING:
    from ivrd.testing.fake import FakeFreeSWITCH


@dataclass(frozen=True)
class ParkAtCommand:
    """Park while the n-th command after `connect` is read (0: while `connect` is).

    Its CHANNEL_PARK then arrives after that command and before its reply, as in the
    `nolinger` (n=3) and `errors` (n=6) captures; with n=0 it fires before `myevents`, so the
    socket never sees it (the `pagd_recv_dtmf` capture). With `name`, only commands of that
    name count (`ParkAtCommand(1, name="sendmsg")`: between the first sendmsg and its +OK).
    With `latest`, the channel parks that many seconds after `connect` if the command has not
    come by then.
    """

    n: int
    name: str | None = None
    latest: float | None = None


# The default: CHANNEL_PARK lands between the first `sendmsg` and its +OK (FreeSWITCH parks
# 0-20 ms after `connect`, when a server is usually sending its first application), so every
# test sees an event arrive between a command and its reply.
FIRST_SENDMSG = ParkAtCommand(1, name="sendmsg", latest=0.02)

Park = float | ParkAtCommand


class OutboundCall(Execution):
    """A call that FreeSWITCH handed to an outbound socket server."""

    def __init__(
        self,
        fake: FakeFreeSWITCH,
        channel: Channel,
        caller: Caller,
        *,
        host: str,
        port: int,
        park: Park,
        frame: float,
    ) -> None:
        state = ChannelState(
            fake.source, channel, socket_host=host, socket_arg=f"{host}:{port} async full"
        )
        super().__init__(fake, state, caller, frame)
        self.socket_arg = f"{host}:{port} async full"
        self.park_at = park if isinstance(park, ParkAtCommand) else None
        self._park_delay = park.latest if isinstance(park, ParkAtCommand) else float(park)
        self.listener: Listener | None = None
        self.connected_at: float | None = None
        self.socket_gone = False
        self.done = anyio.Event()
        self._torn_down = anyio.Event()
        self._connect_index: int | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self.socket_app_uuid = str(uuidlib.uuid4())
        if self.state.answered:
            self.answered.set()
        if caller.fault is not None:
            self.faults = FaultInjector(caller.fault, self)
            self.record.fault = self.faults.record

    # -- running ------------------------------------------------------------------------------

    async def run(self, stream: anyio.abc.ByteStream, limit: float) -> CallRecord:
        """Play the call over `stream` for at most `limit` seconds; the record at the end."""
        self.publish("CHANNEL_CREATE")
        try:
            with anyio.move_on_after(limit) as scope:
                async with anyio.create_task_group() as tg:
                    self._tg = tg
                    self.listener = Listener(self.fake, stream, spawn=self.spawn, call=self)
                    tg.start_soon(self._channel_thread)
                    tg.start_soon(run_script, self.caller.script, self)
                    await self.listener.serve()
                    self.socket_gone = True
                    self.record.closed_at = self.clock()
                    self._parked_or_over.set()
                    self.wake.notify()
                    await self._torn_down.wait()
                    tg.cancel_scope.cancel()
            if scope.cancelled_caught:
                self.record.timed_out = True
                self.record.closed_at = self.record.closed_at or self.clock()
                if self.state.up:
                    self._mark_hangup("ALLOTTED_TIMEOUT", "timeout")
        finally:
            with anyio.CancelScope(shield=True):
                await stream.aclose()
            self.fake.unregister_call(self)
            self._destroy()
            self.record.ended_at = self.clock()
            self.record.variables = dict(self.state.variables)
            if self.listener is not None:
                self.record.bytes_sent = self.listener.outbox.bytes_sent
            if self.faults is not None:
                self.faults.finish()
            if self.listener is not None:
                self.listener.release_call()
            self.done.set()
            self.changed.notify()
        return self.record

    def spawn(self, fn: Job) -> None:
        """Run `fn` for as long as the call lives (timers, bgapi jobs)."""
        assert self._tg is not None
        self._tg.start_soon(fn)

    # -- what the socket tells the call -------------------------------------------------------

    def received(self, now: float, command: Command) -> None:
        self.record.commands.append(ReceivedCommand(now, command))
        if command.name == "sendmsg" and self._last_complete is not None:
            self.record.turnarounds.append(now - self._last_complete)
            self._last_complete = None
        if self.faults is not None:
            self.faults.command_received(command)

    def parks_at(self, command: Command) -> bool:
        """Whether the channel parks while `command` (just received) is being read."""
        park_at = self.park_at
        if self.parked or park_at is None:
            return False
        if park_at.name is not None and command.name != park_at.name:
            return False
        start = 0 if self._connect_index is None else self._connect_index + 1
        commands = self.record.commands[start:]
        if park_at.name is not None:
            commands = [c for c in commands if c.command.name == park_at.name]
        return len(commands) == park_at.n or (park_at.n == 0 and self._connect_index is None)

    def connect_received(self) -> None:
        assert self.listener is not None
        first = self._connect_index is None
        if first:
            self._connect_index = len(self.record.commands) - 1
        self.listener.outbox.send(self.state.connect_reply())
        if not first:
            return
        now = self.clock()
        self.connected_at = self.record.connected_at = now
        self.changed.notify()
        if self._park_delay is not None:
            delay = self._park_delay

            async def park_later() -> None:
                await anyio.sleep(delay)
                self.park_now()

            self.spawn(park_later)

    def park_now(self) -> None:
        if self.parked or not self.state.up or self.socket_gone:
            return
        self.parked = True
        self.park_time = self.clock()
        self.publish("CHANNEL_PARK")
        self._parked_or_over.set()

    def queue_message(self, command: Command) -> None:
        headers = command.headers
        app: AppRecord | None = None
        if (headers.get("call-command") or "").lower() == "execute":
            name = headers.get("execute-app-name") or ""
            app = AppRecord(
                name=name,
                arg=self._argument(command),
                event_uuid=headers.get("Event-UUID"),
                event_lock=is_true(headers.get("event-lock")),
                received_at=self.clock(),
            )
            self.record.apps.append(app)
            if app.event_uuid is None:
                self.violation("no-event-uuid", f"{name} sent without Event-UUID")
        if not self.state.up:
            self.violation("after-hangup", f"sendmsg after the channel hung up: {command.line}")
            return
        self.queue.append(Message(command, app))
        self.wake.notify()

    def exit_received(self) -> None:
        self.record.exit_at = self.clock()

    def client_closed(self) -> None:
        self.record.client_closed = True

    # -- the caller and the API ---------------------------------------------------------------

    # -- the channel thread -------------------------------------------------------------------

    async def _channel_thread(self) -> None:
        await self._parked_or_over.wait()
        if self.parked:
            await self._park_loop()
            self.publish("CHANNEL_UNPARK")
        if self.connected_at is not None:
            # socket_function: after the park, switch_ivr_parse_all_events runs what is still
            # queued, e.g. a `hangup` the server sent just before it closed the socket.
            while self.queue and self.state.up and not self.transferred:
                await self._parse_message(self.queue.popleft())
            self.publish(
                "CHANNEL_EXECUTE_COMPLETE",
                [
                    ("Application", "socket"),
                    ("Application-Data", self.socket_arg),
                    (
                        "Application-Response",
                        self.state.get_var("current_application_response") or "_none_",
                    ),
                    ("Application-UUID", self.socket_app_uuid),
                ],
            )
        if self.transferred and self.state.up and self.elsewhere is not None:
            await self.elsewhere()
        elif self.transferred and self.state.up:
            # The channel went on elsewhere in the dialplan; it ends there after a while.
            with anyio.move_on_after(self.caller.app_seconds("transfer")):
                while self.state.up:
                    await self.wake.wait()
        if self.state.up:
            self.hangup("NORMAL_CLEARING", "switch" if self.transferred else "server")
        state = self.state
        state.set_state(state="CS_HANGUP")
        self.publish("CHANNEL_STATE", variables=False)
        state.set_time("Channel-Hangup-Time")
        previous = state.call_state
        state.set_state(call_state="HANGUP")
        self.publish(
            "CHANNEL_CALLSTATE",
            pre=[("Original-Channel-Call-State", previous), ("Channel-Call-State-Number", "7")],
            variables=False,
        )
        state.set_state(state="CS_REPORTING")
        self.publish("CHANNEL_STATE", variables=False)
        for name, value in cdr_variables(state):
            state.set_var(name, value)
        self.publish("CHANNEL_HANGUP_COMPLETE", pre=[("Hangup-Cause", state.hangup_cause or "")])
        self._channel_down()
        self._torn_down.set()

    def _channel_down(self) -> None:
        """The listener noticed the hangup: disconnect, or linger."""
        listener = self.listener
        if listener is None or not listener.running:
            return
        linger = listener.linger
        if linger is None:
            listener.stop()
            return
        if self.faults is None or self.faults.channel_down_notice():
            listener.outbox.send(
                writers.disconnect_notice(
                    self.uuid, linger=True, channel_name=self.state.name, linger_time=linger
                )
            )
        if linger >= 0:

            async def linger_timeout() -> None:
                await anyio.sleep(linger + 0.5)
                listener.stop()

            self.spawn(linger_timeout)

    def _destroy(self) -> None:
        state = self.state
        if state.up:
            return
        state.set_state(state="CS_REPORTING", number=12)
        self.publish("CHANNEL_DESTROY")
        state.set_state(state="CS_DESTROY")
        self.publish("CHANNEL_STATE", variables=False)
