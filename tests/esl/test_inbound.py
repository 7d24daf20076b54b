"""InboundClient against FreeSWITCH's side played frame by frame on a real socket."""

from __future__ import annotations

import logging

import anyio
import pytest
from _esl_peer import assert_nothing_sent, event, switchboard

from ivrd.esl import (
    AuthenticationError,
    Backoff,
    CommandError,
    ConnectionClosed,
    ConnectionFailed,
    Event,
    InboundClient,
)
from ivrd.esl.protocol import writers

pytestmark = pytest.mark.anyio


async def test_auth_event_filter_each_after_its_reply_then_started() -> None:
    async with switchboard() as board, anyio.create_task_group() as tg:
        client = InboundClient(
            "127.0.0.1",
            board.port,
            "s3cret",
            events=["CHANNEL_ANSWER", "CHANNEL_HANGUP"],
            subclasses=["conference::maintenance"],
            filters=[("Caller-Context", "default"), ("Unique-ID", "abc")],
        )
        started: list[bool] = []

        async def run() -> None:
            await tg.start(client.run)
            started.append(True)

        tg.start_soon(run)
        async with await board.accept() as peer:
            await assert_nothing_sent(peer)  # nothing before FreeSWITCH's greeting
            await peer.send(writers.auth_request())
            await peer.expect("auth s3cret")
            await assert_nothing_sent(peer)
            await peer.reply("+OK accepted")
            await peer.expect(
                "event plain CHANNEL_ANSWER CHANNEL_HANGUP CUSTOM conference::maintenance"
            )
            await assert_nothing_sent(peer)
            await peer.reply("+OK event listener enabled plain")
            await peer.expect("filter Caller-Context default")
            await assert_nothing_sent(peer)
            await peer.reply("+OK filter added. [Caller-Context]=[default]")
            await peer.expect("filter Unique-ID abc")
            assert started == []
            await peer.reply("+OK filter added. [Unique-ID]=[abc]")
            await anyio.wait_all_tasks_blocked()
            assert started == [True]
            assert client.connected
            tg.cancel_scope.cancel()


async def test_a_wrong_password_raises_and_is_not_retried() -> None:
    async with switchboard() as board, anyio.create_task_group() as tg:
        outcome: list[str] = []

        async def run() -> None:
            try:
                async with InboundClient("127.0.0.1", board.port, "wrong"):
                    pass
            except AuthenticationError as exc:
                outcome.append(str(exc))

        tg.start_soon(run)
        async with await board.accept() as peer:
            await peer.send(writers.auth_request())
            await peer.expect("auth wrong")
            await peer.reply("-ERR invalid")
            await peer.read_eof()
        await anyio.wait_all_tasks_blocked()
        assert outcome == [
            f"FreeSWITCH at 127.0.0.1:{board.port} refused the password (-ERR invalid): "
            "check the password in event_socket.conf.xml"
        ]
        assert board.accepted == 1


async def test_a_rude_rejection_is_an_authentication_error() -> None:
    async with switchboard() as board, anyio.create_task_group() as tg:
        outcome: list[str] = []

        async def run() -> None:
            try:
                async with InboundClient("127.0.0.1", board.port):
                    pass
            except AuthenticationError as exc:
                outcome.append(str(exc))

        tg.start_soon(run)
        async with await board.accept() as peer:
            await peer.send(writers.rude_rejection())
        await anyio.wait_all_tasks_blocked()
        assert outcome == [
            f"FreeSWITCH at 127.0.0.1:{board.port} refused us: Access Denied, go away. "
            "(is this address allowed by apply-inbound-acl in event_socket.conf.xml?)"
        ]


async def test_no_freeswitch_without_reconnect_is_a_clear_connection_failure() -> None:
    async with switchboard() as board:
        port = board.port
    with pytest.raises(ConnectionFailed) as info:
        async with InboundClient("127.0.0.1", port, reconnect=False):
            pass
    assert str(info.value) == (
        f"FreeSWITCH at 127.0.0.1:{port} refused the connection: "
        "is mod_event_socket loaded and listening on that address?"
    )


async def test_hooks_events_api_and_bgapi() -> None:
    seen: list[str] = []
    async with switchboard() as board, anyio.create_task_group() as tg:
        client = InboundClient("127.0.0.1", board.port)

        @client.on("CHANNEL_ANSWER")
        async def answered(event: Event) -> None:
            seen.append("hook:" + (event.uuid or ""))
            seen.append(await client.api(f"uuid_getvar {event.uuid} x"))

        client.on("CUSTOM", lambda e: _note(seen, e), subclass="acme::ping")

        async def connect_and_use() -> None:
            async with client, client.events("CHANNEL_ANSWER") as events:
                seen.append("connected")
                async for ev in events:
                    seen.append("stream:" + (ev.uuid or ""))
                    break
                seen.append(await client.bgapi("status"))
                try:
                    await client.api("bogus")
                except CommandError as exc:
                    seen.append(exc.reply)

        tg.start_soon(connect_and_use)
        async with await board.greet() as peer:
            await peer.expect("event plain ALL")
            await peer.reply("+OK event listener enabled plain")
            await anyio.wait_all_tasks_blocked()
            await peer.send(
                event("CUSTOM", "x", Event_Subclass="acme::ping"),
                event("CUSTOM", "x", Event_Subclass="acme::other"),
                event("CHANNEL_ANSWER", "u1"),
            )
            # The hook's api and the stream reader's bgapi race each other: answer both.
            for _ in range(2):
                command = await peer.read_command()
                if command.line == "api uuid_getvar u1 x":
                    await peer.send(writers.api_response("42"))
                    continue
                # ALL includes BACKGROUND_JOB: no extra subscription before the bgapi.
                assert command.line == "bgapi status"
                job = command.headers["Job-UUID"]
                await peer.reply(f"+OK Job-UUID: {job}")
                await peer.send(
                    writers.event_plain(
                        [("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", job)],
                        "UP 0 years\n",
                    )
                )
            await peer.expect("api bogus")
            await peer.send(writers.api_response("-ERR bogus Command not found!\n"))
            await peer.expect("exit")
            await peer.reply("+OK bye")
    assert seen[0] == "connected"
    assert sorted(seen) == sorted(
        [
            "connected",
            "custom:acme::ping",
            "hook:u1",
            "42",
            "stream:u1",
            "UP 0 years\n",
            "-ERR bogus Command not found!",
        ]
    )
    assert seen.index("hook:u1") < seen.index("42")
    assert seen.index("UP 0 years\n") < seen.index("-ERR bogus Command not found!")


async def _note(seen: list[str], event: Event) -> None:
    seen.append(f"custom:{event.subclass}")


async def test_bgapi_subscribes_to_its_results_when_the_events_do_not_include_them() -> None:
    async with switchboard() as board, anyio.create_task_group() as tg:
        client = InboundClient(
            "127.0.0.1", board.port, events=["DTMF"], filters=[("Unique-ID", "u1")]
        )
        results: list[str] = []

        async def use() -> None:
            async with client:
                results.append(await client.bgapi("version"))

        tg.start_soon(use)
        async with await board.greet() as peer:
            await peer.expect("event plain DTMF")
            await peer.reply("+OK event listener enabled plain")
            await peer.expect("filter Unique-ID u1")
            await peer.reply("+OK filter added. [Unique-ID]=[u1]")
            await peer.expect("event plain BACKGROUND_JOB")
            await peer.reply("+OK event listener enabled plain")
            await peer.expect("filter Event-Name BACKGROUND_JOB")
            await peer.reply("+OK filter added. [Event-Name]=[BACKGROUND_JOB]")
            command = await peer.read_command()
            job = command.headers["Job-UUID"]
            await peer.reply(f"+OK Job-UUID: {job}")
            await peer.send(
                writers.event_plain([("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", job)], "1.10\n")
            )
            await peer.expect("exit")
            await peer.reply("+OK bye")
        assert results == ["1.10\n"]


async def test_a_drop_fails_pending_bgapi_then_reconnects_and_resubscribes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcome: list[str] = []
    async with switchboard() as board, anyio.create_task_group() as tg:
        client = InboundClient(
            "127.0.0.1",
            board.port,
            events=["ALL"],
            filters=[("Event-Subclass", "acme::ping")],
            backoff=Backoff(base=0.001, max=0.01),
            random=lambda: 0.5,
        )
        await tg.start(_start, client, board)
        async with await board.greet() as peer:
            await _subscribe(peer)
            await anyio.wait_all_tasks_blocked()
            assert client.connections == 1

            async def pending() -> None:
                try:
                    await client.bgapi("originate loopback/1 &park")
                except ConnectionClosed as exc:
                    outcome.append(str(exc))

            tg.start_soon(pending)
            await peer.read_command()
        # FreeSWITCH restarts: the connection drops before the job's result.
        with caplog.at_level(logging.WARNING, logger="ivrd"):
            async with await board.greet() as peer:
                await _subscribe(peer)  # the same subscription again
                await anyio.wait_all_tasks_blocked()
                assert client.connections == 2
                tg.cancel_scope.cancel()
    closed = f"FreeSWITCH at 127.0.0.1:{board.port} closed the connection"
    assert outcome == [closed]
    # base 0.001 s, first attempt: half fixed, half jitter (0.5 here).
    assert [r.getMessage() for r in caplog.records] == [f"{closed}; reconnecting in 0.00075 s"]


async def _start(
    client: InboundClient, board: object, *, task_status: anyio.abc.TaskStatus[None]
) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        task_status.started()


async def _subscribe(peer: object) -> None:
    from _esl_peer import Peer

    assert isinstance(peer, Peer)
    await peer.expect("event plain ALL")
    await peer.reply("+OK event listener enabled plain")
    await peer.expect("filter Event-Subclass acme::ping")
    await peer.reply("+OK filter added. [Event-Subclass]=[acme::ping]")


def test_backoff_is_exponential_capped_and_jittered() -> None:
    backoff = Backoff(base=0.5, max=30.0)
    assert [backoff.delay(n, lambda: 0.0) for n in range(8)] == [
        0.25,
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        15.0,
        15.0,
    ]
    assert [backoff.delay(n, lambda: 1.0) for n in (0, 3, 10, 1000)] == [0.5, 4.0, 30.0, 30.0]


async def test_reconnects_when_the_fake_freeswitch_restarts_and_subscribes_again() -> None:
    from ivrd.testing import FakeFreeSWITCH

    fake = FakeFreeSWITCH()
    pings: list[str] = []
    got_ping = anyio.Event()
    async with anyio.create_task_group() as tg:
        port = await tg.start(fake.serve_inbound)
        client = InboundClient(
            port=port,
            events=["CUSTOM"],
            subclasses=["acme::ping"],
            backoff=Backoff(base=0.01, max=0.05),
        )

        @client.on("CUSTOM", subclass="acme::ping")
        async def ping(event: Event) -> None:
            pings.append(event["n"])
            got_ping.set()

        async with client:
            fake.publish({"Event-Subclass": "acme::ping", "n": "1"})
            with anyio.fail_after(5):
                await got_ping.wait()
            await fake.restart(down_for=0.05)
            got_ping = anyio.Event()
            with anyio.fail_after(5):
                await client.wait_connected(2)
                fake.publish({"Event-Subclass": "acme::ping", "n": "2"})
                await got_ping.wait()
            assert await client.api("echo hi") == "hi"
        tg.cancel_scope.cancel()
    assert pings == ["1", "2"]
