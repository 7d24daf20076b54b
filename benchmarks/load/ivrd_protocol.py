"""The load benchmark's call on ivrd's sans-I/O protocol layer alone, driven by callbacks.

    python benchmarks/load/ivrd_protocol.py --port 8084

Between the floor (floor.py) and the library session (ivrd_library.py): the same exchange as
the floor, with ivrd's `Parser` framing and reading every message (each event's name and the
headers the call needs, decoded when read, as the daemon reads them) and ivrd's `commands`
building what is sent. No session, no tasks, no time limits: like the floor, a reference, not
a way to write a server. What this costs above the floor is the protocol layer's share of a
call; what ivrd-library costs above this, the session's (tasks, waits, time limits).
"""

from __future__ import annotations

import asyncio
from typing import Any

from floor import SETTINGS, STEPS, UNREAD_EVENTS, next_event_uuid, serve_from_command_line

from ivrd.esl.protocol import CommandReply, EventMessage, Parser, commands

# `connect` and the set-up in one write, as the daemon sends them: five replies, in order.
SETUP = (
    commands.connect(),
    commands.myevents(),
    commands.nixevent(UNREAD_EVENTS),
    commands.linger(),
    commands.divert_events(True),
)


class Call(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = Parser()
        self.replies = 0  # the `connect` reply first, then the setup's
        self.step = 0
        self.event_uuid = ""
        self.digits = ""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(b"".join(SETUP))

    def data_received(self, data: bytes) -> None:
        self.parser.feed(data)
        for message in self.parser:
            if isinstance(message, CommandReply):
                self.on_reply()
            elif isinstance(message, EventMessage):
                self.on_event(message)

    def on_reply(self) -> None:
        if self.replies < len(SETUP):
            self.replies += 1
            if self.replies == len(SETUP):
                # As the floor: the keys stopped and the settings queued, neither waited for,
                # in the first application's write.
                self.execute(
                    commands.nixevent(["DTMF"])
                    + commands.execute(*SETTINGS, event_uuid=next_event_uuid())
                )

    def on_event(self, message: EventMessage) -> None:
        event = message.event
        name = event.name
        if name == "CHANNEL_EXECUTE_COMPLETE":
            if event.get("Application-UUID") != self.event_uuid:
                return
            if STEPS[self.step][0] == "play_and_get_digits":
                self.digits = event.get("variable_choice") or ""
            self.step += 1
            if self.step < len(STEPS):
                self.execute()
        elif name == "CHANNEL_HANGUP_COMPLETE":
            self.transport.write(commands.exit())

    def execute(self, ahead: bytes = b"") -> None:
        app, arg = STEPS[self.step]
        if arg is None:
            arg = f"choice={self.digits or 'none'}"
        self.event_uuid = next_event_uuid()
        self.transport.write(ahead + commands.execute(app, arg, event_uuid=self.event_uuid))

    def eof_received(self) -> bool:
        return False


def main() -> None:
    serve_from_command_line(Call, __doc__ or "")


if __name__ == "__main__":
    main()
