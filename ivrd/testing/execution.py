"""How a parked channel runs what `sendmsg` queued: FreeSWITCH's async `socket` in motion.

`sendmsg` only queues. The parked channel picks its queue up at the next 20 ms frame and runs
everything queued, one message after another (switch_ivr_parse_all_events). A media
application (playback, ...) keeps parsing the queue while it plays, so a message sent while it
runs is executed NESTED, at once, unless the running message came with `event-lock: true`.
A hangup fires CHANNEL_HANGUP at once; running applications then see it and complete.
"""

from __future__ import annotations

import math
import uuid as uuidlib
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from ivrd.esl.protocol import Command
from ivrd.esl.timeouts import current_clock
from ivrd.testing._signal import Job, Signal
from ivrd.testing.caller import AppRun, Caller
from ivrd.testing.channel import ChannelState
from ivrd.testing.events import Pairs
from ivrd.testing.expand import expand_variables
from ivrd.testing.record import AppRecord, CallRecord, HangupBy, SentDtmf, Violation

if TYPE_CHECKING:
    from ivrd.testing.fake import FakeFreeSWITCH
    from ivrd.testing.faults import FaultInjector


@dataclass
class Message:
    """A `sendmsg` waiting in the channel's private queue."""

    command: Command
    app: AppRecord | None


@dataclass
class RunningApp:
    name: str
    arg: str
    media: bool = False
    broken_at: float | None = None


def is_true(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "yes", "on", "1", "enabled", "active")


class Execution(ABC):
    """The channel side of a call: its state, its private queue and what runs from it."""

    def __init__(
        self, fake: FakeFreeSWITCH, state: ChannelState, caller: Caller, frame: float
    ) -> None:
        self.fake = fake
        self.state = state
        self.uuid = state.uuid
        self.caller = caller
        self.frame = frame
        self.clock = current_clock()
        self.record = CallRecord(uuid=self.uuid, started_at=self.clock())
        self.runs: list[AppRun] = []
        self.changed = Signal()
        self.wake = Signal()
        self.queue: deque[Message] = deque()
        self.dtmf: deque[tuple[str, str, int]] = deque()
        self.stack: list[RunningApp] = []
        self.parked = False
        self.park_time = 0.0
        self.transferred = False
        # What the channel does once `transferred` took it out of the socket application (a
        # queue's bridge to an agent); None: it goes on in the dialplan and ends after a while.
        self.elsewhere: Job | None = None
        self.answered = anyio.Event()
        self._parked_or_over = anyio.Event()
        self._event_locks = 0
        self._last_complete: float | None = None
        self.socket_gone = False
        self.faults: FaultInjector | None = None

    @abstractmethod
    def spawn(self, fn: Job) -> None:
        """Run `fn` for as long as the call lives (timers, bgapi jobs)."""

    def publish(
        self,
        name: str,
        extra: Pairs = (),
        *,
        pre: Pairs = (),
        variables: bool = True,
        body: str | None = None,
    ) -> None:
        """Fire an event about this channel."""
        if not self.fake.wanted(name, self.uuid):
            return
        event = self.state.event(name, extra, pre=pre, variables=variables, body=body)
        self.fake.publish_event(event)

    def violation(self, kind: str, detail: str) -> None:
        self.record.violations.append(Violation(self.clock(), kind, detail))

    def note(self, text: str) -> None:
        self.record.notes.append(text)

    @property
    def up(self) -> bool:
        return self.state.up

    def press(self, digit: str, *, source: str = "APP", duration_ms: int = 2000) -> None:
        if not self.state.up:
            return
        self.dtmf.append((digit, source, duration_ms))
        self.record.dtmf.append(SentDtmf(self.clock(), digit))
        self.wake.notify()

    def caller_hangup(self, cause: str) -> None:
        self.hangup(cause, "caller")

    def break_media(self, *, flush: bool = False) -> None:
        """uuid_break: stop the running media applications (all nested ones)."""
        now = self.clock()
        for running in self.stack:
            if running.media and running.broken_at is None:
                running.broken_at = now
        if flush:
            self.queue.clear()
        self.wake.notify()

    def hangup(self, cause: str, by: HangupBy) -> None:
        if not self.state.up:
            return
        self._mark_hangup(cause, by)
        self.publish("CHANNEL_HANGUP")
        self._parked_or_over.set()
        self.wake.notify()
        self.changed.notify()

    def _mark_hangup(self, cause: str, by: HangupBy) -> None:
        self.state.mark_hangup(cause)
        self.record.hangup_cause = cause
        self.record.hangup_by = by
        self.record.hangup_at = self.clock()

    async def _park_loop(self) -> None:
        while self.state.up and not self.socket_gone and not self.transferred:
            if not self.queue and not self.dtmf:
                await self.wake.wait()
                continue
            await self._next_frame()
            while self.dtmf and self.state.up:
                self.dequeue_dtmf()
            while self.queue and self.state.up and not self.transferred:
                await self._parse_message(self.queue.popleft())

    async def _next_frame(self) -> None:
        if self.frame <= 0:
            return
        elapsed = self.clock() - self.park_time
        await anyio.sleep(self.frame - math.fmod(elapsed, self.frame))

    async def run_next_message(self) -> None:
        """Run the oldest queued message, as a bridge does between frames
        (switch_ivr_parse_next_event): the bridge waits while it runs."""
        await self._parse_message(self.queue.popleft())

    def dequeue_dtmf(self) -> str:
        digit, source, duration = self.dtmf.popleft()
        self.state.digits_dialed.append(digit)
        self.publish(
            "DTMF",
            [("DTMF-Digit", digit), ("DTMF-Duration", str(duration)), ("DTMF-Source", source)],
            variables=False,
        )
        return digit

    async def _parse_message(self, message: Message) -> None:
        headers = message.command.headers
        command = (headers.get("call-command") or "").lower()
        locked = is_true(headers.get("event-lock"))
        self._event_locks += locked
        try:
            if command == "execute":
                await self._execute(message)
            elif command == "hangup":
                self.hangup(headers.get("hangup-cause") or "NORMAL_CLEARING", "server")
            elif command:
                self.note(f"call-command {command!r} accepted and ignored")
        finally:
            self._event_locks -= locked
        if self.fake.wanted("PRIVATE_COMMAND", self.uuid):
            pairs = [("Command", message.command.line), *headers.pairs()]
            pairs = [(name, value) for name, value in pairs if name.lower() != "content-length"]
            self.fake.publish_event(self.state.event("PRIVATE_COMMAND", pre=pairs))

    @staticmethod
    def _argument(command: Command) -> str:
        headers = command.headers
        arg = headers.get("execute-app-arg") or ""
        if not arg and (headers.get("content-type") or "").lower() == "text/plain":
            arg = command.body.decode("utf-8", "replace")
        return arg

    async def _execute(self, message: Message) -> None:
        headers = message.command.headers
        name = headers.get("execute-app-name")
        if not name:
            return
        arg = self._argument(message.command)
        try:
            loops = int(headers.get("loops") or "1")
        except ValueError:
            loops = 1
        loops = loops or 1
        record = message.app
        if record is not None and self.stack:
            record.nested = True
            outer = self.stack[-1].name
            self.violation(
                "nested-execution",
                f"{name} ran nested inside {outer}, which was sent without event-lock",
            )
        event_uuid = headers.get("Event-UUID")
        count = 0
        while count < loops or loops < 0:
            count += 1
            if event_uuid:
                self.state.set_var("app_uuid", event_uuid)
            self.state.set_var("current_loop", str(count))
            self.state.set_var("total_loops", str(loops))
            began = self.clock()
            if not await self._run_app(name, arg, event_uuid, record):
                break
            if not self.state.up or self.clock() - began < 0.5:
                break
        self.state.set_var("current_loop", None)
        self.state.set_var("total_loops", None)

    def expand(self, text: str) -> str:
        """`${var}` references and escapes, as FreeSWITCH expands application arguments."""
        globals_ = self.fake.global_variables
        return expand_variables(text, lambda name: self.state.lookup(name, globals_))

    async def _run_app(
        self, name: str, arg: str, event_uuid: str | None, record: AppRecord | None
    ) -> bool:
        from ivrd.testing.apps import APPLICATIONS, MEDIA_APPLICATIONS

        unknown = self.faults is not None and self.faults.app_starting(name)
        implementation = None if unknown else APPLICATIONS.get(name)
        if implementation is None:
            if not unknown:  # (an injected fault is no mistake of the server's)
                self.violation("unknown-application", name)
            self.hangup("DESTINATION_OUT_OF_ORDER", "switch")
            return False
        expanded = self.expand(arg)
        app_uuid = event_uuid or str(uuidlib.uuid4())
        state = self.state
        state.set_var("app_uuid", None)
        state.set_var("current_application", name)
        state.set_var("current_application_data", expanded)
        state.set_var("current_application_response", None)
        state.last_app = (name, expanded)
        running = RunningApp(name, expanded, media=name in MEDIA_APPLICATIONS)
        self.stack.append(running)
        run = AppRun(len(self.runs), name)
        self.runs.append(run)
        now = self.clock()
        if record is not None:
            record.started_at = now
        data = [("Application-Data", expanded)] if expanded else []
        self.publish(
            "CHANNEL_EXECUTE",
            [("Application", name), *data, ("Application-UUID", app_uuid)],
        )
        # switch_core_session_exec sets it once more after CHANNEL_EXECUTE (moving it last).
        state.set_var("current_application", name)
        self.fake.log(
            7, f"EXECUTE [depth={len(self.stack) - 1}] {state.name} {name}({expanded})\n", self.uuid
        )
        self.changed.notify()
        hung_up = self.faults is not None and self.faults.app_started(name)
        try:
            response = None if hung_up else await implementation(self, running)
        finally:
            self.stack.remove(running)
        if response is not None:
            state.set_var("current_application_response", response)
        response_text = state.get_var("current_application_response") or "_none_"
        self.publish(
            "CHANNEL_EXECUTE_COMPLETE",
            [
                ("Application", name),
                *data,
                ("Application-Response", response_text),
                ("Application-UUID", app_uuid),
            ],
        )
        now = self.clock()
        if record is not None:
            record.ended_at = now
            record.response = response_text
        self._last_complete = now
        run.ended = True
        self.changed.notify()
        return True

    async def media(
        self,
        running: RunningApp,
        seconds: float,
        *,
        on_dtmf: Callable[[str], bool] | None = None,
    ) -> str:
        """Let `seconds` of media pass: "done", "hangup", "break" or "dtmf".

        Meanwhile DTMF goes to `on_dtmf(digit) -> bool` (True ends the wait) or stays queued,
        and messages queued by `sendmsg` run nested unless an event-locked message is running.
        """
        # An absolute deadline: subtracting elapsed times can leave a remainder too small for
        # the clock to ever reach, and then the loop would spin.
        deadline = self.clock() + seconds
        while True:
            if not self.state.up:
                return "hangup"
            if running.broken_at is not None:
                delay = running.broken_at + self.frame - self.clock()
                if delay > 0:
                    await anyio.sleep(delay)
                running.broken_at = None
                return "break"
            if on_dtmf is not None and self.dtmf:
                if on_dtmf(self.dequeue_dtmf()):
                    return "dtmf"
                continue
            if running.media and self.queue and not self._event_locks and not self.transferred:
                nested_from = self.clock()
                await self._parse_message(self.queue.popleft())
                # The outer application is suspended while the nested one runs.
                deadline += self.clock() - nested_from
                continue
            if self.clock() >= deadline:
                return "done"
            with anyio.move_on_at(deadline):
                await self.wake.wait()
