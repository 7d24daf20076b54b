"""What the Python peers (Genesis, greenswitch) send on an outbound socket, as FreeSWITCH takes it.

Genesis subscribes with `filter Unique-ID <uuid>` + `event plain all` instead of `myevents`;
greenswitch and Genesis send `hangup` and then close the socket (or `exit`) without waiting for
it to run. The load benchmark (benchmarks/bench_load.py) relies on both.
"""

from __future__ import annotations

import anyio
import pytest

from ivrd.esl.protocol import EventMessage, commands
from ivrd.testing import FakeFreeSWITCH

from .client import RawClient, Server, outbound_server

pytestmark = pytest.mark.anyio


async def test_unique_id_filter_with_event_all_gets_its_own_channel_only() -> None:
    fake = FakeFreeSWITCH()
    seen: dict[str, set[str]] = {}

    async def handler(client: RawClient) -> None:
        server = Server(client)
        data = await client.request(commands.connect())
        uuid = data.headers["Unique-ID"]
        filtered = await client.request(b"filter Unique-ID " + uuid.upper().encode() + b"\n\n")
        assert filtered.headers["Reply-Text"] == f"+OK filter added. [Unique-ID]=[{uuid.upper()}]"
        await client.request(b"event plain all\n\n")
        await server.run("answer")
        await server.run("playback", "ivr/welcome.wav")
        await server.send_app("hangup")
        await client.until_event("CHANNEL_HANGUP_COMPLETE")
        seen[uuid] = {event["Unique-ID"] for event in client.events()}
        await client.send(commands.exit())
        await client.until_closed()

    with anyio.fail_after(60):
        async with outbound_server(handler) as port, anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(fake.call, "127.0.0.1", port)
    assert len(seen) == 3
    assert all(uuids == {uuid} for uuid, uuids in seen.items())


async def test_a_second_kind_of_filter_widens_the_subscription_again() -> None:
    # A filters on its own Unique-ID, then also on Event-Name: B's hangup must reach it too.
    fake = FakeFreeSWITCH()
    subscribed = anyio.Event()
    hangups: list[str] = []

    async def handler(client: RawClient) -> None:
        server = Server(client)
        data = await client.request(commands.connect())
        uuid = data.headers["Unique-ID"]
        if subscribed.is_set():  # B
            await client.request(commands.myevents())
            await server.send_app("hangup")
        else:  # A
            await client.request(f"filter Unique-ID {uuid}\n\n".encode())
            await client.request(b"event plain CHANNEL_HANGUP\n\n")
            await client.request(b"filter Event-Name CHANNEL_HANGUP\n\n")
            subscribed.set()  # A's filters are in: B's call may start
            other = await client.wait_for(
                lambda m: isinstance(m, EventMessage) and m.event.get("Unique-ID") != uuid
            )
            assert isinstance(other, EventMessage)
            hangups.append(other.event.name)
            await server.send_app("hangup")
        await client.until_event("CHANNEL_HANGUP", Unique_ID=uuid)
        await client.send(commands.exit())
        await client.until_closed()

    with anyio.fail_after(60):
        async with outbound_server(handler) as port, anyio.create_task_group() as tg:
            tg.start_soon(fake.call, "127.0.0.1", port)
            await subscribed.wait()
            tg.start_soon(fake.call, "127.0.0.1", port)
    assert hangups == ["CHANNEL_HANGUP"]


@pytest.mark.parametrize("goodbye", ["close", "exit"])
async def test_a_hangup_queued_before_the_socket_goes_still_runs(goodbye: str) -> None:
    # The channel would park only 5 s after `connect`: the socket is gone long before, so the
    # hangup can only run the way socket_function runs it, after the (skipped) park.
    fake = FakeFreeSWITCH(park=5.0)

    async def handler(client: RawClient) -> None:
        await Server(client).start()
        await client.request(commands.execute("hangup", "USER_BUSY", event_uuid="h"))
        if goodbye == "exit":
            await client.send(commands.exit())
            await client.until_closed()

    with anyio.fail_after(60):
        async with outbound_server(handler) as port:
            record = await fake.call("127.0.0.1", port)
    assert record.app_names() == ["hangup"]
    assert record.apps[0].started_at is not None
    assert (record.hangup_cause, record.hangup_by) == ("USER_BUSY", "server")
    assert record.violations == []


async def test_connect_timeout_none_waits_like_freeswitch() -> None:
    fake = FakeFreeSWITCH(connect_timeout=None)

    async def handler(client: RawClient) -> None:
        server = Server(client)
        await server.start()
        await server.send_app("hangup")
        await server.finish()

    with anyio.fail_after(60):
        async with outbound_server(handler) as port:
            record = await fake.call("127.0.0.1", port)
    assert record.hangup_by == "server"
    assert record.exit_sent
