"""What the reliability tests play FreeSWITCH with, over real loopback sockets.

Reused as they are: the raw scripted peer of tests/esl (`_esl_peer`: one socket, FreeSWITCH's
frames written by hand) and the in-process daemon helpers of tests/daemon (`_daemon_helpers`).
Added here:

- `Side`: FreeSWITCH's side of one call into the daemon, answering each application of the
  flow as FreeSWITCH would until the test breaks something;
- `Background`: healthy calls from the fake FreeSWITCH, kept playing while a fault happens and
  released afterwards, to show the other calls go on;
- `serve_daemon`: the daemon without a deadline around its start (its flows load in a worker
  thread, which trio's MockClock would otherwise skip past);
- `record_flow`: one flow run against the fake FreeSWITCH with every byte the fake received
  kept, and `frames` to cut those bytes into commands independently of ivrd's parser.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.abc
import httpx

from ivrd.daemon import Config, Daemon, load_config
from ivrd.daemon.server import UNREAD_EVENTS
from ivrd.engine import Trace, run_call
from ivrd.esl import OutboundServer, OutboundSession
from ivrd.esl.protocol import Command, writers
from ivrd.flow import Flow
from ivrd.logs import CallContextFilter
from ivrd.testing import Caller, CallRecord, Channel, FakeFreeSWITCH

# tests/esl and tests/daemon are not packages: pytest puts each on sys.path when it collects
# it. The same here, so that this directory also runs on its own.
_TESTS = Path(__file__).resolve().parents[1]
for _helpers in (_TESTS / "esl", _TESTS / "daemon"):
    if str(_helpers) not in sys.path:
        sys.path.append(str(_helpers))

from _daemon_helpers import LogWatcher, all_playing, flow_yaml  # noqa: E402
from _esl_peer import (  # noqa: E402
    CALL_UUID,
    Peer,
    assert_nothing_sent,
    channel_data,
    dial,
    event,
    event_pairs,
    serving,
    switchboard,
)

__all__ = [
    "CALL_UUID",
    "Background",
    "LogWatcher",
    "Peer",
    "Recorded",
    "Side",
    "all_playing",
    "assert_nothing_sent",
    "channel_data",
    "daemon_config",
    "dial",
    "dial_daemon",
    "event",
    "event_pairs",
    "flow_yaml",
    "frames",
    "record_flow",
    "serve_daemon",
    "serving",
    "switchboard",
    "watch_logs",
]

ENDLESS = Caller(files={"main.wav": math.inf})


def watch_logs() -> Iterator[LogWatcher]:
    """Every `ivrd` record of a test, at every level, with its call's uuid (the body of a
    `logs` fixture)."""
    logger = logging.getLogger("ivrd")
    saved = logger.propagate, logger.level
    logger.propagate = True  # caplog listens on the root logger
    logger.setLevel(logging.DEBUG)
    watcher = LogWatcher()
    # As the daemon's own handler does: a record without a call's uuid gets the current one
    # (the record is the one caplog then sees too).
    watcher.addFilter(CallContextFilter())
    logger.addHandler(watcher)
    try:
        yield watcher
    finally:
        logger.removeHandler(watcher)
        logger.propagate, logger.level = saved


# -- the daemon --------------------------------------------------------------------------------


def daemon_config(tmp_path: Path, flows: Mapping[str, str], text: str = "") -> Config:
    """Flows `name -> YAML` in tmp_path/flows; `main` by default; no HTTP endpoint."""
    directory = tmp_path / "flows"
    directory.mkdir(exist_ok=True)
    for name, yaml in flows.items():
        (directory / f"{name}.yaml").write_text(yaml, encoding="utf-8")
    file = tmp_path / "config.yaml"
    file.write_text(
        f"listen: {{port: 0}}\nhttp: {{enabled: false}}\nrouting: {{default: main}}\n{text}",
        encoding="utf-8",
    )
    return load_config(file, {}, check_paths=True).require()


@asynccontextmanager
async def serve_daemon(config: Config) -> AsyncIterator[tuple[Daemon, int]]:
    """The daemon serving in this task group; stopped (and drained) at the end of the block."""
    daemon = Daemon(config, environ={}, handle_signals=False)
    async with anyio.create_task_group() as tasks:
        port = await tasks.start(daemon.serve)
        try:
            yield daemon, port
        finally:
            daemon.stop("the test is over")


@asynccontextmanager
async def dial_daemon(port: int, wait: float = 10.0) -> AsyncIterator[Peer]:
    """A raw FreeSWITCH socket to the daemon, like `dial` to a bare OutboundServer; `wait` is
    how long the peer waits for what it expects (raise it on a virtual clock)."""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        yield Peer(stream, wait)


class Side:
    """FreeSWITCH's side of one call into the daemon: `connect` to the application where the
    test's fault begins, each application answered as FreeSWITCH does (`+OK`, then
    CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE matched by Event-UUID)."""

    def __init__(self, peer: Peer, uuid: str, channel_lines: bytes = b"") -> None:
        self.peer = peer
        self.uuid = uuid
        self.apps: list[str] = []
        # Channel data each completion repeats, as FreeSWITCH's do (the flow reads `call.*`
        # from the latest); raw header lines, written as given.
        self.channel_lines = channel_lines

    @property
    def port(self) -> int:
        """The local port, which the daemon names in its log lines as the peer's."""
        return int(self.peer.stream.extra(anyio.abc.SocketAttribute.local_port))

    async def connect(self, **variables: str) -> None:
        await self.peer.handshake(
            self.uuid, data=channel_data(self.uuid, **variables), nixed=UNREAD_EVENTS
        )

    async def next_app(self) -> Command:
        command = await self.peer.read_command()
        if command.line == "nixevent DTMF":  # a flow without key hooks stops the keys
            await self.peer.reply()
            command = await self.peer.read_command()
        assert command.line == "sendmsg", command.line
        assert command.headers["call-command"] == "execute"
        self.apps.append(command.headers["execute-app-name"])
        return command

    async def start(self, command: Command) -> None:
        """`+OK` and CHANNEL_EXECUTE: the application runs."""
        await self.peer.reply()
        await self.peer.send(self._execute_event("CHANNEL_EXECUTE", command))

    async def complete(self, command: Command, response: str = "_none_") -> None:
        await self.peer.send(
            self._execute_event(
                "CHANNEL_EXECUTE_COMPLETE", command, ("Application-Response", response)
            )
        )

    async def run_until(self, app: str) -> Command:
        """Answer and complete every application before `app`; `app` is read, not answered."""
        while True:
            command = await self.next_app()
            if command.headers["execute-app-name"] == app:
                return command
            await self.start(command)
            await self.complete(command)

    async def hang_up(self, cause: str = "NORMAL_CLEARING", *, linger: bool = True) -> None:
        """CHANNEL_HANGUP, CHANNEL_HANGUP_COMPLETE and the disconnect notice."""
        await self.peer.hangup(cause, self.uuid)
        await self.peer.call_gone(cause, self.uuid, linger=linger)

    async def end_as_asked(self) -> None:
        """The daemon's `hangup` application, then its `exit`, as FreeSWITCH answers them."""
        command = await self.run_until("hangup")
        await self.peer.reply()
        await self.hang_up(command.headers.get("execute-app-arg") or "NORMAL_CLEARING")
        await self.goodbye()

    async def goodbye(self) -> None:
        await self.peer.expect("exit")
        await self.peer.send(writers.command_reply("+OK bye"))
        await self.peer.send(writers.disconnect_notice(self.uuid, linger=False))
        await self.peer.stream.aclose()

    def _execute_event(self, name: str, command: Command, *extra: tuple[str, str]) -> bytes:
        pairs = [
            ("Event-Name", name),
            ("Unique-ID", self.uuid),
            ("Application", command.headers["execute-app-name"]),
            ("Application-UUID", command.headers["Event-UUID"]),
            *extra,
        ]
        lines = "".join(f"{key}: {writers.encode_value(value)}\n" for key, value in pairs)
        body = lines.encode() + self.channel_lines
        return b"Content-Length: %d\nContent-Type: text/event-plain\n\n%b" % (len(body), body)


@dataclass
class Background:
    """Healthy calls from the fake FreeSWITCH, each playing until `release()`."""

    fake: FakeFreeSWITCH = field(default_factory=FakeFreeSWITCH)
    records: list[CallRecord] = field(default_factory=list)

    async def start(self, tasks: anyio.abc.TaskGroup, port: int, count: int) -> None:
        """Dial `count` calls and return once each of them plays its endless prompt."""

        async def one() -> None:
            self.records.append(await self.fake.call("127.0.0.1", port, ENDLESS))

        for _ in range(count):
            tasks.start_soon(one)
        await anyio.wait_all_tasks_blocked()  # each call is registered before it dials
        assert len(self.fake.calls) == count
        await all_playing(self.fake)

    def release(self) -> None:
        for call in list(self.fake.calls.values()):
            call.break_media()

    def assert_all_ended_well(self, count: int) -> None:
        assert len(self.records) == count
        for record in self.records:
            assert [app.arg for app in record.apps if app.name == "playback"] == ["main.wav"]
            assert (record.hangup_by, record.hangup_cause) == ("server", "NORMAL_CLEARING")
            assert record.exit_sent
            assert record.violations == []


# -- byte-exact runs of a flow ------------------------------------------------------------------


class RecordingStream(anyio.abc.ByteStream):
    """A socket stream that keeps every byte received on it."""

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.stream = stream
        self.received = bytearray()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        data = await self.stream.receive(max_bytes)
        self.received += data
        return data

    async def send(self, item: bytes) -> None:
        await self.stream.send(item)

    async def send_eof(self) -> None:
        await self.stream.send_eof()

    async def aclose(self) -> None:
        await self.stream.aclose()


@dataclass
class Recorded:
    record: CallRecord
    trace: Trace
    received: bytes
    requests: list[httpx.Request]

    def frames_of(self, app: str) -> list[bytes]:
        """Every `sendmsg` that executes `app`, byte for byte."""
        needle = f"\nexecute-app-name: {app}\n".encode()
        return [frame for frame in frames(self.received) if needle in frame.split(b"\n\n")[0]]


def frames(data: bytes) -> list[bytes]:
    """Cut what a client sent into commands: a head up to a blank line, then Content-Length
    bytes of body. Written apart from ivrd's parser, to check what it sent against."""
    result = []
    while data.strip(b"\n"):
        data = data.lstrip(b"\n")
        head = data.partition(b"\n\n")[0]
        length = 0
        for line in head.split(b"\n")[1:]:
            name, _, value = line.partition(b": ")
            if name.lower() == b"content-length":
                length = int(value)
        size = len(head) + 2 + length
        result.append(data[:size])
        data = data[size:]
    return result


async def record_flow(
    flow: Flow,
    caller: Caller,
    *,
    web: Mapping[str, httpx.Response] | None = None,
    channel: Channel | None = None,
) -> Recorded:
    """One call of `flow` through an OutboundServer and the fake FreeSWITCH; HTTP services
    answer from `web` (`METHOD /path` -> response, else 404)."""
    requests: list[httpx.Request] = []
    routes = dict(web or {})

    async def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return routes.get(f"{request.method} {request.url.path}") or httpx.Response(404)

    traces: list[Trace] = []

    async def handler(session: OutboundSession) -> None:
        transport = httpx.MockTransport(answer)
        async with httpx.AsyncClient(transport=transport) as client:
            traces.append(await run_call(session, flow, http_client=client))

    server = OutboundServer(handler, "127.0.0.1", 0)
    fake = FakeFreeSWITCH(frame=0)  # queued applications start at once, not at a 20 ms frame
    async with anyio.create_task_group() as tasks:
        port = await tasks.start(server.serve)
        call = fake.new_call("127.0.0.1", port, caller=caller, channel=channel or Channel())
        with anyio.fail_after(30):
            stream = RecordingStream(await anyio.connect_tcp("127.0.0.1", port))
            record = await call.run(stream, 30)
        tasks.cancel_scope.cancel()
    assert len(traces) == 1, "run_call did not return"
    return Recorded(record, traces[0], bytes(stream.received), requests)
