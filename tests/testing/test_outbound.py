"""The outbound side: socket commands, application behaviour, teardown, linger and the record."""

from __future__ import annotations

import gc
import weakref

import anyio
import pytest

from ivrd.esl.protocol import Event, commands
from ivrd.testing import Caller, Channel, FakeFreeSWITCH, HangUp, Press

from .client import Server, run_call

pytestmark = pytest.mark.anyio
trio_only = pytest.mark.parametrize("anyio_backend", ["trio"], indirect=True)
SHORT = Caller(file_seconds=0.05)


def at(event: Event) -> float:
    """When the fake fired `event` (its Event-Date-Timestamp), in seconds."""
    return int(event["Event-Date-Timestamp"]) / 1_000_000


async def test_basic_call_and_its_record() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        playback = await server.run("playback", "ivr/welcome.wav")
        assert playback["Application-Response"] == "FILE PLAYED"
        assert playback["variable_current_application_response"] == "FILE PLAYED"
        await server.send_app("hangup", "USER_BUSY")
        await server.finish()

    record, client = await run_call(FakeFreeSWITCH(), script, SHORT)
    assert client.names()[-11:] == [
        "text/event-plain CHANNEL_EXECUTE hangup",
        "text/event-plain CHANNEL_HANGUP",
        "text/event-plain CHANNEL_EXECUTE_COMPLETE hangup",
        "text/event-plain CHANNEL_UNPARK",
        "text/event-plain CHANNEL_EXECUTE_COMPLETE socket",
        "text/event-plain CHANNEL_STATE",
        "text/event-plain CHANNEL_STATE",
        "text/event-plain CHANNEL_HANGUP_COMPLETE",
        "text/disconnect-notice linger",
        "command/reply +OK bye",
        "text/disconnect-notice disconnect",
    ]
    assert record.app_names() == ["answer", "playback", "hangup"]
    assert [app.response for app in record.apps] == ["_none_", "FILE PLAYED", "_none_"]
    assert record.apps[1].event_uuid == "00000000-0000-0000-0000-000000000002"
    assert (record.hangup_cause, record.hangup_by) == ("USER_BUSY", "server")
    assert record.variables["hangup_cause"] == "USER_BUSY"
    assert record.variables["hangup_cause_q850"] == "17"
    assert record.exit_sent
    assert record.exit_after_hangup is not None
    assert record.exit_after_hangup >= 0
    assert record.command_lines()[:3] == ["connect", "myevents", "linger"]
    assert len(record.turnarounds) == 2
    assert record.events_sent == len(client.events())
    assert record.violations == []
    assert not record.client_closed


@trio_only
async def test_by_default_channel_park_comes_between_the_first_sendmsg_and_its_reply() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        await server.send_app("hangup")
        await server.finish()

    _, client = await run_call(FakeFreeSWITCH(), script)
    assert client.names()[:6] == [
        "command/reply CHANNEL_DATA",
        "command/reply +OK Events Enabled",
        "command/reply +OK will linger",
        "text/event-plain CHANNEL_PARK",
        "command/reply +OK",
        "text/event-plain CHANNEL_EXECUTE answer",
    ]


@trio_only
async def test_apps_without_event_lock_nest_and_are_reported() -> None:
    async def script(server: Server) -> None:
        await server.start()
        outer = await server.send_app("playback", "a.wav", lock=False)
        inner = await server.send_app("playback", "b.wav", lock=False)
        inner_done = await server.complete(inner)
        outer_done = await server.complete(outer)
        starts = server.client.events("CHANNEL_EXECUTE")
        assert at(starts[0]) == at(starts[1])
        assert at(inner_done) < at(outer_done)
        await server.send_app("hangup")
        await server.finish()

    record, _ = await run_call(FakeFreeSWITCH(), script, Caller(file_seconds=1.0))
    assert [app.nested for app in record.apps[:2]] == [False, True]
    assert [v.kind for v in record.violations] == ["nested-execution"]


@trio_only
async def test_apps_with_event_lock_run_one_after_another() -> None:
    async def script(server: Server) -> None:
        await server.start()
        first = await server.send_app("playback", "a.wav")
        second = await server.send_app("playback", "b.wav")
        done = await server.complete(first)
        start = await server.client.until_event("CHANNEL_EXECUTE", Application_UUID=second)
        assert at(start) >= at(done) == pytest.approx(at(start))
        await server.complete(second)
        await server.send_app("hangup")
        await server.finish()

    record, _ = await run_call(FakeFreeSWITCH(), script, Caller(file_seconds=1.0))
    assert record.violations == []


@trio_only
async def test_uuid_break_stops_nested_playbacks_which_report_file_played() -> None:
    async def script(server: Server) -> None:
        await server.start()
        outer = await server.send_app("playback", "long.wav", lock=False)
        inner = await server.send_app("playback", "long.wav", lock=False)
        await server.client.until_event("CHANNEL_EXECUTE", Application_UUID=inner)
        await anyio.sleep(1)
        channel_uuid = server.client.events()[0]["Unique-ID"]
        assert await server.api(f"uuid_break {channel_uuid}") == "+OK\n"
        done = [await server.complete(inner), await server.complete(outer)]
        assert [event["Application-Response"] for event in done] == ["FILE PLAYED"] * 2
        assert at(done[1]) - at(done[0]) <= 0.021
        await server.send_app("hangup")
        await server.finish()

    await run_call(FakeFreeSWITCH(), script, Caller(file_seconds=60.0))


@trio_only
async def test_break_runs_nested_and_the_playback_completes_a_frame_later() -> None:
    async def script(server: Server) -> None:
        await server.start()
        playback = await server.send_app("playback", "long.wav", lock=False)
        await server.client.until_event("CHANNEL_EXECUTE", Application_UUID=playback)
        broken = await server.run("break")
        done = await server.complete(playback)
        assert done["Application-Response"] == "FILE PLAYED"
        assert at(done) - at(broken) == pytest.approx(0.02, abs=0.002)
        await server.send_app("hangup")
        await server.finish()

    await run_call(FakeFreeSWITCH(), script, Caller(file_seconds=60.0))


@pytest.mark.parametrize(
    ("terminators", "keys", "ended_by"),
    [(None, "*", "*"), (None, "1", None), ("none", "*0", None), ("#", "5#", "#")],
)
async def test_playback_terminators(
    terminators: str | None, keys: str, ended_by: str | None
) -> None:
    async def script(server: Server) -> None:
        await server.start()
        if terminators is not None:
            await server.run("set", f"playback_terminators={terminators}")
        done = await server.run("playback", "prompt.wav")
        assert done["Application-Response"] == "FILE PLAYED"
        assert done.get("variable_playback_terminator_used") == ended_by
        await server.send_app("hangup")
        await server.finish()

    caller = Caller(script=[Press(keys, during="playback")], files={"prompt.wav": 0.5})
    record, client = await run_call(FakeFreeSWITCH(), script, caller)
    digits = [event["DTMF-Digit"] for event in client.events("DTMF")]
    assert digits == list(keys)
    assert [dtmf.digit for dtmf in record.dtmf] == list(keys)
    played = record.apps[-2] if terminators is not None else record.apps[0]
    assert played.duration is not None
    assert (played.duration < 0.3) if ended_by else (played.duration >= 0.5)


async def test_unknown_application_hangs_the_channel_up_without_execute() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.send_app("no_such_app", "x")
        hangup = await server.client.until_event("CHANNEL_HANGUP")
        assert hangup["Hangup-Cause"] == "DESTINATION_OUT_OF_ORDER"
        await server.finish()

    record, client = await run_call(FakeFreeSWITCH(), script)
    assert client.events("CHANNEL_EXECUTE") == []
    assert [e["Application"] for e in client.events("CHANNEL_EXECUTE_COMPLETE")] == ["socket"]
    assert record.hangup_by == "switch"
    assert "unknown-application" in [v.kind for v in record.violations]


async def test_caller_hangs_up_mid_playback() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        done = await server.run("playback", "long.wav")
        assert done["Application-Response"] == "PLAYBACK ERROR"
        await server.finish()

    caller = Caller(script=[HangUp(during="playback", delay=0.05)], file_seconds=60)
    record, client = await run_call(FakeFreeSWITCH(), script, caller)
    names = client.names()
    assert names.index("text/event-plain CHANNEL_HANGUP") < names.index(
        "text/event-plain CHANNEL_EXECUTE_COMPLETE playback"
    )
    assert (record.hangup_cause, record.hangup_by) == ("NORMAL_CLEARING", "caller")


async def test_without_linger_the_socket_closes_after_hangup_complete() -> None:
    async def script(server: Server) -> None:
        await server.start(linger=False)
        await server.send_app("hangup")
        await server.client.until_closed()

    record, client = await run_call(FakeFreeSWITCH(), script)
    assert client.names()[-2:] == [
        "text/event-plain CHANNEL_HANGUP_COMPLETE",
        "text/disconnect-notice disconnect",
    ]
    assert not record.exit_sent
    assert not record.client_closed


@trio_only
@pytest.mark.parametrize("seconds", [0, 3])
async def test_linger_n_closes_n_and_a_half_seconds_after_hangup(seconds: int) -> None:
    async def script(server: Server) -> None:
        await server.client.request(commands.connect())
        await server.client.request(commands.myevents())
        reply = await server.client.request(commands.linger(seconds))
        assert reply.headers["Reply-Text"] == f"+OK will linger {seconds} seconds"
        await server.send_app("hangup")
        notice = await server.client.wait_for(lambda m: "Linger-Time" in m.headers)
        assert notice.headers["Linger-Time"] == str(seconds)
        await server.client.until_closed()

    record, _ = await run_call(FakeFreeSWITCH(), script)
    assert record.close_after_hangup == pytest.approx(seconds + 0.5)
    assert not record.exit_sent


@trio_only
async def test_linger_without_exit_keeps_the_socket_until_the_call_limit() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.send_app("hangup")
        await server.client.until_closed()

    record, _ = await run_call(FakeFreeSWITCH(), script, max_seconds=120)
    assert record.timed_out
    assert record.close_after_hangup == pytest.approx(120, abs=0.1)
    assert not record.exit_sent


async def test_client_closing_the_socket_ends_the_call() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        await server.client.stream.aclose()

    record, _ = await run_call(FakeFreeSWITCH(), script)
    assert record.client_closed
    assert (record.hangup_cause, record.hangup_by) == ("NORMAL_CLEARING", "server")


@trio_only
async def test_a_server_that_never_connects_is_dropped_after_25_seconds() -> None:
    async def script(server: Server) -> None:
        await server.client.until_closed()

    record, _ = await run_call(FakeFreeSWITCH(), script)
    assert [v.kind for v in record.violations] == ["no-connect"]
    assert record.closed_at is not None
    assert record.closed_at - record.started_at == pytest.approx(25)


async def test_socket_commands_and_their_replies() -> None:
    async def script(server: Server) -> None:
        client = server.client
        channel_data = await server.start()
        uuid = channel_data.headers["Unique-ID"]
        replies = {}
        for line in [
            "getvar loopback_leg",
            "getvar nothing_here",
            "divert_events on",
            "filter Event-Name CHANNEL_ANSWER",
            "filter delete Event-Name CHANNEL_ANSWER",
            "event plain BACKGROUND_JOB",
            "myevents",
            "resume",
            "bogus",
            "nolinger",
        ]:
            reply = await client.request(commands.build(line))
            replies[line] = reply.headers["Reply-Text"]
        assert replies == {
            "getvar loopback_leg": "B",
            "getvar nothing_here": "-ERR command not found",
            "divert_events on": "+OK events diverted",
            "filter Event-Name CHANNEL_ANSWER": "+OK filter added. [Event-Name]=[CHANNEL_ANSWER]",
            "filter delete Event-Name CHANNEL_ANSWER": (
                "+OK filter deleted. [Event-Name][CHANNEL_ANSWER]"
            ),
            "event plain BACKGROUND_JOB": "+OK event listener enabled plain",
            "myevents": "-ERR aready enabled.",
            "resume": "+OK",
            "bogus": "-ERR command not found",
            "nolinger": "+OK will not linger",
        }
        assert await server.api("nosuch x") == "-ERR nosuch Command not found!\n"
        assert await server.api(f"uuid_getvar {uuid} loopback_leg") == "B"
        assert await server.api(f"uuid_setvar {uuid} color blue") == "+OK\n"
        assert (await client.request(commands.getvar("color"))).headers["Reply-Text"] == "blue"
        bad = await client.request(commands.execute("answer", uuid="not-a-uuid"))
        assert bad.headers["Reply-Text"] == "-ERR invalid session id [not-a-uuid]"
        job = await client.request(commands.bgapi("uptime", job_uuid="job-1"))
        assert job.headers["Reply-Text"] == "+OK Job-UUID: job-1"
        assert job.headers["Job-UUID"] == "job-1"
        await server.send_app("hangup")
        await server.client.until_closed()

    record, client = await run_call(FakeFreeSWITCH(), script)
    # myevents passes only events whose Unique-ID is the call's: never a BACKGROUND_JOB.
    assert client.events("BACKGROUND_JOB") == []
    assert {v.kind for v in record.violations} == {"unknown-command", "bad-uuid"}


async def test_background_job_reaches_a_socket_without_myevents() -> None:
    async def script(server: Server) -> None:
        client = server.client
        await client.request(commands.connect())
        await client.request(commands.event(["BACKGROUND_JOB"]))
        await client.request(commands.bgapi("echo hello", job_uuid="job-2"))
        event = await client.until_event("BACKGROUND_JOB")
        assert (event["Job-UUID"], event["Job-Command"], event["Job-Command-Arg"]) == (
            "job-2",
            "echo",
            "hello",
        )
        assert event.body == "hello"
        await client.send(commands.exit())
        await client.until_closed()

    await run_call(FakeFreeSWITCH(), script)


async def test_variables_expansion_text_plain_body_and_json_events() -> None:
    async def script(server: Server) -> None:
        await server.start(format="json")
        await server.run("set", "sound=ivr/menu")
        await server.run("multiset", "^^:a=1:b=2")
        await server.run("export", "team=sales")
        await server.run("unset", "b")
        done = await server.run("playback", "${sound}.wav")
        assert done["Application-Data"] == "ivr/menu.wav"
        assert (done["variable_a"], done.get("variable_b")) == ("1", None)
        assert done["variable_export_vars"] == "team"
        event_uuid = "00000000-0000-0000-0000-0000000000ff"
        await server.client.request(
            commands.execute("log", "INFO line one\nline two", event_uuid=event_uuid)
        )
        logged = await server.complete(event_uuid)
        assert logged["Application-Data"] == "INFO line one\nline two"
        await server.send_app("hangup")
        await server.finish()

    _, client = await run_call(FakeFreeSWITCH(), script, SHORT)
    assert {m.content_type for m in client.received if m.content_type.startswith("text/event")} == {
        "text/event-json"
    }


async def test_sip_channel_data_is_about_7_kb() -> None:
    async def script(server: Server) -> None:
        channel_data = await server.start()
        assert channel_data.headers["variable_sip_from_user"] == "1112223333"
        assert channel_data.headers["Caller-Caller-ID-Name"] == "Alice"
        assert channel_data.headers["variable_ivr_flow"] == "main"
        assert 6000 < sum(len(k) + len(v) + 3 for k, v in channel_data.headers.raw_pairs()) < 9000
        await server.send_app("hangup")
        await server.finish()

    channel = Channel(caller_id_name="Alice", variables={"ivr_flow": "main"}, sip=True)
    await run_call(FakeFreeSWITCH(), script, channel=channel)


async def test_bad_framing_is_a_violation_and_ends_the_socket() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.client.send(b"sendmsg\ncall-command execute\n\n")
        await server.client.until_closed()

    record, _ = await run_call(FakeFreeSWITCH(), script)
    assert [v.kind for v in record.violations] == ["bad-framing"]
    assert record.hangup_by == "server"


async def test_an_ended_call_is_freed_without_the_garbage_collector() -> None:
    # Under load the cycle search was a good part of the fake's work (benchmarks/load).
    fake = FakeFreeSWITCH()
    calls: list[weakref.ref[object]] = []

    async def script(server: Server) -> None:
        calls.extend(weakref.ref(call) for call in fake.calls.values())
        await server.start()
        await server.run("playback", "ivr/welcome.wav")
        await server.send_app("hangup")
        await server.finish()

    gc.collect()
    gc.disable()
    try:
        record, _ = await run_call(fake, script, SHORT)
        assert record.hangup_by == "server"
        assert len(calls) == 1
        assert calls[0]() is None
    finally:
        gc.enable()
