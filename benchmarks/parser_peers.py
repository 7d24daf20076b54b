"""The Python peers' event parsing, driven through their own reading code on in-memory bytes.

Used by bench_parser.py. Each peer parses events only inside its connection's reader loop, so
the loop itself is run, with the thinnest stand-ins for what it reads from and hands events to:

- genesis (asyncio): `Protocol.handler()`, its reader task: `readline()` until the blank line,
  `ESLReaderFSM.process_headers`, `readexactly()` for the body, `process_body` (which calls
  `parse_headers`, unquoting each line). It reads an `asyncio.StreamReader` fed 64 KiB chunks
  as a socket's protocol would feed it; its event queue is replaced by one that hands each
  event on (no consumer task, so none of its per-event telemetry runs: parsing only).
- greenswitch (gevent): `ESLProtocol.receive_events()`, its reader greenlet: `readline()` until
  the blank line, `ESLEvent` for the head, `handle_event` -> `_read_socket` for the body ->
  `ESLEvent.parse_data` (unquoting the whole body, then splitting it into lines). It reads an
  in-memory buffered file in place of its `sock.makefile('rb')`; its event queue is replaced
  as genesis's is.

`deliver` gets every event a peer puts on its queue: the benchmark counts them when timing and
looks at their values when checking them.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

Deliver = Callable[[Any], object]

# What genesis's reader does to the PRIVATE_COMMAND events of the captures (read from its code).
GENESIS_SPLITS = (
    "ESLReaderFSM splits an event whose text holds 'event-lock: true' (a PRIVATE_COMMAND "
    "quoting a sendmsg) at its Event-Name line, into two events"
)


def available() -> dict[str, str | None]:
    """Each peer's import failure, or None when it can be measured."""
    found: dict[str, str | None] = {}
    for peer, module in (("genesis", "genesis.protocol.base"), ("greenswitch", "greenswitch.esl")):
        try:
            __import__(module)
            found[peer] = None
        except ImportError as exc:
            found[peer] = f"not installed ({exc}; benchmarks/setup.sh installs it)"
    return found


class _AsyncQueue:
    """In place of genesis's `asyncio.Queue` of events: hands each one on, nothing waits."""

    def __init__(self, deliver: Deliver) -> None:
        self.deliver = deliver

    async def put(self, event: Any) -> None:
        if event is not None:  # None is its end-of-stream mark
            self.deliver(event)


class _Queue:
    """In place of greenswitch's gevent `Queue` of events."""

    def __init__(self, deliver: Deliver) -> None:
        self.deliver = deliver

    def put(self, event: Any) -> None:
        self.deliver(event)


class _Socket:
    """All greenswitch's reader does with its socket is close it on a read error."""

    def close(self) -> None:
        pass


def genesis_read(chunks: list[bytes], deliver: Deliver) -> None:
    from genesis.protocol.base import Protocol

    async def read_all() -> None:
        protocol = Protocol()
        reader = asyncio.StreamReader()  # the limit asyncio.start_server gives genesis
        protocol.reader = reader
        protocol.is_connected = True
        protocol.events = _AsyncQueue(deliver)

        async def receive() -> None:
            for chunk in chunks:
                reader.feed_data(chunk)
                await asyncio.sleep(0)  # the reader takes what it can, as between two recv()
            reader.feed_eof()

        feeding = asyncio.ensure_future(receive())
        await protocol.handler()
        await feeding

    asyncio.run(read_all())


def genesis_values(frames: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """genesis's values frame by frame, through the same `ESLReaderFSM` its reader uses.

    Its reader delivers more events than frames (GENESIS_SPLITS), so values are compared per
    frame: the events one frame gives, merged, against the floor's event.
    """
    from genesis.protocol.reader_fsm import ESLReaderFSM

    fsm = ESLReaderFSM()
    for frame in frames:
        head, _, body = frame.partition(b"\n\n")
        events, length = fsm.process_headers(head.decode() + "\n\n")
        if length:
            events = fsm.process_body(body)
        merged: dict[str, Any] = {}
        for event in events:
            for name, value in event.items():
                merged.setdefault(name, value)
        yield merged


def greenswitch_read(data: bytes, deliver: Deliver) -> None:
    from greenswitch.esl import ESLProtocol

    protocol = ESLProtocol()
    protocol.sock = _Socket()
    protocol.sock_file = io.BufferedReader(io.BytesIO(data))  # as sock.makefile('rb') buffers
    protocol.connected = True
    protocol._esl_event_queue = _Queue(deliver)
    protocol.receive_events()


def greenswitch_values(data: bytes) -> list[dict[str, str]]:
    decoded: list[dict[str, str]] = []
    greenswitch_read(data, lambda event: decoded.append(event.headers))
    return decoded
