"""The load benchmark's floor: the call's exchange with the least Python there can be.

    python benchmarks/load/floor.py --port 8084

Not a server anyone should run: no time limits, no error handling, no logging, nothing read
but what this one call needs. It is there to show what a call costs on this machine when
nothing but the loop, the system calls and the bytes' framing is paid for, as the parser run's
floors do for parsing. Each connection is a `asyncio.Protocol` (on uvloop when installed, as
`ivrd serve` runs) that answers each message as it is framed, in the loop's callback:

- frames: the blank line, then `Content-Length` bytes when the head has one (its value is
  found by a search of the head, not by splitting it);
- what it sends: the commands `ivrd serve` sends for this call: `connect`, `myevents`, the
  daemon's `nixevent`, `linger` and `divert_events on` in one write; then, as the daemon does
  for a flow without key hooks, `nixevent DTMF` and the `multiset` of settings, neither waited
  for, in the write of the first of the six applications, each a `sendmsg` with `event-lock`
  and an Event-UUID, each sent when the one before completed; `exit` once
  CHANNEL_HANGUP_COMPLETE came;
- what it reads: an event's name is the start of its text, a completion is matched by its
  `Application-UUID` line, the digits are the `variable_choice` line. Nothing is decoded:
  the digits `42` are the same percent-encoded.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from collections.abc import Callable
from typing import Any

GREETING = "ivr/welcome.wav"
MENU = "ivr/menu.wav"
THANKS = "ivr/thanks.wav"
_numbers = itertools.count()


def next_event_uuid() -> str:
    """Unique in this process, which is all an Event-UUID needs: FreeSWITCH echoes it back."""
    return f"00000000-0000-4000-8000-{next(_numbers):012x}"


# The events of `myevents` the daemon stops with `nixevent` (ivrd.daemon.server.UNREAD_EVENTS).
UNREAD_EVENTS = [
    "CHANNEL_ANSWER",
    "CHANNEL_APPLICATION",
    "CHANNEL_BRIDGE",
    "CHANNEL_CREATE",
    "CHANNEL_DESTROY",
    "CHANNEL_EXECUTE",
    "CHANNEL_ORIGINATE",
    "CHANNEL_OUTGOING",
    "CHANNEL_PARK",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_STATE",
    "CHANNEL_UNPARK",
    "CHANNEL_UUID",
    "DETECTED_SPEECH",
    "NOTALK",
    "TALK",
]
# `connect` and the set-up in one write, as the daemon sends them: five replies, in order.
SETUP = (
    b"connect\n\nmyevents\n\nnixevent %s\n\nlinger\n\ndivert_events on\n\n"
    % " ".join(UNREAD_EVENTS).encode()
)
SETUP_REPLIES = 5
# What the daemon sends once the call is routed to a flow without key hooks, in the first
# application's write and not waited for: the keys stopped, the settings queued ahead of that
# application (FreeSWITCH runs event-locked applications in order).
NO_KEYS = b"nixevent DTMF\n\n"
SETTINGS = ("multiset", "^^|playback_terminators=none|tts_engine=flite|tts_voice=kal")
# The applications, in order; `set`'s argument comes from the digits.
STEPS: list[tuple[str, str | None]] = [
    ("answer", ""),
    ("playback", GREETING),
    ("play_and_get_digits", f"1 4 1 5000 # {MENU} silence_stream://250 choice \\d+ 3000"),
    ("set", None),
    ("playback", THANKS),
    ("hangup", "NORMAL_CLEARING"),
]
COMPLETE = b"Event-Name: CHANNEL_EXECUTE_COMPLETE\n"
HANGUP_COMPLETE = b"Event-Name: CHANNEL_HANGUP_COMPLETE\n"


class Call(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.replies = 0  # the `connect` reply first, then the setup's
        self.step = 0
        self.event_uuid = b""
        self.digits = ""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(SETUP)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        start = 0
        while True:
            end = buffer.find(b"\n\n", start)
            if end < 0:
                break
            at = buffer.find(b"Content-Length: ", start, end)
            if at < 0:
                self.on_reply()
                start = end + 2
                continue
            stop = buffer.find(b"\n", at, end + 1)
            body_end = end + 2 + int(buffer[at + 16 : stop])
            if body_end > len(buffer):
                break
            self.on_event(buffer[end + 2 : body_end])
            start = body_end
        self.buffer = buffer[start:]

    def on_reply(self) -> None:
        # Replies to the setup come before any application's; an application's `+OK` says
        # nothing the completion does not.
        if self.replies < SETUP_REPLIES:
            self.replies += 1
            if self.replies == SETUP_REPLIES:
                self.execute(NO_KEYS + sendmsg(*SETTINGS, next_event_uuid().encode()))

    def on_event(self, event: bytes) -> None:
        if event.startswith(COMPLETE):
            if event.find(b"\nApplication-UUID: " + self.event_uuid + b"\n") < 0:
                return
            if STEPS[self.step][0] == "play_and_get_digits":
                at = event.find(b"\nvariable_choice: ")
                if at >= 0:
                    self.digits = event[at + 18 : event.find(b"\n", at + 18)].decode()
            self.step += 1
            if self.step < len(STEPS):
                self.execute()
        elif event.startswith(HANGUP_COMPLETE):
            self.transport.write(b"exit\n\n")

    def execute(self, ahead: bytes = b"") -> None:
        app, arg = STEPS[self.step]
        if arg is None:
            arg = f"choice={self.digits or 'none'}"
        self.event_uuid = next_event_uuid().encode()
        self.transport.write(ahead + sendmsg(app, arg, self.event_uuid))

    def eof_received(self) -> bool:
        return False  # FreeSWITCH closes after the disconnect notice: so do we


def sendmsg(app: str, arg: str, event_uuid: bytes) -> bytes:
    return (
        b"sendmsg\ncall-command: execute\nexecute-app-name: %s\nexecute-app-arg: %s\n"
        b"event-lock: true\nEvent-UUID: %s\n\n" % (app.encode(), arg.encode(), event_uuid)
    )


def serve_protocol(protocol: Callable[[], asyncio.Protocol], host: str, port: int) -> None:
    """Serve a connection per `protocol()` until interrupted, on uvloop when installed."""

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(protocol, host, port, backlog=4096)
        async with server:
            await server.serve_forever()

    try:
        import uvloop
    except ImportError:
        asyncio.run(serve())
    else:
        uvloop.run(serve())


def serve_from_command_line(protocol: Callable[[], asyncio.Protocol], doc: str) -> None:
    """`--host` and `--port` from the command line, then `serve_protocol` there."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    serve_protocol(protocol, options.host, options.port)


def main() -> None:
    serve_from_command_line(Call, __doc__ or "")


if __name__ == "__main__":
    main()
