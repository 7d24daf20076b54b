"""callcenter: what mod_callcenter does to the caller's channel, per queue outcome."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import pytest

from ivrd.esl.protocol import Event, commands
from ivrd.testing import (
    AgentAnswers,
    Caller,
    CallRecord,
    Channel,
    FakeFreeSWITCH,
    HangUp,
    NoAgent,
    Press,
    QueueTimeout,
)

from .client import RawClient, Server, inbound_client, run_call

pytestmark = pytest.mark.anyio
trio_only = pytest.mark.parametrize("anyio_backend", ["trio"], indirect=True)

QUEUE = "sales@default"


def names(server: Server) -> list[str]:
    """Event names after connect, CUSTOM ones with their CC-Action."""
    result = []
    for event in server.client.events():
        name = event.name
        if name == "CUSTOM":
            name += f" {event.get('CC-Action')}"
        elif event.get("Application") and name.startswith("CHANNEL_EXECUTE"):
            name += f" {event['Application']}"
        result.append(name)
    return result


@dataclass
class Queued:
    """One call that ran `callcenter`: its completion, what its socket and an inbound listener
    (mod_callcenter's events, playbacks) received, and the fake's record."""

    completion: Event
    server: Server
    record: CallRecord
    inbound: RawClient

    def cc_events(self, action: str | None = None) -> list[Event]:
        return [
            event
            for event in self.inbound.events("CUSTOM")
            if action is None or event["CC-Action"] == action
        ]


@asynccontextmanager
async def inbound_listener(fake: FakeFreeSWITCH) -> AsyncIterator[RawClient]:
    """An inbound ESL client subscribed to mod_callcenter's events and to playbacks."""
    async with inbound_client(fake) as peer:
        await peer.request(
            commands.event(["PLAYBACK_START", "PLAYBACK_STOP", "CUSTOM", "callcenter::info"])
        )
        yield peer


async def queued(
    caller: Caller,
    then: Callable[[Server, Event], Awaitable[None]] | None = None,
    *,
    before: tuple[tuple[str, str], ...] = (),
    arg: str = QUEUE,
    channel: Channel | None = None,
) -> Queued:
    """Run `callcenter arg` (after `before`), then `then`, then wait for the end of the call."""
    done: list[Event] = []
    servers: list[Server] = []

    async def script(server: Server) -> None:
        servers.append(server)
        await server.start()
        for app, app_arg in before:
            await server.run(app, app_arg)
        done.append(await server.run("callcenter", arg))
        if then is not None:
            await then(server, done[0])
        await server.finish()

    fake = FakeFreeSWITCH()
    async with inbound_listener(fake) as peer:
        record, _ = await run_call(fake, script, caller, channel=channel)
        with anyio.fail_after(10):  # the call's last event has reached the listener
            await peer.request(commands.api("status"))
    return Queued(done[0], servers[0], record, peer)


async def hang_up(server: Server, completion: Event) -> None:
    if completion.get("Hangup-Cause") is None:
        await server.send_app("hangup")


async def test_a_queue_that_does_not_exist_returns_at_once_and_sets_nothing() -> None:
    for arg in (QUEUE, ""):
        ran = await queued(Caller(), hang_up, arg=arg)
        assert ran.completion["Application-Response"] == "_none_"
        assert ran.completion["Answer-State"] == "ringing"  # it returned before answering
        assert not [name for name in ran.completion.headers if name.startswith("variable_cc_")]
        assert ran.cc_events() == []


async def test_an_agent_answers_then_hangs_up_and_the_call_ends() -> None:
    caller = Caller(queues={QUEUE: AgentAnswers(wait=0.05, talk=0.1, agent="1001@default")})
    channel = Channel(caller_id_number="+4930123456", caller_id_name="Ada")
    ran = await queued(caller, channel=channel)
    event = ran.completion
    assert event["variable_cc_cause"] == "answered"
    assert event["variable_cc_side"] == "member"
    assert event["variable_cc_queue"] == QUEUE
    agent_uuid = event["variable_cc_agent_uuid"]
    assert event["variable_bridge_uuid"] == agent_uuid
    assert event.get("variable_cc_agent_found") is None
    assert event.get("variable_cc_agent") is None  # set once the bridge is up
    assert names(ran.server) == [
        "CHANNEL_PARK",
        "CHANNEL_EXECUTE callcenter",
        "CHANNEL_ANSWER",
        "CHANNEL_EXECUTE_COMPLETE callcenter",
        # uuid_bridge took the channel out of the socket application ...
        "CHANNEL_UNPARK",
        "CHANNEL_EXECUTE_COMPLETE socket",
        "CHANNEL_EXECUTE uuid_bridge",
        "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE",
        # ... and after it the dialplan has nothing more for the channel.
        "CHANNEL_HANGUP",
        "CHANNEL_STATE",
        "CHANNEL_STATE",
        "CHANNEL_HANGUP_COMPLETE",
    ]
    assert ran.server.client.events("CHANNEL_BRIDGE")[0]["Other-Leg-Unique-ID"] == agent_uuid
    record = ran.record
    assert (record.hangup_cause, record.hangup_by) == ("NORMAL_CLEARING", "switch")
    variables = record.variables
    assert variables["cc_agent"] == "1001@default"
    assert variables["cc_agent_bridged"] == "true"
    assert variables["bridge_hangup_cause"] == "NORMAL_CLEARING"
    assert int(variables["cc_queue_terminated_epoch"]) >= int(variables["cc_queue_answered_epoch"])
    assert record.violations == []
    assert [e["CC-Action"] for e in ran.cc_events()] == [
        "member-queue-start",
        "members-count",
        "agent-offering",
        "bridge-agent-start",
        "members-count",
        "bridge-agent-end",
        "member-queue-end",
    ]
    (start,) = ran.cc_events("member-queue-start")
    assert start["Event-Subclass"] == "callcenter::info"
    assert (start["CC-Member-CID-Number"], start["CC-Member-CID-Name"]) == ("+4930123456", "Ada")
    assert start["CC-Member-Session-UUID"] == start["Unique-ID"] == record.uuid
    assert start["CC-Member-UUID"] == event["variable_cc_member_uuid"]
    assert [e["CC-Count"] for e in ran.cc_events("members-count")] == ["1", "0"]
    (end,) = ran.cc_events("member-queue-end")
    assert (end["CC-Cause"], end["CC-Agent"], end["CC-Agent-UUID"]) == (
        "Terminated",
        "1001@default",
        agent_uuid,
    )
    assert end["Unique-ID"] == record.uuid  # the member's channel data
    assert ran.cc_events("bridge-agent-end")[0].get("Unique-ID") is None  # the agent's: none here


@trio_only
async def test_the_completion_comes_when_the_agent_answers_not_when_the_talk_ends() -> None:
    ran = await queued(Caller(queues={QUEUE: AgentAnswers(wait=12, talk=90)}))
    (app,) = [app for app in ran.record.apps if app.name == "callcenter"]
    assert app.duration == pytest.approx(12, abs=0.01)
    assert app.ended_at is not None
    assert ran.record.hangup_at is not None
    assert ran.record.hangup_at - app.ended_at == pytest.approx(90, abs=0.1)


async def test_messages_sent_during_the_bridge_run_inside_it() -> None:
    """What a daemon that goes on with its flow after `answered` gets: its prompt plays to the
    caller while the agent waits, and its hangup ends the conversation."""

    async def go_on(server: Server, completion: Event) -> None:
        played = await server.run("playback", "ivr/goodbye.wav")
        assert played["Application-Response"] == "FILE PLAYED"
        await server.send_app("hangup")

    caller = Caller(queues={QUEUE: AgentAnswers(wait=0.1, talk=30)}, file_seconds=0.05)
    ran = await queued(caller, go_on)
    order = names(ran.server)
    assert order.index("CHANNEL_BRIDGE") < order.index("CHANNEL_EXECUTE playback")
    assert order.index("CHANNEL_EXECUTE_COMPLETE hangup") < order.index("CHANNEL_UNBRIDGE")
    assert (ran.record.hangup_cause, ran.record.hangup_by) == ("NORMAL_CLEARING", "server")
    assert ran.record.violations == []


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [(QueueTimeout(wait=0.1), "TIMEOUT"), (NoAgent(wait=0.1), "NO_AGENT_TIMEOUT")],
)
async def test_the_caller_leaves_without_an_agent_and_the_flow_goes_on(
    outcome: QueueTimeout | NoAgent, reason: str
) -> None:
    ran = await queued(Caller(queues={QUEUE: outcome}), hang_up)
    event = ran.completion
    assert event["variable_cc_cause"] == "cancel"
    assert event["variable_cc_cancel_reason"] == reason
    assert int(event["variable_cc_queue_canceled_epoch"]) >= int(
        event["variable_cc_queue_joined_epoch"]
    )
    assert event["Answer-State"] == "answered"
    (end,) = ran.cc_events("member-queue-end")
    assert (end["CC-Cause"], end["CC-Cancel-Reason"]) == ("Cancel", reason)
    assert (ran.record.hangup_by, ran.record.hangup_cause) == ("server", "NORMAL_CLEARING")
    assert "CHANNEL_BRIDGE" not in names(ran.server)
    playbacks = ran.inbound.events("PLAYBACK_START")
    assert [e["Playback-File-Path"] for e in playbacks] == ["local_stream://moh"]


@trio_only
async def test_the_max_wait_time_is_kept() -> None:
    ran = await queued(Caller(queues={QUEUE: QueueTimeout(wait=45)}), hang_up)
    (app,) = [app for app in ran.record.apps if app.name == "callcenter"]
    assert app.duration == pytest.approx(45, abs=0.01)
    assert ran.completion["variable_cc_cancel_reason"] == "TIMEOUT"


async def test_a_key_of_cc_exit_keys_leaves_the_queue() -> None:
    caller = Caller(
        script=[
            Press("1", during="callcenter", delay=0.05),  # not an exit key: ignored
            Press("#", delay=0.05),
        ],
        queues={QUEUE: QueueTimeout(wait=math.inf)},
    )
    ran = await queued(caller, hang_up, before=(("set", "cc_exit_keys=*#"),))
    assert ran.completion["variable_cc_cause"] == "cancel"
    assert ran.completion["variable_cc_cancel_reason"] == "EXIT_WITH_KEY"
    assert ran.completion["variable_cc_exit_key"] == "#"
    assert [e["DTMF-Digit"] for e in ran.server.client.events("DTMF")] == ["1", "#"]


async def test_without_cc_exit_keys_a_key_does_nothing() -> None:
    caller = Caller(
        script=[Press("#", during="callcenter", delay=0.05)],
        queues={QUEUE: QueueTimeout(wait=0.15)},
    )
    ran = await queued(caller, hang_up)
    assert ran.completion["variable_cc_cancel_reason"] == "TIMEOUT"


async def test_hanging_up_in_the_queue_is_a_break_out() -> None:
    caller = Caller(
        script=[HangUp(during="callcenter", delay=0.1)],
        queues={QUEUE: AgentAnswers(wait=60)},
    )
    ran = await queued(caller)
    assert ran.completion["Hangup-Cause"] == "NORMAL_CLEARING"
    assert ran.completion["variable_cc_cause"] == "cancel"
    assert ran.completion["variable_cc_cancel_reason"] == "BREAK_OUT"
    order = names(ran.server)
    assert order.index("CHANNEL_HANGUP") < order.index("CHANNEL_EXECUTE_COMPLETE callcenter")
    assert ran.record.hangup_by == "caller"
    assert ran.cc_events("agent-offering") == []


@trio_only
async def test_uuid_break_does_not_end_the_wait_the_music_starts_again() -> None:
    done: list[Event] = []

    async def script(server: Server) -> None:
        channel = await server.start()
        event_uuid = await server.send_app("callcenter", QUEUE)
        await anyio.sleep(5)
        assert await server.api(f"uuid_break {channel.headers['Unique-ID']}") == "+OK\n"
        done.append(await server.complete(event_uuid))
        await server.send_app("hangup")
        await server.finish()

    fake = FakeFreeSWITCH()
    async with inbound_listener(fake) as peer:
        record, _ = await run_call(fake, script, Caller(queues={QUEUE: QueueTimeout(wait=20)}))
        await peer.request(commands.api("status"))
    assert done[0]["variable_cc_cancel_reason"] == "TIMEOUT"
    (app,) = [app for app in record.apps if app.name == "callcenter"]
    assert app.duration == pytest.approx(20, abs=0.05)
    statuses = [e["Playback-Status"] for e in peer.events("PLAYBACK_STOP")]
    assert statuses == ["break", "done"]


async def test_the_music_comes_from_cc_moh_override_expanded() -> None:
    variables = {"cc_moh_override": "local_stream://${hold_music}", "hold_music": "sales"}
    caller = Caller(queues={QUEUE: QueueTimeout(wait=0.1)})
    ran = await queued(caller, hang_up, channel=Channel(variables=variables))
    (start,) = ran.inbound.events("PLAYBACK_START")
    assert start["Playback-File-Path"] == "local_stream://sales"


async def test_messages_sent_during_the_wait_are_thrown_away() -> None:
    async def script(server: Server) -> None:
        await server.start()
        queue = await server.send_app("callcenter", QUEUE)
        await server.send_app("playback", "ivr/too_early.wav")
        await server.complete(queue)
        await server.send_app("hangup")
        await server.finish()

    caller = Caller(queues={QUEUE: QueueTimeout(wait=0.2)})
    record, client = await run_call(FakeFreeSWITCH(), script, caller)
    assert "playback" not in [e.get("Application") for e in client.events("CHANNEL_EXECUTE")]
    assert [v.kind for v in record.violations] == ["flushed"]
    assert "playback was sent during callcenter" in record.violations[0].detail
