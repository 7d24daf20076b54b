"""A bare ESL client for the fake's tests: an anyio socket, `Parser` and `commands`.

Deliberately independent of `ivrd.esl` (the library under test elsewhere): it only frames
bytes, so a test sees exactly what the fake sent, in order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc

from ivrd.esl.protocol import (
    CLOSED,
    Event,
    EventFormat,
    EventMessage,
    Message,
    Parser,
    Sentinel,
    commands,
)
from ivrd.testing import Caller, CallRecord, FakeFreeSWITCH

REPLIES = ("command/reply", "api/response")


class Closed(Exception):
    """The peer closed the socket."""


class RawClient:
    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.stream = stream
        self.parser = Parser()
        self.received: list[Message] = []
        self.eof = False
        self._replies_taken = 0

    async def send(self, data: bytes) -> None:
        await self.stream.send(data)

    async def receive(self) -> Message:
        """The next frame; raises Closed at end of stream."""
        while True:
            message = self.parser.next_message()
            if not isinstance(message, Sentinel):
                self.received.append(message)
                return message
            if message is CLOSED:
                raise Closed
            try:
                data = await self.stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                self.eof = True
                self.parser.feed_eof()
                continue
            self.parser.feed(data)

    async def wait_for(self, predicate: Callable[[Message], bool]) -> Message:
        """The first frame (already received or still to come) that satisfies `predicate`."""
        for message in self.received:
            if predicate(message):
                return message
        while True:
            message = await self.receive()
            if predicate(message):
                return message

    async def request(self, data: bytes) -> Message:
        """Send a command and return its reply: the next reply not yet returned."""
        await self.send(data)
        while True:
            replies = [m for m in self.received if m.content_type in REPLIES]
            if len(replies) > self._replies_taken:
                self._replies_taken += 1
                return replies[self._replies_taken - 1]
            await self.receive()

    async def until_event(self, name: str, **headers: str) -> Event:
        """The first event called `name` whose headers (`Application_UUID=...`) match."""

        def matches(message: Message) -> bool:
            if not isinstance(message, EventMessage) or message.event.name != name:
                return False
            event = message.event
            return all(event.get(key.replace("_", "-")) == value for key, value in headers.items())

        message = await self.wait_for(matches)
        assert isinstance(message, EventMessage)
        return message.event

    def events(self, name: str | None = None) -> list[Event]:
        return [
            m.event
            for m in self.received
            if isinstance(m, EventMessage) and (name is None or m.event.name == name)
        ]

    def names(self) -> list[str]:
        return [describe(m) for m in self.received]

    async def until_closed(self) -> list[Message]:
        """Every frame until the peer closes the socket."""
        frames = []
        while True:
            try:
                frames.append(await self.receive())
            except Closed:
                return frames


def describe(message: Message) -> str:
    """`command/reply +OK`, `text/event-plain CHANNEL_EXECUTE playback` ..."""
    if isinstance(message, EventMessage):
        event = message.event
        app = event.get("Application")
        return f"{message.content_type} {event.name}" + (f" {app}" if app else "")
    reply = message.headers.get("Reply-Text")
    disposition = message.headers.get("Content-Disposition")
    if reply is not None and message.content_type == "command/reply":
        return (
            f"command/reply {reply.strip()}"
            if "Event-Name" not in message.headers
            else ("command/reply CHANNEL_DATA")
        )
    if disposition is not None:
        return f"{message.content_type} {disposition}"
    return message.content_type


@asynccontextmanager
async def outbound_server(
    handler: Callable[[RawClient], Awaitable[None]],
) -> AsyncIterator[int]:
    """An outbound socket server on 127.0.0.1 running `handler` per connection; yields its port."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    running = 0
    idle = anyio.Event()

    async def serve(stream: anyio.abc.SocketStream) -> None:
        nonlocal running, idle
        running += 1
        try:
            async with stream:
                await handler(RawClient(stream))
        finally:
            running -= 1
            if not running:
                idle.set()
                idle = anyio.Event()

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        yield listener.extra(anyio.abc.SocketAttribute.local_port)
        # Let the handlers see the end of their connections before they are cancelled.
        with anyio.move_on_after(10):
            while running:
                await idle.wait()
        tg.cancel_scope.cancel()


@asynccontextmanager
async def inbound_client(fake: FakeFreeSWITCH) -> AsyncIterator[RawClient]:
    """An inbound ESL client logged in to `fake`, which serves inbound connections meanwhile."""
    async with anyio.create_task_group() as tg:
        port = await tg.start(fake.serve_inbound)
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            peer = RawClient(stream)
            await peer.receive()
            await peer.request(commands.auth("ClueCon"))
            yield peer
        tg.cancel_scope.cancel()


class Server:
    """The outbound socket server side of a test: a RawClient with a few shortcuts."""

    def __init__(self, client: RawClient) -> None:
        self.client = client
        self.count = 0

    async def start(self, *, linger: bool = True, format: EventFormat | None = None) -> Message:
        channel_data = await self.client.request(commands.connect())
        await self.client.request(commands.myevents(format=format))
        if linger:
            await self.client.request(commands.linger())
        return channel_data

    async def send_app(self, app: str, arg: str = "", *, lock: bool = True) -> str:
        """sendmsg execute; returns the Event-UUID after the +OK."""
        self.count += 1
        event_uuid = f"00000000-0000-0000-0000-{self.count:012d}"
        reply = await self.client.request(
            commands.execute(app, arg, event_uuid=event_uuid, event_lock=lock)
        )
        assert reply.headers.get("Reply-Text") == "+OK"
        return event_uuid

    async def complete(self, event_uuid: str) -> Event:
        return await self.client.until_event(
            "CHANNEL_EXECUTE_COMPLETE", Application_UUID=event_uuid
        )

    async def run(self, app: str, arg: str = "") -> Event:
        return await self.complete(await self.send_app(app, arg))

    async def api(self, command: str) -> str:
        return (await self.client.request(commands.api(command))).text

    async def finish(self) -> None:
        """Wait for the hangup's notice, then `exit` (if lingering) and read to the end."""
        notice = await self.client.wait_for(lambda m: m.content_type == "text/disconnect-notice")
        if notice.headers.get("Content-Disposition") == "linger":
            await self.client.send(commands.exit())
        await self.client.until_closed()


async def run_call(
    fake: FakeFreeSWITCH,
    script: Callable[[Server], Awaitable[None]],
    caller: Caller | None = None,
    **options: object,
) -> tuple[CallRecord, RawClient]:
    """One call from `fake` to a server that runs `script`; the record and what it received."""
    clients: list[RawClient] = []

    async def handler(client: RawClient) -> None:
        clients.append(client)
        await script(Server(client))

    with anyio.fail_after(600):
        async with outbound_server(handler) as port:
            record = await fake.call("127.0.0.1", port, caller, **options)  # type: ignore[arg-type]
    return record, clients[0]
