"""Faults from FreeSWITCH: dropped sockets, cut frames, silence, every legal order of replies
and events, applications it does not know, hangups before completions, disconnect notices,
and restarts under the inbound client. Each ends the wait it hits, costs at most its own
call, and the daemon goes on serving (see README.md for what is covered elsewhere).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from trio.testing import MockClock

from ivrd.daemon import Phase
from ivrd.engine.ending import POLITE_HANGUP_DEADLINE
from ivrd.engine.interpreter import HANGUP_EVENT_WAIT
from ivrd.esl import (
    Backoff,
    CallHangup,
    ConnectionClosed,
    InboundClient,
    OutboundSession,
    Timeouts,
)
from ivrd.esl.protocol import writers
from ivrd.testing import Caller, FakeFreeSWITCH

from ._peers import (
    CALL_UUID,
    Background,
    LogWatcher,
    Peer,
    Side,
    assert_nothing_sent,
    daemon_config,
    dial,
    dial_daemon,
    event,
    event_pairs,
    flow_yaml,
    serve_daemon,
    serving,
    switchboard,
    watch_logs,
)

pytestmark = pytest.mark.anyio

WAIT = 10.0


@pytest.fixture
def logs() -> Iterator[LogWatcher]:
    yield from watch_logs()


# -- one application, every legal order ------------------------------------------------------
#
# mod_event_socket writes a command's reply as soon as it has parsed the command, and queued
# events only between commands (read_packet), so FreeSWITCH itself sends an application's
# `+OK` before its CHANNEL_EXECUTE; an earlier event (CHANNEL_PARK in the captures, a DTMF) may
# come before the `+OK`. ivrd does not count on the rest: it registers the completion before
# it sends, so an EXECUTE or even the EXECUTE_COMPLETE overtaking the `+OK` works too. Only
# CHANNEL_EXECUTE before CHANNEL_EXECUTE_COMPLETE is fixed (one thread fires both).

ORDERS = [
    order
    for order in itertools.permutations(("reply", "execute", "complete", "park"))
    if order.index("execute") < order.index("complete")
]


def _frames(command_uuid: str) -> dict[str, bytes]:
    app = [("Application", "playback"), ("Application-UUID", command_uuid)]
    return {
        "reply": writers.command_reply("+OK"),
        "execute": event_pairs("CHANNEL_EXECUTE", app),
        "complete": event_pairs(
            "CHANNEL_EXECUTE_COMPLETE",
            [*app, ("Application-Response", "FILE PLAYED"), ("variable_playback_ms", "500")],
        ),
        "park": event("CHANNEL_PARK"),
        "hangup": event("CHANNEL_HANGUP", Hangup_Cause="NORMAL_CLEARING"),
        "error": event_pairs(
            "CHANNEL_EXECUTE_COMPLETE", [*app, ("Application-Response", "PLAYBACK ERROR")]
        ),
    }


@pytest.mark.parametrize("order", ORDERS, ids="-".join)
async def test_every_order_of_reply_and_events_completes_the_application(
    order: tuple[str, ...],
) -> None:
    results: list[object] = []

    async def handler(session: OutboundSession) -> None:
        result = await session.playback("a.wav")
        results.append((result.application, result.response, result.variable("playback_ms")))
        results.append(await session.api("uptime"))  # the session is still in step

    with anyio.fail_after(WAIT):
        async with serving(handler) as server, dial(server) as peer:
            await peer.handshake()
            command = await peer.expect_execute("playback", "a.wav")
            frames = _frames(command.headers["Event-UUID"])
            for name in order:
                await peer.send(frames[name])
            await peer.expect("api uptime")
            await peer.send(writers.api_response("1234\n"))
            await peer.goodbye()
    assert results == [("playback", "FILE PLAYED", "500"), "1234\n"]


# CHANNEL_HANGUP comes before the completion (PLAYBACK ERROR), or instead of it (an unknown
# application, an application that never started); the `+OK` anywhere.
HANGUP_ORDERS = [
    ("reply", "execute", "hangup", "error"),
    ("execute", "reply", "hangup", "error"),
    ("execute", "hangup", "reply", "error"),
    ("execute", "hangup", "error", "reply"),
    ("reply", "execute", "hangup"),
    ("execute", "hangup", "reply"),
    ("reply", "hangup"),
    ("hangup", "reply"),
]


@pytest.mark.parametrize("order", HANGUP_ORDERS, ids="-".join)
async def test_a_hangup_before_the_completion_ends_the_wait_with_call_hangup(
    order: tuple[str, ...],
) -> None:
    outcome: list[object] = []

    async def handler(session: OutboundSession) -> None:
        for prompt in ("a.wav", "b.wav"):
            try:
                await session.playback(prompt)
            except CallHangup as exc:
                outcome.append((exc.cause, exc.waiting_for))

    with anyio.fail_after(WAIT):
        async with serving(handler) as server, dial(server) as peer:
            await peer.handshake()
            command = await peer.expect_execute("playback", "a.wav")
            frames = _frames(command.headers["Event-UUID"])
            for name in order:
                await peer.send(frames[name])
            await assert_nothing_sent(peer)  # no sendmsg for b.wav on a call that is gone
            await peer.call_gone()
            await peer.goodbye()
    assert outcome == [("NORMAL_CLEARING", "playback")] * 2


@pytest.mark.parametrize("linger", [True, False], ids=["linger", "no-linger"])
async def test_the_disconnect_notice_ends_the_session_with_or_without_linger(
    linger: bool, logs: LogWatcher
) -> None:
    outcome: list[object] = []

    async def handler(session: OutboundSession) -> None:
        try:
            await session.playback("a.wav")
        except CallHangup as exc:
            outcome.append(exc.cause)

    # A teardown that waited for anything after the notice would outlast the test's deadline.
    timeouts = Timeouts(teardown=3600)
    with anyio.fail_after(WAIT):
        async with (
            serving(handler, linger=linger, timeouts=timeouts) as server,
            dial(server) as peer,
        ):
            await peer.handshake(linger=linger)
            command = await peer.expect_execute("playback", "a.wav")
            frames = _frames(command.headers["Event-UUID"])
            await peer.send(frames["reply"], frames["execute"], frames["hangup"], frames["error"])
            await peer.call_gone(linger=linger)
            if linger:
                await peer.goodbye()  # FreeSWITCH keeps the socket until `exit`
            else:
                await peer.aclose()  # without linger it closes right after the notice
            with anyio.fail_after(WAIT):
                while server.active_calls:
                    await anyio.wait_all_tasks_blocked()
    assert outcome == ["NORMAL_CLEARING"]
    assert logs.messages(logging.WARNING) == []


# -- the inbound client under a restarting FreeSWITCH -------------------------------------------


async def test_a_restart_fails_what_is_in_flight_then_backs_off_and_subscribes_again(
    logs: LogWatcher,
) -> None:
    ended: dict[str, str] = {}
    answered: list[str | None] = []
    seen = anyio.Event()

    async def in_flight(name: str, call: Awaitable[str]) -> None:
        try:
            ended[name] = await call
        except ConnectionClosed as exc:
            ended[name] = f"ConnectionClosed: {exc}"

    async with switchboard(WAIT) as board, anyio.create_task_group() as tasks:
        client = InboundClient(
            "127.0.0.1",
            board.port,
            events=["CHANNEL_ANSWER"],
            filters=[("Caller-Context", "default")],
            backoff=Backoff(base=0.001, max=0.004),
            random=lambda: 0.5,
        )

        async def watch() -> None:
            async with client.events("CHANNEL_ANSWER") as events:
                async for answer in events:
                    answered.append(answer.uuid)
                    seen.set()

        tasks.start_soon(client.run)
        tasks.start_soon(watch)
        peer = await board.greet()
        await _subscribe(peer)
        await peer.send(event("CHANNEL_ANSWER", "u1"))
        with anyio.fail_after(WAIT):
            await seen.wait()
        # A bgapi whose job has not finished, then an api FreeSWITCH is still running (it
        # answers commands in order: nothing is answered after it).
        tasks.start_soon(in_flight, "bgapi", client.bgapi("status"))
        for line in ("event plain BACKGROUND_JOB", "filter Event-Name BACKGROUND_JOB"):
            await peer.expect(line)
            await peer.reply("+OK")
        job = await peer.expect("bgapi status")
        await peer.reply(f"+OK Job-UUID: {job.headers['Job-UUID']}")
        tasks.start_soon(in_flight, "api", client.api("originate loopback/1 &park"))
        await peer.expect("api originate loopback/1 &park")
        await peer.aclose()  # FreeSWITCH goes down: neither the api answer nor the job came
        # Restarting: three connections that close before FreeSWITCH's greeting.
        for attempt in range(3):
            down = await board.accept()
            if attempt == 0:
                with pytest.raises(ConnectionClosed) as info:
                    await client.api("status")
                assert str(info.value) == (
                    f"not connected to FreeSWITCH at 127.0.0.1:{board.port}; reconnecting"
                )
            await down.aclose()
        peer = await board.greet()
        await _subscribe(peer)  # the same subscription, filters included
        with anyio.fail_after(WAIT):
            await client.wait_connected(2)
        seen = anyio.Event()
        await peer.send(event("CHANNEL_ANSWER", "u2"))
        with anyio.fail_after(WAIT):
            await seen.wait()  # the event stream outlived the connection
        tasks.start_soon(in_flight, "after", client.api("status"))
        await peer.expect("api status")
        await peer.send(writers.api_response("UP\n"))
        await anyio.wait_all_tasks_blocked()
        tasks.cancel_scope.cancel()
        await peer.aclose()
    closed = f"FreeSWITCH at 127.0.0.1:{board.port} closed the connection"
    assert ended == {
        "bgapi": f"ConnectionClosed: {closed}",
        "api": f"ConnectionClosed: {closed}",
        "after": "UP\n",
    }
    assert answered == ["u1", "u2"]
    # Each failed attempt doubles the delay (half fixed, half jitter: 0.5 here) up to `max`.
    assert [m for m in logs.messages(logging.WARNING) if "reconnecting" in m] == [
        f"{closed}; reconnecting in {delay:g} s" for delay in (0.00075, 0.0015, 0.003, 0.003)
    ]


async def _subscribe(peer: Peer) -> None:
    await peer.expect("event plain CHANNEL_ANSWER")
    await peer.reply("+OK event listener enabled plain")
    await peer.expect("filter Caller-Context default")
    await peer.reply("+OK filter added. [Caller-Context]=[default]")


# -- in the daemon: a faulty call among healthy ones --------------------------------------------

EXPERT = (
    "ivr: 1\nname: expert\nstart: run\nsteps:\n"
    "  run: {type: app, name: no_such_app, arg: x, next: bye}\n  bye: {type: hangup}\n"
)
FLOWS = {"main": flow_yaml("main"), "expert": EXPERT}


@dataclass(frozen=True)
class Fault:
    name: str
    play: Callable[[Side], Awaitable[None]]
    disposition: str
    error: str | None = None
    """The problem, as the error line naming the peer and the call says it."""
    flow: str = "main"


async def _close_mid_application(side: Side) -> None:
    await side.start(await side.run_until("playback"))
    await side.peer.aclose()


PART_OF_A_REPLY = b"Content-Type: command/reply\nReply-Te"
PART_OF_AN_EVENT = b"Content-Length: 500\nContent-Type: text/event-plain\n\nEvent-Name: DTMF\n"


async def _close_mid_reply(side: Side) -> None:
    await side.run_until("playback")
    await side.peer.send(PART_OF_A_REPLY)
    await side.peer.aclose()


async def _close_mid_frame(side: Side) -> None:
    await side.start(await side.run_until("playback"))
    await side.peer.send(PART_OF_AN_EVENT)
    await side.peer.aclose()


async def _unknown_application(side: Side) -> None:
    await side.run_until("no_such_app")
    await side.peer.reply()  # FreeSWITCH accepts it, then hangs up: no completion at all
    await side.hang_up("DESTINATION_OUT_OF_ORDER")
    await side.goodbye()


async def _hangup_before_completion(side: Side) -> None:
    command = await side.run_until("playback")
    await side.start(command)
    await side.peer.hangup("NORMAL_CLEARING", side.uuid)
    await side.complete(command, "PLAYBACK ERROR")
    await side.peer.call_gone("NORMAL_CLEARING", side.uuid)
    await side.goodbye()


async def _disconnect_notice_mid_call(side: Side) -> None:
    await side.start(await side.run_until("playback"))
    await side.peer.send(writers.disconnect_notice(side.uuid, linger=False))
    await side.peer.aclose()


FAULTS = [
    Fault("close mid-application", _close_mid_application, "disconnected"),
    Fault(
        "close mid-reply",
        _close_mid_reply,
        "disconnected",
        "FreeSWITCH closed the connection in the middle of a frame "
        f"({len(PART_OF_A_REPLY)} bytes pending)",
    ),
    Fault(
        "close mid-frame",
        _close_mid_frame,
        "disconnected",
        "FreeSWITCH closed the connection in the middle of a frame "
        f"({len(PART_OF_AN_EVENT)} bytes pending)",
    ),
    Fault("unknown application", _unknown_application, "caller_hangup", flow="expert"),
    Fault("hangup before completion", _hangup_before_completion, "caller_hangup"),
    Fault("disconnect notice mid-call", _disconnect_notice_mid_call, "disconnected"),
]


def _uuid(index: int) -> str:
    return f"00000000-0000-4000-8000-{index:012d}"


async def test_faulty_calls_end_alone_and_the_daemon_goes_on(
    tmp_path: Path, logs: LogWatcher, caplog: pytest.LogCaptureFixture
) -> None:
    background = Background()
    ports: dict[str, int] = {}

    async def faulty(index: int, fault: Fault) -> None:
        async with dial_daemon(port) as peer:
            side = Side(peer, _uuid(index))
            ports[fault.name] = side.port
            await side.connect(**({"ivr_flow": fault.flow} if fault.flow != "main" else {}))
            await fault.play(side)

    with anyio.fail_after(WAIT):
        async with serve_daemon(daemon_config(tmp_path, FLOWS)) as (daemon, port):
            async with anyio.create_task_group() as calls:
                await background.start(calls, port, 2)
                async with anyio.create_task_group() as faults:
                    for index, fault in enumerate(FAULTS):
                        faults.start_soon(faulty, index, fault)
                await logs.wait_for("call finished", count=len(FAULTS))
                background.release()
            after = await FakeFreeSWITCH().call("127.0.0.1", port, Caller(file_seconds=0.01))
            assert daemon.phase is Phase.SERVING
    background.assert_all_ended_well(2)
    assert after.app_names() == ["multiset", "answer", "playback", "hangup"]
    assert after.exit_sent
    for index, fault in enumerate(FAULTS):
        records = [r for r in caplog.records if getattr(r, "call_uuid", None) == _uuid(index)]
        [finished] = [r for r in records if r.getMessage().startswith("call finished")]
        assert finished.disposition == fault.disposition, fault.name  # type: ignore[attr-defined]
        errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
        if fault.error is None:
            assert errors == [], fault.name
        else:
            assert errors == [
                f"FreeSWITCH at 127.0.0.1:{ports[fault.name]} broke the event-socket protocol: "
                f"{fault.error}; closing the connection"
            ], fault.name


# -- FreeSWITCH stops answering: virtual time -----------------------------------------------


@pytest.mark.parametrize(
    "anyio_backend", [("trio", {"clock": MockClock(autojump_threshold=0)})], ids=["trio"]
)
async def test_a_freeswitch_that_stops_answering_costs_one_call_for_a_bounded_time(
    tmp_path: Path, logs: LogWatcher, caplog: pytest.LogCaptureFixture
) -> None:
    background = Background()
    async with serve_daemon(daemon_config(tmp_path, FLOWS)) as (_, port):
        with anyio.fail_after(3600):
            async with anyio.create_task_group() as calls:
                await background.start(calls, port, 1)
                async with dial_daemon(port, 3600) as peer:
                    side = Side(peer, CALL_UUID)
                    peer_port = side.port
                    await side.connect()
                    settings = await side.next_app()  # not waited for
                    assert settings.headers["execute-app-name"] == "multiset"
                    await side.next_app()  # `answer`, at once; neither is ever answered
                    start = anyio.current_time()
                    hangup = await side.next_app()
                    assert hangup.headers["execute-app-name"] == "hangup"
                    hung_up = anyio.current_time() - start
                    await peer.expect("exit")
                    exited = anyio.current_time() - start
                    await peer.read_eof()  # nothing more from ivrd
                background.release()
            after = await FakeFreeSWITCH().call("127.0.0.1", port, Caller(file_seconds=1))
    # The reply limit, then the polite hangup's own limit and the wait for FreeSWITCH to
    # report the call gone; then `exit` at once.
    reply = Timeouts().reply
    assert hung_up == pytest.approx(reply)
    assert exited == pytest.approx(reply + POLITE_HANGUP_DEADLINE + HANGUP_EVENT_WAIT)
    background.assert_all_ended_well(1)
    assert after.exit_sent
    records = [r for r in caplog.records if getattr(r, "call_uuid", None) == CALL_UUID]
    assert [r.getMessage() for r in records if r.levelno >= logging.ERROR] == [
        f"call failed: no answer from FreeSWITCH at 127.0.0.1:{peer_port} to `sendmsg` within 30 s"
    ]
    assert [r.getMessage() for r in records if "call finished" in r.getMessage()] == [
        "call finished: error"
    ]
