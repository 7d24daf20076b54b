"""Faults injected on purpose: a FreeSWITCH (or a network) that breaks off in the worst moment.

A `Caller` may carry one `Fault`; the fake then plays the call faithfully until the fault's
trigger comes, breaks the call the way the fault says, and notes in `CallRecord.fault` what it
did (`detail`) and what the server did afterwards (`outcome`). Without a fault nothing here
runs and the fake sends exactly what it always sends.

    Caller(script=[...], fault=Fault.close_mid_application(at_app="playback", delay=0.2))

Triggers: `at_app` is an application name (or a tuple of names, or "*"), the fault fires when
the `nth` such application starts; `at_command` is the first word of a command the server
sends (`sendmsg`, `api`, `connect`, "*"...), the fault fires when the `nth` such command is
read. A fault whose trigger never comes is not injected (`record.fault.injected` is False).

The faults, and what a real FreeSWITCH does that they stand for:

- `close_mid_application`: the socket closes while an application runs (FreeSWITCH crashed,
  the network broke). Frames already queued still go out; then the connection ends, no notice.
- `close_mid_reply`: only the first `keep` bytes (default: half) of the reply to a command get
  out, then the socket closes.
- `close_mid_frame`: the CHANNEL_EXECUTE event of an application is cut inside its body.
- `no_reply`: from that command on FreeSWITCH sends nothing more (no reply, no event) but
  keeps reading and executing what it is sent; the socket stays open until the server closes
  it or sends `exit`.
- `unknown_application`: FreeSWITCH does not know the application (its module is not loaded):
  `+OK`, no CHANNEL_EXECUTE, the channel hangs up with DESTINATION_OUT_OF_ORDER and no
  completion ever comes.
- `hangup_before_complete`: the channel hangs up (`cause`) just as the application starts, so
  CHANNEL_HANGUP arrives between its CHANNEL_EXECUTE and its CHANNEL_EXECUTE_COMPLETE, even
  for one that normally completes at once (`answer`, `set`).
- `disconnect_notice`: the channel hangs up and the disconnect notice overtakes the hangup
  events (mod_event_socket checks the channel state before it flushes the socket's event
  queue). `linger=True`: a `linger` notice, the CHANNEL_HANGUP, the completion and the rest
  follow, the socket stays open until `exit`; `linger=False`: FreeSWITCH does not linger, the
  notice says `disconnect` and the socket closes at once, the hangup events are lost.

A socket the fault closed hangs its channel up (`hangup_by` "switch"), as FreeSWITCH hangs a
channel up when its outbound socket goes away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

import anyio

from ivrd.esl.protocol import Command, writers

if TYPE_CHECKING:
    from ivrd.testing.listener import Listener
    from ivrd.testing.outbound import OutboundCall

FaultKind = Literal[
    "close_mid_application",
    "close_mid_reply",
    "close_mid_frame",
    "no_reply",
    "unknown_application",
    "hangup_before_complete",
    "disconnect_notice",
]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
_COMMAND_KINDS = frozenset({"close_mid_reply", "no_reply"})

Trigger = str | tuple[str, ...]


@dataclass(frozen=True)
class Fault:
    """One fault and its trigger; build it with the class methods named after the kinds."""

    kind: FaultKind
    at_app: Trigger | None = None
    at_command: Trigger | None = None
    nth: int = 1
    delay: float = 0.0
    keep: int | None = None
    linger: bool = True
    cause: str = "NORMAL_CLEARING"

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(FAULT_KINDS)}")
        by_command = self.kind in _COMMAND_KINDS
        if by_command and (self.at_command is None or self.at_app is not None):
            raise ValueError(f"a {self.kind} fault is triggered by a command (at_command)")
        if not by_command and (self.at_app is None or self.at_command is not None):
            raise ValueError(f"a {self.kind} fault is triggered by an application (at_app)")
        if self.nth < 1:
            raise ValueError(f"nth counts from 1, not {self.nth}")
        if self.delay < 0 or (self.keep is not None and self.keep < 0):
            raise ValueError("delay and keep cannot be negative")

    @classmethod
    def close_mid_application(
        cls, at_app: Trigger = "playback", *, nth: int = 1, delay: float = 0.0
    ) -> Fault:
        """Close the socket `delay` seconds after the application started."""
        return cls("close_mid_application", at_app=at_app, nth=nth, delay=delay)

    @classmethod
    def close_mid_reply(
        cls, at_command: Trigger = "sendmsg", *, nth: int = 1, keep: int | None = None
    ) -> Fault:
        """Send `keep` bytes (default: half) of the reply to the command, then close."""
        return cls("close_mid_reply", at_command=at_command, nth=nth, keep=keep)

    @classmethod
    def close_mid_frame(
        cls, at_app: Trigger = "playback", *, nth: int = 1, keep: int | None = None
    ) -> Fault:
        """Cut the application's CHANNEL_EXECUTE after `keep` body bytes (default: half)."""
        return cls("close_mid_frame", at_app=at_app, nth=nth, keep=keep)

    @classmethod
    def no_reply(cls, at_command: Trigger = "sendmsg", *, nth: int = 1) -> Fault:
        """From this command on, send nothing at all (the socket stays open)."""
        return cls("no_reply", at_command=at_command, nth=nth)

    @classmethod
    def unknown_application(cls, at_app: Trigger = "playback", *, nth: int = 1) -> Fault:
        """Treat the application as one FreeSWITCH does not know."""
        return cls("unknown_application", at_app=at_app, nth=nth)

    @classmethod
    def hangup_before_complete(
        cls, at_app: Trigger = "answer", *, nth: int = 1, cause: str = "NORMAL_CLEARING"
    ) -> Fault:
        """Hang up as the application starts: CHANNEL_HANGUP before its completion."""
        return cls("hangup_before_complete", at_app=at_app, nth=nth, cause=cause)

    @classmethod
    def disconnect_notice(
        cls,
        at_app: Trigger = "playback",
        *,
        linger: bool,
        nth: int = 1,
        delay: float = 0.0,
        cause: str = "NORMAL_CLEARING",
    ) -> Fault:
        """Hang up `delay` s into the application, the disconnect notice first."""
        return cls(
            "disconnect_notice", at_app=at_app, nth=nth, delay=delay, linger=linger, cause=cause
        )

    def __str__(self) -> str:
        trigger = self.at_app if self.at_app is not None else self.at_command
        where = "|".join(trigger) if isinstance(trigger, tuple) else str(trigger)
        text = f"{self.kind.replace('_', ' ')} at {where} #{self.nth}"
        if self.delay:
            text += f" +{self.delay:g}s"
        if self.kind == "disconnect_notice":
            text += " (linger)" if self.linger else " (no linger)"
        return text


@dataclass
class FaultRecord:
    """What became of a call's fault: when it fired, what the fake did, what the server did."""

    fault: Fault
    injected_at: float | None = None
    detail: str = ""
    outcome: str = ""

    @property
    def injected(self) -> bool:
        return self.injected_at is not None


def _matches(name: str, wanted: Trigger) -> bool:
    if isinstance(wanted, str):
        return wanted in ("*", name)
    return name in wanted


def _body_middle(frame: bytes) -> int:
    """Bytes of `frame` up to the middle of its body (of the frame itself if it has none)."""
    end = frame.find(b"\n\n")
    if end < 0 or end + 2 >= len(frame):
        return len(frame) // 2
    return end + 2 + (len(frame) - end - 2) // 2


class FaultInjector:
    """Carries one Fault out during one call; OutboundCall makes it and calls the hooks."""

    def __init__(self, fault: Fault, call: OutboundCall) -> None:
        self.fault = fault
        self.call = call
        self.record = FaultRecord(fault)
        self.notice_sent = False
        self._seen = 0
        self._firing = False
        self._commands_before = 0

    # -- hooks ---------------------------------------------------------------------------------

    def command_received(self, command: Command) -> None:
        """A command was read (before it is carried out)."""
        fault = self.fault
        if fault.at_command is None or not self._next_matches(command.name, fault.at_command):
            return
        outbox = self._listener().outbox
        line = command.line
        if fault.kind == "no_reply":
            outbox.mute()
            self._injected(f"stopped sending anything at `{line}`")
            return

        def cut(sent: int, total: int) -> None:
            self._close(f"sent {sent} of {total} bytes of the reply to `{line}`, then closed")

        outbox.cut_next(lambda frame: _keep(frame, fault.keep, whole=True), cut, events=False)
        self._firing = True

    def app_starting(self, name: str) -> bool:
        """An application is about to run; True: act as if FreeSWITCH did not know it."""
        fault = self.fault
        if fault.at_app is None or not self._next_matches(name, fault.at_app):
            return False
        if fault.kind == "unknown_application":
            self._injected(f"treated `{name}` as an unknown application")
            return True
        if fault.kind == "close_mid_frame":

            def cut(sent: int, total: int) -> None:
                self._close(
                    f"cut the CHANNEL_EXECUTE of `{name}` after {sent} of {total} bytes, "
                    "then closed"
                )

            keep = fault.keep
            self._listener().outbox.cut_next(lambda frame: _keep(frame, keep), cut, events=True)
        self._firing = True
        return False

    def app_started(self, name: str) -> bool:
        """Its CHANNEL_EXECUTE was fired; True: the channel hung up, skip the application."""
        if not self._firing or self.record.injected:
            return False
        self._firing = False
        fault, call = self.fault, self.call
        if fault.kind == "hangup_before_complete":
            self._injected(f"hung up ({fault.cause}) as `{name}` started")
            call.hangup(fault.cause, "caller")
            return True
        if fault.kind in ("close_mid_application", "disconnect_notice"):

            async def later() -> None:
                await anyio.sleep(fault.delay)
                if call.state.up and not call.socket_gone:
                    self._break_off(name)

            call.spawn(later)
        return False

    def channel_down_notice(self) -> bool:
        """The channel hung up; False: the fault already sent the disconnect notice."""
        return not self.notice_sent

    def finish(self) -> None:
        """The call is over: say what the server did after the fault."""
        record, call = self.record, self.call.record
        if record.injected_at is None:
            record.outcome = "not injected: its trigger never came"
            return
        at = record.injected_at
        after = [c.command.line for c in call.commands[self._commands_before :]]
        parts = [f"{len(after)} command(s) after it" + (f" ({', '.join(after)})" if after else "")]
        if call.exit_at is not None and call.exit_at >= at:
            parts.append(f"exit after {call.exit_at - at:.2f} s")
        if call.closed_at is not None:
            who = "the server closed" if call.client_closed else "closed"
            parts.append(f"{who} after {call.closed_at - at:.2f} s")
        if call.timed_out:
            parts.append("the call timed out")
        record.outcome = "; ".join(parts)

    # -- the fault's work ------------------------------------------------------------------------

    def _next_matches(self, name: str, wanted: Trigger) -> bool:
        if self.record.injected or self._firing or not _matches(name, wanted):
            return False
        self._seen += 1
        return self._seen == self.fault.nth

    def _listener(self) -> Listener:
        listener = self.call.listener
        assert listener is not None, "a fault fires only while the socket is served"
        return listener

    def _injected(self, detail: str) -> None:
        self.record.injected_at = anyio.current_time()
        self.record.detail = detail
        self._commands_before = len(self.call.record.commands)
        self.call.note(f"fault injected: {detail}")

    def _close(self, detail: str) -> None:
        """The socket was cut (the outbox closes it): stop reading, hang the channel up."""
        self._firing = False
        self._injected(detail)
        self._listener().stop()
        self.call.hangup(self.fault.cause, "switch")

    def _break_off(self, name: str) -> None:
        fault, call = self.fault, self.call
        listener = self._listener()
        if fault.kind == "close_mid_application":
            listener.outbox.close()
            self._close(f"closed the socket {fault.delay:g} s into `{name}`")
            return
        self.notice_sent = True
        notice = writers.disconnect_notice(
            call.uuid,
            linger=fault.linger,
            channel_name=call.state.name,
            linger_time=-1 if listener.linger is None else listener.linger,
        )
        if fault.linger:
            listener.outbox.send(notice)
            self._injected(f"sent a linger notice {fault.delay:g} s into `{name}`, then hung up")
            call.hangup(fault.cause, "switch")
        else:
            self._injected(f"sent a disconnect notice {fault.delay:g} s into `{name}` and closed")
            listener.stop(notice)
            call.hangup(fault.cause, "switch")


def _keep(frame: bytes, keep: int | None, *, whole: bool = False) -> int:
    """How much of `frame` goes out: `keep` bytes of the frame (`whole`) or of its body."""
    if keep is None:
        return len(frame) // 2 if whole else _body_middle(frame)
    if whole:
        return min(keep, len(frame) - 1)
    end = frame.find(b"\n\n")
    start = end + 2 if end >= 0 else 0
    return min(start + keep, len(frame) - 1)
