"""Caller scripts (when keys are pressed, when the caller hangs up) and the longer applications."""

from __future__ import annotations

import anyio
import pytest

from ivrd.esl.protocol import Event, commands
from ivrd.testing import (
    PROMPTS,
    Answered,
    Caller,
    Channel,
    FakeFreeSWITCH,
    HangUp,
    Press,
    Silence,
)

from .client import RawClient, Server, inbound_client, outbound_server, run_call

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["trio"], indirect=True)]


async def prompts(count: int, server: Server) -> list[Event]:
    await server.start()
    await server.run("set", "playback_terminators=none")
    done = [await server.run("playback", f"p{n}.wav") for n in range(count)]
    await server.send_app("hangup")
    await server.finish()
    return done


async def test_press_at_a_time_and_during_the_nth_prompt() -> None:
    caller = Caller(
        script=[
            Press("1", at=2.5),
            Press("2", during="playback", nth=3, delay=0.1),
            Press("3", during=PROMPTS),
        ],
        file_seconds=1.0,
    )
    result: list[Event] = []

    async def script(server: Server) -> None:
        result.extend(await prompts(4, server))

    record, client = await run_call(FakeFreeSWITCH(), script, caller)
    assert record.connected_at is not None
    third, fourth = record.apps[3], record.apps[4]  # apps[0] is the `set`
    assert third.started_at is not None
    assert third.started_at < record.connected_at + 2.5
    assert fourth.started_at is not None
    assert [d.digit for d in record.dtmf] == ["1", "2", "3"]
    assert [d.at for d in record.dtmf] == pytest.approx(
        # Steps run in order: the third prompt was already playing when step 1 was done.
        [record.connected_at + 2.5, record.connected_at + 2.5 + 0.1, fourth.started_at]
    )
    assert [event["DTMF-Digit"] for event in client.events("DTMF")] == ["1", "2", "3"]


async def test_a_step_whose_application_already_ended_is_skipped() -> None:
    caller = Caller(
        script=[Silence(during="playback", nth=1, delay=5), Press("9", during="playback", nth=1)]
    )

    async def script(server: Server) -> None:
        await prompts(8, server)

    record, _ = await run_call(FakeFreeSWITCH(), script, caller)
    assert record.dtmf == []
    assert len(record.notes) == 1
    assert "skipped" in record.notes[0]


async def test_uuid_break_all_also_drops_queued_applications() -> None:
    async def script(server: Server) -> None:
        await server.start()
        first = await server.send_app("playback", "long.wav")
        await server.send_app("playback", "queued.wav")
        await server.client.until_event("CHANNEL_EXECUTE", Application_UUID=first)
        uuid = server.client.events()[0]["Unique-ID"]
        assert await server.api(f"uuid_break {uuid} all") == "+OK\n"
        assert (await server.complete(first))["Application-Response"] == "FILE PLAYED"
        await anyio.sleep(5)
        await server.send_app("hangup")
        await server.finish()

    record, _ = await run_call(FakeFreeSWITCH(), script, Caller(file_seconds=60))
    assert record.app_names() == ["playback", "hangup"]
    assert record.apps[1].started_at is None


async def test_sched_hangup_record_and_voicemail() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        recorded = await server.run("record", "/tmp/msg.wav 20")
        assert recorded["variable_record_seconds"] == "4"
        assert recorded["variable_record_ms"] == "4000"
        await server.run("sched_hangup", "+3 ALLOTTED_TIMEOUT")
        voicemail = await server.run("voicemail", "default example.com 100")
        assert voicemail["Hangup-Cause"] == "ALLOTTED_TIMEOUT"
        await server.finish()

    record, _ = await run_call(
        FakeFreeSWITCH(), script, Caller(durations={"record": 4.0, "voicemail": 10.0})
    )
    assert (record.hangup_cause, record.hangup_by) == ("ALLOTTED_TIMEOUT", "server")


async def test_voicemail_then_the_caller_hangs_up() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("voicemail", "default example.com 100")
        await server.finish()

    record, _ = await run_call(FakeFreeSWITCH(), script, Caller(durations={"voicemail": 7.0}))
    assert record.hangup_by == "caller"
    assert record.apps[0].duration == pytest.approx(7.0)


async def test_transfer_leaves_the_socket_and_the_channel_ends_elsewhere() -> None:
    names: list[str] = []

    async def script(server: Server) -> None:
        await server.start(linger=False)
        await server.run("transfer", "9000 XML default")
        names.extend(e.name for e in [await server.client.until_event("CHANNEL_UNPARK")])
        await server.client.until_closed()
        names.extend(server.client.names())

    record, _ = await run_call(FakeFreeSWITCH(), script, Caller(durations={"transfer": 30}))
    assert record.hangup_at is not None
    assert record.hangup_at - record.started_at == pytest.approx(30, abs=0.1)
    assert record.hangup_by == "switch"


async def test_a_call_over_its_time_limit_is_cut_off() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.send_app("playback", "endless.wav")
        await server.client.until_closed()

    record, _ = await run_call(
        FakeFreeSWITCH(), script, Caller(file_seconds=10_000), max_seconds=60
    )
    assert record.timed_out
    assert (record.hangup_cause, record.hangup_by) == ("ALLOTTED_TIMEOUT", "timeout")


async def test_originate_to_a_phone_runs_the_socket_application() -> None:
    records: list[Event] = []

    async def daemon(client: RawClient) -> None:
        server = Server(client)
        channel_data = await server.start()
        assert channel_data.headers["Answer-State"] == "answered"
        records.append(await server.run("playback", "hello.wav"))
        await server.send_app("hangup")
        await server.finish()

    async with outbound_server(daemon) as port:
        fake = FakeFreeSWITCH(originate_caller=Caller(bridge={"user/100": Answered(ring=2)}))
        async with inbound_client(fake) as peer:
            target = f"&socket(127.0.0.1:{port} async full)"
            reply = await peer.request(
                commands.api(f"originate {{origination_uuid=u1}}user/100 {target}")
            )
            assert reply.text == "+OK u1\n"
            assert anyio.current_time() == pytest.approx(2, abs=0.01)
            call = fake.find_call("u1")
            assert call is not None
            await call.done.wait()
    assert records[0]["Unique-ID"] == "u1"
    assert fake.records[0].hangup_by == "server"


async def test_an_answered_channel_and_hangup_at_connect() -> None:
    async def script(server: Server) -> None:
        channel_data = await server.start()
        assert channel_data.headers["Channel-Call-State"] == "ACTIVE"
        await server.finish()

    record, _ = await run_call(
        FakeFreeSWITCH(),
        script,
        Caller(script=[HangUp(at=1, cause="NORMAL_UNSPECIFIED")]),
        channel=Channel(answered=True, uuid="fixed-uuid"),
    )
    assert record.uuid == "fixed-uuid"
    assert record.hangup_cause == "NORMAL_UNSPECIFIED"
    assert record.hangup_at is not None
    assert record.connected_at is not None
    assert record.hangup_at - record.connected_at == pytest.approx(1)


async def test_early_media_speech_tones_and_attended_transfer() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("pre_answer")
        spoken = await server.run("speak", "flite|kal|Press star to stop")
        assert spoken["variable_playback_terminator_used"] == "*"
        await server.run("gentones", "%(500,0,800)")
        transferred = await server.run("att_xfer", "user/3000")
        assert transferred.get("Hangup-Cause") is None
        await server.send_app("hangup")
        await server.finish()

    caller = Caller(
        script=[Press("*", during="speak", delay=0.5)],
        bridge={"user/3000": Answered(talk=5, ring=1)},
    )
    record, client = await run_call(FakeFreeSWITCH(), script, caller)
    names = [event.name for event in client.events()]
    assert "CHANNEL_PROGRESS_MEDIA" in names
    assert "CHANNEL_ANSWER" not in names
    assert [app.duration for app in record.apps[1:4]] == pytest.approx([0.5, 0.5, 6.0])


async def test_sendevent_reaches_subscribers() -> None:
    fake = FakeFreeSWITCH()
    async with inbound_client(fake) as peer:
        await peer.request(commands.event(["CUSTOM"], subclasses=["acme::x"]))
        reply = await peer.request(
            commands.sendevent("CUSTOM", [("Event-Subclass", "acme::x"), ("k", "v")], "body")
        )
        assert reply.headers["Reply-Text"].startswith("+OK ")
        event = await peer.until_event("CUSTOM")
        assert (event.subclass, event["k"], event.body) == ("acme::x", "v", "body")
        assert event["Event-UUID"] == reply.headers["Reply-Text"][4:]
