"""`nixevent` after `myevents` on an outbound socket: as mod_event_socket.c, it clears those
types from the socket's event list, which `myevents` filled, and later events of them are not
sent; the rest of `myevents` (and its Unique-ID filter) stays."""

from __future__ import annotations

import pytest

from ivrd.esl.protocol import EventMessage, Message, commands
from ivrd.testing import Caller, FakeFreeSWITCH

from .client import Server, run_call

pytestmark = pytest.mark.anyio

NIXED = ["CHANNEL_EXECUTE", "CHANNEL_STATE", "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_ANSWER"]


def event_names(messages: list[Message]) -> list[str]:
    return [m.event.name for m in messages if isinstance(m, EventMessage)]


async def test_nixevent_after_myevents_stops_those_events_only() -> None:
    replies: dict[str, str] = {}
    after: list[int] = []

    async def script(server: Server) -> None:
        client = server.client
        await server.start()
        await server.run("answer")
        for line in ["nixevent NO_SUCH_EVENT", "nixevent " + " ".join(NIXED)]:
            reply = await client.request(commands.build(line))
            replies[line] = reply.headers["Reply-Text"]
        after.append(client.received.index(reply) + 1)
        await server.run("playback", "ivr/welcome.wav")
        await server.send_app("hangup")
        await server.finish()

    record, client = await run_call(FakeFreeSWITCH(), script, Caller(file_seconds=0.05))
    assert replies == {
        "nixevent NO_SUCH_EVENT": "-ERR no keywords supplied",
        "nixevent " + " ".join(NIXED): "+OK events nixed",
    }
    before = event_names(client.received[: after[0]])
    since = event_names(client.received[after[0] :])
    assert {"CHANNEL_EXECUTE", "CHANNEL_ANSWER"} <= set(before)  # `answer`'s, before nixevent
    assert set(since) & set(NIXED) == set()
    # What myevents subscribed and nixevent left alone still comes, every event of this call.
    assert {"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"} <= set(since)
    assert {event["Unique-ID"] for event in client.events()} == {record.uuid}
    assert record.violations == []
    assert record.events_sent == len(client.events())
