"""Hostile or broken bytes from FreeSWITCH's side of the socket: garbage, an absurd
Content-Length, a frame that never ends, a flood of events, header lines without a colon,
invalid percent-encoding, invalid UTF-8, invalid JSON. What ivrd cannot read closes that one
connection with an error line naming the peer, the call and the problem; what it documents as
tolerated (values are decoded leniently, event headers only when read) is shown as such. The
daemon and its other calls go on.
"""

from __future__ import annotations

import logging
import math
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from trio.testing import MockClock

from ivrd.daemon.server import UNREAD_EVENTS
from ivrd.engine.ending import POLITE_HANGUP_DEADLINE
from ivrd.engine.interpreter import HANGUP_EVENT_WAIT
from ivrd.esl import Backoff, InboundClient, OutboundSession, Timeouts
from ivrd.esl.protocol import DEFAULT_MAX_HEAD_SIZE, RemoteProtocolError
from ivrd.testing import Caller, FakeFreeSWITCH

from ._peers import (
    CALL_UUID,
    Background,
    LogWatcher,
    Peer,
    Side,
    daemon_config,
    dial,
    dial_daemon,
    event,
    flow_yaml,
    serve_daemon,
    serving,
    switchboard,
    watch_logs,
)

pytestmark = pytest.mark.anyio

WAIT = 10.0
GREET = (
    "ivr: 1\nname: greet\nstart: hello\nsteps:\n"
    '  hello: {type: play, prompt: {say: "Hello {{ call.caller_id_name }}"}, next: bye}\n'
    "  bye: {type: hangup}\n"
)
FLOWS = {"main": flow_yaml("main"), "greet": GREET}


@pytest.fixture
def logs() -> Iterator[LogWatcher]:
    yield from watch_logs()


def raw_event(body: bytes, content_type: str = "text/event-plain") -> bytes:
    """An event frame around `body` exactly as given: nothing encoded, nothing checked."""
    return b"Content-Length: %d\nContent-Type: %s\n\n" % (len(body), content_type.encode()) + body


def raw_connect_reply(uuid: str, channel_lines: bytes) -> bytes:
    """The `connect` reply with channel data lines written as given."""
    return (
        b"Event-Name: CHANNEL_DATA\nUnique-ID: "
        + uuid.encode()
        + b"\n"
        + channel_lines
        + b"Socket-Mode: async\nControl: full\nContent-Type: command/reply\n"
        b"Reply-Text: %2BOK%0A\n\n"
    )


# -- in the daemon: what cannot be read, and what is tolerated ---------------------------------

GARBAGE = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n"  # a TLS greeting, say
# One byte more than a head may have: the parser can tell only once it has all of them.
_HEAD_START = b"Content-Type: text/event-plain\nEvent-Name: "
ENDLESS_HEAD = _HEAD_START + b"A" * (DEFAULT_MAX_HEAD_SIZE + 2 - len(_HEAD_START))


@dataclass(frozen=True)
class Broken:
    name: str
    data: bytes
    problem: str


BROKEN = [
    Broken(
        "garbage",
        GARBAGE,
        "frame: header line without a name and colon: "
        "'\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\ufffd\\x03\\x03'",
    ),
    Broken(
        "oversized Content-Length",
        b"Content-Length: 99999999999\nContent-Type: text/event-plain\n\n",
        "FreeSWITCH announced a 99999999999-byte body (frame limit 16777216 bytes)",
    ),
    Broken(
        "header line without a colon",
        b"Content-Type command/reply\nReply-Text: +OK\n\n",
        "frame: header line without a name and colon: 'Content-Type command/reply'",
    ),
    Broken(
        "a frame that never ends",
        ENDLESS_HEAD,
        f"FreeSWITCH sent {len(ENDLESS_HEAD)} bytes of headers without a blank line "
        f"(limit {DEFAULT_MAX_HEAD_SIZE})",
    ),
    Broken(
        "invalid JSON in an event-json body",
        raw_event(b'{"Event-Name": "DTMF",', "text/event-json"),
        "text/event-json: invalid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 23 (char 22)",
    ),
]

# Caller names (in the `connect` reply) that ivrd reads leniently, as `decode_value` documents.
TOLERATED = [
    (b"%ZZ 100%", "Hello %ZZ 100%"),  # invalid percent-encoding stays as written
    (b"Jos%E9", "Hello Jos\ufffd"),  # encodes Latin-1, not UTF-8: replaced
    (b"Jos\xe9", "Hello Jos\ufffd"),  # raw bytes that are not UTF-8: replaced
]


def _uuid(index: int) -> str:
    return f"00000000-0000-4000-9000-{index:012d}"


async def _send_broken(side: Side, data: bytes) -> None:
    """Mid-playback (the flow waits for its completion), the broken bytes; then until ivrd
    closes. A long frame goes out in pieces, as a trickle would."""
    await side.start(await side.run_until("playback"))
    for start in range(0, len(data), 65536):
        await side.peer.send(data[start : start + 65536])
    await side.peer.read_eof()


async def _greet_tolerantly(side: Side) -> str:
    await side.peer.expect("connect")
    await side.peer.send(raw_connect_reply(side.uuid, side.channel_lines))
    nixevent = "nixevent " + " ".join(sorted(UNREAD_EVENTS))
    for line, reply in (
        ("myevents", "Events Enabled"),
        (nixevent, "events nixed"),
        ("linger", "will linger"),
    ):
        await side.peer.expect(line)
        await side.peer.reply(f"+OK {reply}")
    await side.peer.expect("divert_events on")
    await side.peer.reply("+OK events diverted")
    command = await side.run_until("speak")
    await side.start(command)
    await side.complete(command)
    await side.end_as_asked()
    return command.headers["execute-app-arg"].split("|", 2)[2]


async def test_unreadable_bytes_close_that_call_with_a_clear_line_and_nothing_else(
    tmp_path: Path, logs: LogWatcher, caplog: pytest.LogCaptureFixture
) -> None:
    background = Background()
    ports: dict[str, int] = {}
    spoken: dict[bytes, str] = {}

    async def broken(index: int, case: Broken) -> None:
        async with dial_daemon(port) as peer:
            side = Side(peer, _uuid(index))
            ports[case.name] = side.port
            await side.connect()
            await _send_broken(side, case.data)

    async def tolerated(index: int, name: bytes) -> None:
        async with dial_daemon(port) as peer:
            lines = b"Caller-Caller-ID-Name: %b\nvariable_ivr_flow: greet\n" % name
            spoken[name] = await _greet_tolerantly(Side(peer, _uuid(100 + index), lines))

    with anyio.fail_after(WAIT):
        async with serve_daemon(daemon_config(tmp_path, FLOWS)) as (_, port):
            async with anyio.create_task_group() as calls:
                await background.start(calls, port, 2)
                async with anyio.create_task_group() as peers:
                    for index, case in enumerate(BROKEN):
                        peers.start_soon(broken, index, case)
                    for index, (name, _) in enumerate(TOLERATED):
                        peers.start_soon(tolerated, index, name)
                await logs.wait_for("call finished", count=len(BROKEN) + len(TOLERATED))
                background.release()
            after = await FakeFreeSWITCH().call("127.0.0.1", port, Caller(file_seconds=0.01))
    background.assert_all_ended_well(2)
    assert after.exit_sent
    for index, case in enumerate(BROKEN):
        records = [r for r in caplog.records if getattr(r, "call_uuid", None) == _uuid(index)]
        assert [r.getMessage() for r in records if r.levelno >= logging.ERROR] == [
            f"FreeSWITCH at 127.0.0.1:{ports[case.name]} broke the event-socket protocol: "
            f"{case.problem}; closing the connection"
        ], case.name
        assert [r.getMessage() for r in records if "call finished" in r.getMessage()] == [
            "call finished: disconnected"
        ], case.name
    assert spoken == dict(TOLERATED)


@pytest.mark.parametrize(
    "anyio_backend", [("trio", {"clock": MockClock(autojump_threshold=0)})], ids=["trio"]
)
async def test_a_trickle_ends_by_a_time_limit_and_a_port_scanner_by_the_connect_limit(
    tmp_path: Path, logs: LogWatcher, caplog: pytest.LogCaptureFixture
) -> None:
    config = daemon_config(tmp_path, FLOWS, "limits: {call_timeout: 24h}\n")
    timeouts = Timeouts()
    assert timeouts.application is not None
    fake = FakeFreeSWITCH()
    async with serve_daemon(config) as (_, port):
        with anyio.fail_after(timeouts.application * 2):
            async with dial_daemon(port, math.inf) as peer:
                side = Side(peer, CALL_UUID)
                await side.connect()
                await side.start(await side.run_until("playback"))
                start = anyio.current_time()
                async with anyio.create_task_group() as trickle:
                    trickle.start_soon(_trickle, peer)
                    during = await fake.call("127.0.0.1", port, Caller(file_seconds=1))
                    hangup = await side.next_app()  # the flow's polite hangup
                    gave_up = anyio.current_time() - start
                    await peer.expect("exit")
                    await peer.read_eof()  # the half-close; the trickle goes on until ivrd closes
                closed = anyio.current_time() - start
            async with dial_daemon(port, math.inf) as scanner:
                scanner_port = int(scanner.stream.extra(anyio.abc.SocketAttribute.local_port))
                await scanner.expect_setup(nixed=UNREAD_EVENTS)  # connect and the set-up
                start = anyio.current_time()
                await scanner.send(b"GET / HTTP/1.1\r\nHost: ivrd\r\n\r\n")
                await scanner.expect("exit")  # no frame ever came: ivrd says goodbye
                await scanner.read_eof()
                scanned = anyio.current_time() - start
            after = await fake.call("127.0.0.1", port, Caller(file_seconds=1))
    assert hangup.headers["execute-app-name"] == "hangup"
    assert gave_up == pytest.approx(timeouts.application)
    # The polite hangup, the wait for FreeSWITCH, the teardown; and a minute or two of the
    # trickle's own pace until its sends fail.
    ending = POLITE_HANGUP_DEADLINE + HANGUP_EVENT_WAIT + timeouts.teardown
    assert closed <= gave_up + ending + 120
    assert scanned == pytest.approx(timeouts.connect)
    for record in (during, after):
        assert (record.hangup_by, record.exit_sent, record.violations) == ("server", True, [])
    records = [r for r in caplog.records if getattr(r, "call_uuid", None) == CALL_UUID]
    assert [r.getMessage() for r in records if r.levelno >= logging.ERROR] == [
        f"call failed: `playback` did not complete within {timeouts.application:g} s"
    ]
    assert (
        f"could not set up the call: no answer from FreeSWITCH at 127.0.0.1:{scanner_port} "
        f"to `connect` within {timeouts.connect:g} s"
    ) in logs.messages(logging.WARNING)


async def _trickle(peer: Peer) -> None:
    """An event whose body never ends: a byte a minute, until the socket is closed."""
    await peer.send(b"Content-Length: 1000000\nContent-Type: text/event-plain\n\n")
    while True:
        try:
            await peer.send(b"x")
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            return
        await anyio.sleep(60)


# -- one session: a flood, and lenient decoding -------------------------------------------------


async def test_a_flood_of_events_nobody_reads_is_not_kept() -> None:
    """Events without a hook or a reader cost their parsing and are gone; a reader that does
    not read has them counted (`backlog`), not dropped, until it leaves."""
    measured: list[object] = []
    dispatched = anyio.Event()  # the last event of the flood reached its hook: all did
    flooded = anyio.Event()
    read_on = anyio.Event()

    async def handler(session: OutboundSession) -> None:
        @session.on("CUSTOM", subclass="test::flood_over")
        async def over(event: object) -> None:
            dispatched.set()

        async with session.events("DTMF"):  # subscribed, but never reading
            await flooded.wait()
            measured.append(session.backlog)
        measured.append(session.backlog)
        read_on.set()
        await session.playback("a.wav")

    # 5,000 events of a SIP call's size class (channel variables make most of an event).
    variables = {f"variable_sip_h_X_Header_{n}": "v" * 20 for n in range(10)}
    flood = b"".join(
        event("CHANNEL_STATE", Channel_State="CS_EXECUTE", **variables) for _ in range(100)
    )
    with anyio.fail_after(WAIT):
        async with serving(handler) as server, dial(server) as peer:
            await peer.handshake()
            await anyio.wait_all_tasks_blocked()
            tracemalloc.start()
            try:
                before = _ivrd_memory()
                for _ in range(50):
                    await peer.send(flood)
                await peer.send(
                    *(event("DTMF", DTMF_Digit="1") for _ in range(100)),
                    event("CUSTOM", Event_Subclass="test::flood_over"),
                )
                await dispatched.wait()
                await anyio.wait_all_tasks_blocked()
                grown = _ivrd_memory() - before
            finally:
                tracemalloc.stop()
            flooded.set()
            await read_on.wait()
            command = await peer.expect_execute("playback", "a.wav")
            await peer.reply()
            await peer.complete(command)
            await peer.goodbye()
    assert len(flood) * 50 > 2_000_000
    # What stays is the 100 unread DTMF events (about 40 KB), not the 2 MB of the flood.
    assert grown < 200_000, f"{grown} bytes kept after the flood"
    assert measured == [(0, 100), (0, 0)]


def _ivrd_memory() -> int:
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*/ivrd/*")])
    return sum(stat.size for stat in snapshot.statistics("filename"))


async def test_values_are_decoded_leniently_and_event_lines_only_when_read() -> None:
    seen: list[object] = []

    async def handler(session: OutboundSession) -> None:
        seen.append(await session.api("x"))  # an api body that is not UTF-8
        result = await session.playback("a.wav")
        seen.append(result.variable("bad_escape"))
        seen.append(result.variable("latin1"))
        seen.append(result.response)
        try:
            list(result.event.headers)  # every line: now the one without a colon shows
        except RemoteProtocolError as exc:
            seen.append(str(exc))

    with anyio.fail_after(WAIT):
        async with serving(handler) as server, dial(server) as peer:
            await peer.handshake()
            await peer.expect("api x")
            await peer.send(b"Content-Type: api/response\nContent-Length: 4\n\nok\xff\n")
            command = await peer.expect_execute("playback", "a.wav")
            await peer.reply()
            body = (
                b"Event-Name: CHANNEL_EXECUTE_COMPLETE\nUnique-ID: %b\n"
                b"Application-UUID: %b\nApplication-Response: FILE%%20PLAYED\n"
                b"variable_bad_escape: 100%%ZZ\nvariable_latin1: Jos%%E9\n"
                b"a line without a colon\n"
            ) % (CALL_UUID.encode(), command.headers["Event-UUID"].encode())
            await peer.send(raw_event(body))
            await peer.goodbye()
    assert seen == [
        "ok\ufffd\n",
        "100%ZZ",
        "Jos\ufffd",
        "FILE PLAYED",
        "text/event-plain: header line without a name and colon: 'a line without a colon'",
    ]


async def test_garbage_on_the_inbound_connection_is_logged_and_the_client_reconnects(
    logs: LogWatcher,
) -> None:
    async with switchboard(WAIT) as board, anyio.create_task_group() as tasks:
        client = InboundClient(
            "127.0.0.1", board.port, events=["DTMF"], backoff=Backoff(base=0.001, max=0.01)
        )
        tasks.start_soon(client.run)
        peer = await board.greet()
        await peer.expect("event plain DTMF")
        await peer.reply("+OK event listener enabled plain")
        await peer.send(GARBAGE)
        await peer.read_eof()
        await peer.aclose()
        peer = await board.greet()
        await peer.expect("event plain DTMF")
        await peer.reply("+OK event listener enabled plain")
        with anyio.fail_after(WAIT):
            await client.wait_connected(2)
        tasks.cancel_scope.cancel()
        await peer.aclose()
    assert logs.messages(logging.ERROR) == [
        f"FreeSWITCH at 127.0.0.1:{board.port} broke the event-socket protocol: "
        f"{BROKEN[0].problem}; closing the connection"
    ]
