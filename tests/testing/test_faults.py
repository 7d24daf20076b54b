"""Injected faults (`ivrd.testing.faults`): what the fake sends, and what ivrd's server makes of it.

Each fault is played twice: against a bare server (tests/testing/client.py), which shows the
bytes exactly, and against ivrd's OutboundServer, which must end the call with the right
exception, say goodbye where it still can, and go on serving the next call.
"""

from __future__ import annotations

import re

import anyio
import pytest

from ivrd.esl import CallHangup, ConnectionClosed, ESLTimeout, OutboundServer, OutboundSession
from ivrd.esl.protocol import RemoteProtocolError, commands, writers
from ivrd.esl.timeouts import Timeouts
from ivrd.testing import Caller, CallRecord, FakeFreeSWITCH, Fault

from .client import Server, run_call

pytestmark = pytest.mark.anyio

WELCOME = "ivr/welcome.wav"


def caller(fault: Fault) -> Caller:
    return Caller(file_seconds=0.05, fault=fault)


def assert_injected(record: CallRecord, detail: str) -> None:
    assert record.fault is not None
    assert record.fault.injected, record.notes
    assert re.fullmatch(detail, record.fault.detail), record.fault.detail
    assert record.violations == []
    assert not record.timed_out


# -- the bytes, seen by a bare server --------------------------------------------------------


async def test_close_mid_application_closes_without_a_notice() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        playing = await server.send_app("playback", WELCOME)
        await server.client.until_event("CHANNEL_EXECUTE", Application_UUID=playing)
        await server.client.until_closed()

    fault = Fault.close_mid_application("playback", delay=0.01)
    record, client = await run_call(FakeFreeSWITCH(), script, caller(fault))
    assert_injected(record, "closed the socket 0.01 s into `playback`")
    assert client.names()[-1] == "text/event-plain CHANNEL_EXECUTE playback"
    assert (record.hangup_by, record.hangup_cause) == ("switch", "NORMAL_CLEARING")
    assert not record.client_closed
    assert record.fault is not None
    assert record.fault.outcome.startswith("0 command(s) after it; closed after ")


async def test_close_mid_reply_sends_part_of_the_reply() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        await server.client.send(commands.execute("playback", WELCOME, event_uuid="x"))
        with pytest.raises(RemoteProtocolError, match=r"middle of a frame \(10 bytes pending\)"):
            await server.client.until_closed()

    fault = Fault.close_mid_reply("sendmsg", nth=2, keep=10)
    record, client = await run_call(FakeFreeSWITCH(), script, caller(fault))
    size = len(writers.command_reply("+OK"))
    assert_injected(record, f"sent 10 of {size} bytes of the reply to `sendmsg`, then closed")
    assert record.app_names() == ["answer"]  # the channel hung up before it got to playback
    assert record.hangup_by == "switch"
    assert client.names()[-1] == "text/event-plain CHANNEL_EXECUTE_COMPLETE answer"


async def test_close_mid_frame_cuts_an_event_inside_its_body() -> None:
    pending: list[int] = []

    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        await server.send_app("playback", WELCOME)
        with pytest.raises(RemoteProtocolError) as failure:
            await server.client.until_closed()
        found = re.search(r"\((\d+) bytes pending\)", str(failure.value))
        assert found is not None
        pending.append(int(found.group(1)))

    record, client = await run_call(FakeFreeSWITCH(), script, caller(Fault.close_mid_frame()))
    assert_injected(record, r"cut the CHANNEL_EXECUTE of `playback` after \d+ of \d+ bytes.*")
    assert record.fault is not None
    sent, size = map(int, re.findall(r"\d+", record.fault.detail))
    assert pending == [sent]
    assert 0 < sent < size
    assert "CHANNEL_EXECUTE playback" not in " ".join(client.names())


async def test_no_reply_leaves_the_socket_open_and_silent() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        await server.client.send(commands.execute("playback", WELCOME, event_uuid="x"))
        await server.client.send(commands.exit())
        await server.client.until_closed()

    fault = Fault.no_reply("sendmsg", nth=2)
    record, client = await run_call(FakeFreeSWITCH(), script, caller(fault))
    assert_injected(record, "stopped sending anything at `sendmsg`")
    # Nothing after the answer's completion: no +OK, no event of the playback, no `+OK bye`.
    assert client.names()[-1] == "text/event-plain CHANNEL_EXECUTE_COMPLETE answer"
    assert record.app_names() == ["answer", "playback"]  # still read and carried out
    assert record.exit_sent
    assert not record.client_closed
    assert record.fault is not None
    assert record.fault.outcome.startswith("1 command(s) after it (exit); exit after ")


async def test_unknown_application_hangs_up_without_a_completion() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        await server.send_app("playback", WELCOME)
        await server.finish()

    fault = Fault.unknown_application("playback")
    record, client = await run_call(FakeFreeSWITCH(), script, caller(fault))
    assert_injected(record, "treated `playback` as an unknown application")
    names = client.names()
    assert "text/event-plain CHANNEL_EXECUTE playback" not in names
    answered = names.index("text/event-plain CHANNEL_EXECUTE_COMPLETE answer")
    assert names[answered + 1 : answered + 3] == [
        "command/reply +OK",
        "text/event-plain CHANNEL_HANGUP",
    ]
    assert (record.hangup_by, record.hangup_cause) == ("switch", "DESTINATION_OUT_OF_ORDER")
    assert record.exit_sent


async def test_hangup_before_complete_comes_between_execute_and_completion() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.send_app("answer")
        await server.finish()

    fault = Fault.hangup_before_complete("answer", cause="ORIGINATOR_CANCEL")
    record, client = await run_call(FakeFreeSWITCH(), script, caller(fault))
    assert_injected(record, r"hung up \(ORIGINATOR_CANCEL\) as `answer` started")
    names = client.names()
    start = names.index("text/event-plain CHANNEL_EXECUTE answer")
    assert names[start : start + 3] == [
        "text/event-plain CHANNEL_EXECUTE answer",
        "text/event-plain CHANNEL_HANGUP",
        "text/event-plain CHANNEL_EXECUTE_COMPLETE answer",
    ]
    assert "text/event-plain CHANNEL_ANSWER" not in names
    assert (record.hangup_by, record.hangup_cause) == ("caller", "ORIGINATOR_CANCEL")


async def test_linger_notice_overtakes_the_hangup_events() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        playing = await server.send_app("playback", WELCOME)
        await server.complete(playing)
        await server.client.until_event("CHANNEL_HANGUP_COMPLETE")
        await server.client.send(commands.exit())
        await server.client.until_closed()

    fault = Fault.disconnect_notice("playback", linger=True)
    record, client = await run_call(FakeFreeSWITCH(), script, caller(fault))
    assert_injected(record, "sent a linger notice 0 s into `playback`, then hung up")
    names = client.names()
    start = names.index("text/event-plain CHANNEL_EXECUTE playback")
    assert names[start + 1 : start + 4] == [
        "text/disconnect-notice linger",
        "text/event-plain CHANNEL_HANGUP",
        "text/event-plain CHANNEL_EXECUTE_COMPLETE playback",
    ]
    assert names.count("text/disconnect-notice linger") == 1
    assert names[-2:] == ["command/reply +OK bye", "text/disconnect-notice disconnect"]
    assert record.hangup_by == "switch"
    assert record.exit_sent


async def test_disconnect_notice_without_linger_closes_at_once() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        await server.send_app("playback", WELCOME)
        await server.client.until_closed()

    fault = Fault.disconnect_notice("playback", linger=False, delay=0.01)
    record, client = await run_call(FakeFreeSWITCH(), script, caller(fault))
    assert_injected(record, "sent a disconnect notice 0.01 s into `playback` and closed")
    names = client.names()
    assert names[-2:] == [
        "text/event-plain CHANNEL_EXECUTE playback",
        "text/disconnect-notice disconnect",
    ]
    assert record.hangup_by == "switch"
    assert not record.exit_sent


async def test_a_fault_whose_trigger_never_comes_changes_nothing() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        await server.send_app("hangup")
        await server.finish()

    fault = Fault.close_mid_application("bridge")
    record, _ = await run_call(FakeFreeSWITCH(), script, caller(fault))
    assert record.fault is not None
    assert not record.fault.injected
    assert record.fault.outcome == "not injected: its trigger never came"
    assert record.hangup_by == "server"
    assert record.exit_sent
    assert record.notes == []


async def test_the_nth_matching_application_triggers_the_fault() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        await server.run("playback", WELCOME)
        await server.send_app("say", "en number pronounced 7")
        await server.finish()

    fault = Fault.hangup_before_complete(("playback", "say"), nth=2)
    record, _ = await run_call(FakeFreeSWITCH(), script, caller(fault))
    assert_injected(record, r"hung up \(NORMAL_CLEARING\) as `say` started")
    assert [app.response for app in record.apps] == ["_none_", "FILE PLAYED", "_none_"]


def test_faults_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match="triggered by a command"):
        Fault("no_reply", at_app="playback")
    with pytest.raises(ValueError, match="triggered by an application"):
        Fault("close_mid_application", at_command="sendmsg")
    with pytest.raises(ValueError, match="nth counts from 1"):
        Fault.unknown_application(nth=0)
    with pytest.raises(ValueError, match="unknown fault kind 'crash'"):
        Fault("crash", at_app="*")  # type: ignore[arg-type]
    assert str(Fault.disconnect_notice("bridge", linger=False, delay=2)) == (
        "disconnect notice at bridge #1 +2s (no linger)"
    )


# -- ivrd's OutboundServer against each fault ------------------------------------------------

# Short enough for asyncio's real clock; trio's MockClock skips the waits anyway.
QUICK = Timeouts(reply=1.0, api=1.0, teardown=1.0, after_hangup=2.0)

SERVER_CASES = [
    (Fault.close_mid_application("playback", delay=0.01), ConnectionClosed, False),
    (Fault.close_mid_reply("sendmsg", nth=2), ConnectionClosed, False),
    (Fault.close_mid_frame("playback"), ConnectionClosed, False),
    (Fault.no_reply("sendmsg", nth=2), ESLTimeout, True),
    (Fault.unknown_application("playback"), CallHangup, True),
    (Fault.hangup_before_complete("answer"), CallHangup, True),
    (Fault.hangup_before_complete("playback", nth=2), CallHangup, True),
    (Fault.disconnect_notice("playback", linger=True), CallHangup, True),
    (Fault.disconnect_notice("playback", linger=False, delay=0.01), ConnectionClosed, False),
]


@pytest.mark.parametrize(
    ("fault", "raised", "exit_sent"),
    [pytest.param(*case, id=str(case[0])) for case in SERVER_CASES],
)
async def test_ivrd_ends_the_call_and_serves_the_next(
    fault: Fault, raised: type[Exception], exit_sent: bool
) -> None:
    ended: list[type[Exception] | None] = []

    async def handler(session: OutboundSession) -> None:
        try:
            await session.execute("answer")
            await session.execute("playback", WELCOME)
            await session.execute("playback", WELCOME)
            await session.hangup()
        except (CallHangup, ConnectionClosed, ESLTimeout) as exc:
            ended.append(type(exc))
            raise
        ended.append(None)

    fake = FakeFreeSWITCH()
    server = OutboundServer(handler, port=0, timeouts=QUICK)
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            port = await tg.start(server.serve)
            faulty = await fake.call("127.0.0.1", port, caller(fault))
            normal = await fake.call("127.0.0.1", port, Caller(file_seconds=0.05))
            tg.cancel_scope.cancel()
    assert ended == [raised, None]
    assert faulty.fault is not None
    assert faulty.fault.injected
    assert faulty.violations == []
    assert not faulty.timed_out
    assert faulty.exit_sent == exit_sent
    assert faulty.hangup_at is not None
    assert faulty.closed_at is not None
    assert normal.violations == []
    assert normal.exit_sent
    assert normal.hangup_by == "server"
    assert normal.fault is None
    assert server.active_calls == 0
