"""End to end: OutboundServer driven by the fake FreeSWITCH, every capture scenario replayed.

The fake dials our server like `socket 127.0.0.1:8084 async full` and records every command
(see `ivrd.testing`); these tests check what we sent and what the handler saw.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from _esl_peer import port_of, serving

from ivrd.esl import (
    CallHangup,
    CommandError,
    ConnectionClosed,
    DigitsResult,
    Endpoint,
    Event,
    ExecuteResult,
    OutboundSession,
)
from ivrd.esl.protocol import commands
from ivrd.testing import Answered, Busy, Caller, CallRecord, Channel, FakeFreeSWITCH, HangUp, Press

pytestmark = pytest.mark.anyio

TONE = "tone_stream://%(20,0,440)"  # 20 ms: the fake plays it in real time


async def call(
    handler: Callable[[OutboundSession], Awaitable[None]],
    caller: Caller | None = None,
    *,
    fake: FakeFreeSWITCH | None = None,
    channel: Channel | None = None,
    **options: Any,
) -> CallRecord:
    fake = fake or FakeFreeSWITCH()
    async with serving(handler, **options) as server:
        with anyio.fail_after(10):
            return await fake.call(
                "127.0.0.1", port_of(server), caller or Caller(file_seconds=0.02), channel=channel
            )


def lines(record: CallRecord) -> list[str]:
    return [received.command.line for received in record.commands]


def apps(record: CallRecord) -> list[tuple[str, str]]:
    return [(app.name, app.arg) for app in record.apps]


def assert_clean(record: CallRecord) -> None:
    assert record.violations == []
    assert all(app.event_lock and not app.nested for app in record.apps)
    assert len({app.event_uuid for app in record.apps}) == len(record.apps)


async def test_capture_session_answer_playback_hangup() -> None:
    results: list[ExecuteResult | None] = []

    async def handler(session: OutboundSession) -> None:
        results.append(await session.answer())
        results.append(await session.playback(TONE))
        results.append(await session.hangup())

    record = await call(handler)
    assert lines(record) == [
        "connect",
        "myevents",
        "linger",
        "divert_events on",
        "sendmsg",
        "sendmsg",
        "sendmsg",
        "exit",
    ]
    assert apps(record) == [("answer", ""), ("playback", TONE), ("hangup", "")]
    assert [r.response if r else None for r in results[:2]] == [None, "FILE PLAYED"]
    assert record.hangup_by == "server"
    assert record.hangup_cause == "NORMAL_CLEARING"
    assert record.exit_sent
    assert record.exit_after_hangup
    assert_clean(record)


async def test_capture_session_json() -> None:
    seen: list[str] = []

    async def handler(session: OutboundSession) -> None:
        await session.answer()
        seen.append(session.variable("answer_state") or session.channel_data["Answer-State"])
        await session.playback(TONE)
        await session.hangup()

    record = await call(handler, event_format="json")
    assert lines(record)[:2] == ["connect", "myevents json"]
    assert seen == ["answered"]
    assert record.exit_after_hangup
    assert_clean(record)


@pytest.mark.parametrize(
    ("linger", "linger_line"), [(True, "linger"), (5, "linger 5"), (False, None)]
)
async def test_capture_hangup_midplayback(linger: bool | int, linger_line: str | None) -> None:
    outcome: list[str] = []

    async def handler(session: OutboundSession) -> None:
        await session.answer()
        try:
            await session.playback("ivr/long.wav")
        except CallHangup as exc:
            outcome.append(exc.cause)

    caller = Caller(script=[HangUp(during="playback")], files={"ivr/long.wav": 20.0})
    record = await call(handler, caller, linger=linger)
    assert outcome == ["NORMAL_CLEARING"]
    assert record.hangup_by == "caller"
    expected = ["connect", "myevents", *([linger_line] if linger_line else []), "divert_events on"]
    assert lines(record)[: len(expected)] == expected
    # Lingering, FreeSWITCH keeps the channel until we say `exit`; without it, it closes.
    assert record.exit_sent is (linger is not False)
    assert_clean(record)


@pytest.mark.parametrize("digits", ["1234#", "5678#"])  # uuid_recv_dtmf, uuid_send_dtmf
async def test_capture_play_and_get_digits(digits: str) -> None:
    results: list[DigitsResult] = []

    async def handler(session: OutboundSession) -> None:
        await session.answer()
        results.append(
            await session.play_and_get_digits(
                "tone_stream://%(3000,0,440)",
                "tone_stream://%(300,0,300)",
                min=1,
                max=5,
                tries=1,
                timeout=8000,
                variable="pagd_digits",
                digit_timeout=3000,
            )
        )
        await session.hangup()

    record = await call(handler, Caller(script=[Press(digits, during="play_and_get_digits")]))
    assert apps(record)[1] == (
        "play_and_get_digits",
        "1 5 1 8000 # tone_stream://%(3000,0,440) tone_stream://%(300,0,300) pagd_digits \\d+ 3000",
    )
    [result] = results
    assert (result.digits, result.status, result.terminator) == (digits[:-1], "ok", "#")
    assert [dtmf.digit for dtmf in record.dtmf] == list(digits)
    assert_clean(record)


async def test_input_statuses_silence_and_invalid() -> None:
    results: list[DigitsResult] = []

    async def handler(session: OutboundSession) -> None:
        for _ in range(2):
            results.append(
                await session.play_and_get_digits(
                    "ivr/menu.wav",
                    "silence_stream://250",
                    min=4,
                    max=4,
                    tries=1,
                    timeout=50,
                    regexp="^1\\d+",
                    digit_timeout=50,
                )
            )
        await session.hangup()

    caller = Caller(script=[Press("9999", during="play_and_get_digits", nth=2)], file_seconds=0.01)
    record = await call(handler, caller)
    statuses = [(r.status, r.digits, r.invalid_digits) for r in results]
    assert statuses == [("silence", "", ""), ("invalid", "", "9999")]
    assert_clean(record)


async def test_capture_errors() -> None:
    outcome: list[object] = []

    async def handler(session: OutboundSession) -> None:
        await session.answer()
        try:
            await session.command(commands.build("bogus_command_xyz"))
        except CommandError as exc:
            outcome.append(exc.reply)
        outcome.append(await session.api("uptime"))
        outcome.append(await session.getvar("loopback_leg"))
        try:
            await session.command(
                commands.execute("answer", uuid="00000000-0000-0000-0000-000000000000")
            )
        except CommandError as exc:
            outcome.append(exc.reply)
        try:
            await session.execute("no_such_app", "x")
        except CallHangup as exc:
            outcome.append(exc.cause)

    channel = Channel(variables={"loopback_leg": "B"})
    record = await call(handler, channel=channel)
    assert outcome[0] == "-ERR command not found"
    assert str(outcome[1]).strip().isdigit()
    assert outcome[2:] == [
        "B",
        "-ERR invalid session id [00000000-0000-0000-0000-000000000000]",
        "DESTINATION_OUT_OF_ORDER",
    ]
    assert record.hangup_cause == "DESTINATION_OUT_OF_ORDER"
    assert record.exit_sent


async def test_every_application_sends_librevox_s_exact_arguments() -> None:
    async def handler(session: OutboundSession) -> None:
        await session.answer()
        await session.pre_answer()
        await session.playback("ivr/hello.wav")
        await session.read("ivr/enter.wav")
        await session.play_and_get_digits("ivr/pin.wav", "ivr/wrong.wav")
        await session.bridge("user/1000", "user/1001", foo=1, lol="cat")
        await session.bridge(["user/1000", "user/1001"], [Endpoint("user/1002", {"x": "y"})])
        await session.set("some_var", "some value")
        await session.multiset({"var1": "val1", "var2": "val2"})
        await session.unset("some_var")
        await session.export("some_var")
        await session.export("other_var", local=False)
        await session.gentones("%(500,0,800)")
        await session.record("/tmp/rec.wav", limit=20)
        await session.bind_meta_app(
            key=2,
            listen_to="a",
            respond_on="s",
            application="execute_extension",
            parameters="dx XML features",
        )
        await session.unbind_meta_app(2)
        await session.respond(403)
        await session.deflect("sip:miles@davis.com")
        await session.redirect("sip:freddie@hubbard.org")
        await session.sleep(10)
        await session.say("42")
        await session.phrase("voicemail_hello", "1000")
        await session.speak("hello", engine="flite", voice="kal")
        await session.send_dtmf("12")
        await session.flush_dtmf()
        await session.record_session("/tmp/call.wav")
        await session.stop_record_session("/tmp/call.wav")
        await session.displace_session("moh.wav", flags="mux", limit_ms=1000)
        await session.sched_hangup(600, "ALLOTTED_TIMEOUT")
        await session.park()
        await session.hangup("USER_BUSY")

    durations = dict.fromkeys(
        ("say", "phrase", "gentones", "record", "send_dtmf", "speak", "park"), 0.0
    )
    caller = Caller(
        script=[Press("1#", during="read"), Press("12#", during="play_and_get_digits")],
        bridge={"user/1000": Busy(ring=0), "user/1001": Answered(talk=0, ring=0)},
        bridge_default=Answered(talk=0, ring=0),
        file_seconds=0.0,
        durations=durations,
    )
    record = await call(handler, caller)
    assert apps(record) == [
        ("answer", ""),
        ("pre_answer", ""),
        ("playback", "ivr/hello.wav"),
        ("read", "1 2 ivr/enter.wav read_digits_var 5000 #"),
        ("play_and_get_digits", "1 2 3 5000 # ivr/pin.wav ivr/wrong.wav read_digits_var \\d+"),
        ("bridge", "{foo=1,lol=cat}user/1000,user/1001"),
        ("bridge", "user/1000,user/1001|[x=y]user/1002"),
        ("set", "some_var=some value"),
        ("multiset", "^^|var1=val1|var2=val2"),
        ("unset", "some_var"),
        ("export", "some_var"),
        ("export", "nolocal:other_var"),
        ("gentones", "%(500,0,800)"),
        ("record", "/tmp/rec.wav 20"),
        ("bind_meta_app", "2 a s execute_extension::dx XML features"),
        ("unbind_meta_app", "2"),
        ("respond", "403"),
        ("deflect", "sip:miles@davis.com"),
        ("redirect", "sip:freddie@hubbard.org"),
        ("sleep", "10"),
        ("say", "en number pronounced 42"),
        ("phrase", "voicemail_hello,1000"),
        ("speak", "flite|kal|hello"),
        ("send_dtmf", "12"),
        ("flush_dtmf", ""),
        ("record_session", "/tmp/call.wav"),
        ("stop_record_session", "/tmp/call.wav"),
        ("displace_session", "moh.wav mux +1000"),
        ("sched_hangup", "+600 ALLOTTED_TIMEOUT"),
        ("park", ""),
        ("hangup", "USER_BUSY"),
    ]
    assert record.hangup_cause == "USER_BUSY"
    assert_clean(record)


async def test_hooks_call_api_while_an_application_runs() -> None:
    answers: list[str] = []

    async def handler(session: OutboundSession) -> None:
        @session.on("DTMF")
        async def key(event: Event) -> None:
            answers.append(await session.api(f"uuid_getvar {session.uuid} last_key"))

        await session.answer()
        await session.set("last_key", "none-yet")
        await session.playback("ivr/long.wav")

    caller = Caller(
        script=[Press("5", during="playback"), HangUp(delay=0.05)], files={"ivr/long.wav": 30.0}
    )
    record = await call(handler, caller)
    assert answers == ["none-yet"]
    assert record.hangup_by == "caller"
    assert record.exit_sent
    assert_clean(record)


async def test_uuid_break_stops_the_prompt_and_says_we_asked() -> None:
    results: list[ExecuteResult] = []

    async def handler(session: OutboundSession) -> None:
        @session.on("CHANNEL_EXECUTE")
        async def started(event: Event) -> None:
            if event["Application"] == "playback":
                await session.uuid_break()

        results.append(await session.playback("ivr/long.wav"))
        await session.hangup()

    record = await call(handler, Caller(files={"ivr/long.wav": 30.0}))
    [result] = results
    assert (result.response, result.interrupted) == ("FILE PLAYED", True)
    assert [
        received.command.line for received in record.commands if received.command.name == "api"
    ] == [f"api uuid_break {record.uuid}"]


async def test_a_drop_mid_application_unblocks_it_and_the_next_call_is_served() -> None:
    outcome: list[str] = []
    dropped = anyio.Event()
    fake_call = anyio.CancelScope()

    async def handler(session: OutboundSession) -> None:
        session.on("CHANNEL_EXECUTE", lambda event: _cancel(fake_call))
        try:
            await session.playback("ivr/long.wav")
            outcome.append("played")
        except ConnectionClosed:
            outcome.append("dropped")
            dropped.set()

    fake = FakeFreeSWITCH()
    async with serving(handler) as server:
        with fake_call:  # FreeSWITCH's side vanishes while the playback runs
            await fake.call("127.0.0.1", port_of(server), Caller(files={"ivr/long.wav": 30}))
        with anyio.fail_after(5):
            await dropped.wait()
        fake.calls.clear()
        with anyio.fail_after(10):
            record = await fake.call(
                "127.0.0.1", port_of(server), Caller(files={"ivr/long.wav": 0.01})
            )
        assert server.total_calls == 2
    assert outcome == ["dropped", "played"]
    assert record.exit_sent


async def _cancel(scope: anyio.CancelScope) -> None:
    scope.cancel()


async def test_a_failed_bridge_hangs_the_caller_up_with_its_cause() -> None:
    outcome: list[str] = []

    async def handler(session: OutboundSession) -> None:
        await session.answer()
        try:
            await session.bridge("user/2001")
        except CallHangup as exc:
            outcome.append(exc.cause)

    record = await call(handler, Caller(bridge={"user/2001": Busy(ring=0)}))
    assert outcome == ["USER_BUSY"]
    assert record.exit_sent


async def test_channel_data_follows_completions_and_uuid_dump() -> None:
    seen: list[str | None] = []

    async def handler(session: OutboundSession) -> None:
        seen.append(session.variable("ivr_flow"))
        await session.set("order_id", "1234")
        seen.append(session.variable("variable_order_id"))  # from the completion
        await session.api(f"uuid_setvar {session.uuid} vip yes")
        seen.append(session.variable("vip"))
        dump = await session.update_channel_data()
        assert dump["Unique-ID"] == session.uuid
        seen.append(session.variable("vip"))
        await session.hangup()

    await call(handler, channel=Channel(variables={"ivr_flow": "main menu"}))
    assert seen == ["main menu", "1234", None, "yes"]
