"""A raw FreeSWITCH peer for unit tests: real sockets, FreeSWITCH's frames, no fake logic.

It plays FreeSWITCH's side by hand: dial the outbound server (or accept an inbound client),
read what the library sent with `CommandParser`, answer with `protocol.writers` frames. Each
test scripts exactly the frames of the situation it checks.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc

from ivrd.esl import OutboundServer, OutboundSession
from ivrd.esl.protocol import Command, CommandParser, Sentinel, writers

CALL_UUID = "062ecf69-4a2f-4a84-963c-403fc6b83e31"
WAIT = 5.0  # seconds a test waits for something that should come at once


def channel_data(uuid: str = CALL_UUID, **variables: str) -> list[tuple[str, str]]:
    pairs = [
        ("Event-Name", "CHANNEL_DATA"),
        ("Channel-Name", "loopback/ivr1-b"),
        ("Unique-ID", uuid),
        ("Caller-Caller-ID-Number", "0000000000"),
        ("Caller-Destination-Number", "ivr1"),
        ("variable_uuid", uuid),
        ("variable_current_application_data", "127.0.0.1:8084 async full"),
    ]
    pairs += [(f"variable_{name}", value) for name, value in variables.items()]
    return pairs


def event(name: str, uuid: str = CALL_UUID, body: str | None = None, **headers: str) -> bytes:
    pairs = [("Event-Name", name), ("Unique-ID", uuid)]
    pairs += [(key.replace("_", "-") if key[0].isupper() else key, v) for key, v in headers.items()]
    return writers.event_plain(pairs, body)


def event_pairs(name: str, pairs: Sequence[tuple[str, str]], uuid: str = CALL_UUID) -> bytes:
    return writers.event_plain([("Event-Name", name), ("Unique-ID", uuid), *pairs])


class Peer:
    """One socket, FreeSWITCH's end of it."""

    def __init__(self, stream: anyio.abc.SocketStream, wait: float = WAIT) -> None:
        self.stream = stream
        self.wait = wait
        self.parser = CommandParser()
        self.received: list[Command] = []

    async def read_command(self) -> Command:
        with anyio.fail_after(self.wait):
            while True:
                command = self.parser.next_command()
                if not isinstance(command, Sentinel):
                    self.received.append(command)
                    return command
                try:
                    data = await self.stream.receive()
                except anyio.EndOfStream:
                    self.parser.feed_eof()
                    continue
                self.parser.feed(data)

    async def expect(self, line: str) -> Command:
        command = await self.read_command()
        assert command.line == line, f"expected {line!r}, got {command.line!r}"
        return command

    async def read_eof(self) -> None:
        """Until the library closes (or half-closes) its side; nothing else may come."""
        with anyio.fail_after(self.wait):
            while True:
                try:
                    data = await self.stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return
                self.parser.feed(data)
                command = self.parser.next_command()
                assert isinstance(command, Sentinel), f"unexpected command {command!r}"

    async def send(self, *frames: bytes) -> None:
        await self.stream.send(b"".join(frames))

    async def reply(self, text: str = "+OK") -> None:
        await self.send(writers.command_reply(text))

    async def handshake(
        self,
        uuid: str = CALL_UUID,
        *,
        linger: bool = True,
        divert: bool = True,
        data: list[tuple[str, str]] | None = None,
        nixed: Collection[str] = (),
    ) -> None:
        """connect and the set-up (myevents, nixevent `nixed` if any, linger, divert_events),
        all read before any is answered: the library sends them together, in one write."""
        replies = await self.expect_setup(linger=linger, divert=divert, nixed=nixed)
        await self.send(writers.channel_data_reply(data or channel_data(uuid)), *replies)

    async def expect_setup(
        self, *, linger: bool = True, divert: bool = True, nixed: Collection[str] = ()
    ) -> list[bytes]:
        """Read `connect` and the set-up commands sent with it; their replies but the first."""
        await self.expect("connect")
        await self.expect("myevents")
        replies = [writers.command_reply("+OK Events Enabled")]
        if nixed:
            await self.expect("nixevent " + " ".join(sorted(nixed)))
            replies.append(writers.command_reply("+OK events nixed"))
        if linger:
            await self.expect("linger")
            replies.append(writers.command_reply("+OK will linger"))
        if divert:
            await self.expect("divert_events on")
            replies.append(writers.command_reply("+OK events diverted"))
        return replies

    async def expect_execute(self, app: str, arg: str | None = None) -> Command:
        command = await self.expect("sendmsg")
        headers = command.headers
        assert headers["call-command"] == "execute"
        assert headers["execute-app-name"] == app
        assert headers.get("execute-app-arg") == arg
        assert headers["event-lock"] == "true"
        return command

    async def complete(
        self, command: Command, response: str = "_none_", uuid: str = CALL_UUID, **variables: str
    ) -> None:
        """Send the CHANNEL_EXECUTE_COMPLETE matching `command`'s Event-UUID."""
        pairs = [(f"variable_{name}", value) for name, value in variables.items()]
        pairs += [
            ("Application", command.headers["execute-app-name"]),
            ("Application-Response", response),
            ("Application-UUID", command.headers["Event-UUID"]),
        ]
        await self.send(event_pairs("CHANNEL_EXECUTE_COMPLETE", pairs, uuid))

    async def hangup(self, cause: str = "NORMAL_CLEARING", uuid: str = CALL_UUID) -> None:
        await self.send(event("CHANNEL_HANGUP", uuid, **{"Hangup-Cause": cause}))

    async def call_gone(
        self, cause: str = "NORMAL_CLEARING", uuid: str = CALL_UUID, *, linger: bool = True
    ) -> None:
        """CHANNEL_HANGUP_COMPLETE and the disconnect notice, as after every hangup."""
        await self.send(
            event("CHANNEL_HANGUP_COMPLETE", uuid, **{"Hangup-Cause": cause}),
            writers.disconnect_notice(uuid, linger=linger, channel_name="loopback/ivr1-b"),
        )

    async def goodbye(self) -> None:
        """Answer `exit` as FreeSWITCH does and close."""
        await self.expect("exit")
        await self.send(writers.command_reply("+OK bye"))
        await self.send(writers.disconnect_notice(CALL_UUID, linger=False))
        await self.stream.aclose()

    async def aclose(self) -> None:
        await self.stream.aclose()

    async def __aenter__(self) -> Peer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stream.aclose()


@asynccontextmanager
async def dial(server: OutboundServer, wait: float = WAIT) -> AsyncIterator[Peer]:
    """FreeSWITCH's `socket` application connecting to the outbound server.

    `wait`: how long the peer waits for each thing it expects (raise it on a virtual clock).
    """
    stream = await anyio.connect_tcp("127.0.0.1", port_of(server))
    async with stream:
        yield Peer(stream, wait)


def port_of(server: OutboundServer) -> int:
    assert server.bound_port is not None, "the server is not listening"
    return server.bound_port


Handler = Callable[[OutboundSession], Awaitable[None]]


@asynccontextmanager
async def serving(handler: Handler, **options: Any) -> AsyncIterator[OutboundServer]:
    """An OutboundServer on a free loopback port, stopped at the end of the block."""
    server = OutboundServer(handler, "127.0.0.1", 0, **options)
    async with anyio.create_task_group() as task_group:
        await task_group.start(server.serve)
        yield server
        task_group.cancel_scope.cancel()


async def assert_nothing_sent(peer: Peer) -> None:
    """Once every task is blocked, nothing the library wrote is waiting to be read."""
    await anyio.wait_all_tasks_blocked()
    raw = peer.stream.extra(anyio.abc.SocketAttribute.raw_socket)
    # asyncio hands out a TransportSocket without recv(); peek through a duplicate descriptor.
    with socket.fromfd(raw.fileno(), raw.family, raw.type) as dup:
        try:
            data = dup.recv(65536, socket.MSG_DONTWAIT | socket.MSG_PEEK)
        except BlockingIOError:
            return
    raise AssertionError(f"the library sent {data!r}")


class Switchboard:
    """FreeSWITCH's port 8021 for inbound-client tests: each `accept()` is one connection."""

    def __init__(self, listener: anyio.abc.SocketListener, wait: float) -> None:
        self.listener = listener
        self.port: int = listener.extra(anyio.abc.SocketAttribute.local_port)
        self.wait = wait
        self.accepted = 0

    async def accept(self) -> Peer:
        with anyio.fail_after(self.wait):
            stream = await self.listener.accept()
        self.accepted += 1
        return Peer(stream, self.wait)

    async def greet(self, password: str = "ClueCon") -> Peer:
        """Accept, send auth/request, check the password and accept it."""
        peer = await self.accept()
        await peer.send(writers.auth_request())
        await peer.expect(f"auth {password}")
        await peer.reply("+OK accepted")
        return peer


@asynccontextmanager
async def switchboard(wait: float = WAIT) -> AsyncIterator[Switchboard]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    async with listener:
        yield Switchboard(listener.listeners[0], wait)  # type: ignore[arg-type]
