"""Several listeners in one process: started together, stopped together."""

from __future__ import annotations

import anyio
import pytest
from _esl_peer import port_of

from ivrd.esl import (
    AuthenticationError,
    Event,
    InboundClient,
    ListenError,
    OutboundServer,
    OutboundSession,
    run_listeners,
)
from ivrd.testing import Caller, FakeFreeSWITCH

pytestmark = pytest.mark.anyio


async def test_an_outbound_server_and_an_inbound_client_run_together() -> None:
    fake = FakeFreeSWITCH()
    answered: list[str] = []
    seen_by_client = anyio.Event()

    async def ivr(session: OutboundSession) -> None:
        await session.answer()
        answered.append(session.uuid)
        await session.hangup()

    server = OutboundServer(ivr, port=0)
    client = InboundClient(port=0, events=["CHANNEL_ANSWER"])

    @client.on("CHANNEL_ANSWER")
    async def on_answer(event: Event) -> None:
        seen_by_client.set()

    async with anyio.create_task_group() as tg:
        client.port = await tg.start(fake.serve_inbound)
        async with anyio.create_task_group() as listeners:
            await listeners.start(run_listeners, [server, client])
            assert server.bound_port
            assert client.connected
            record = await fake.call("127.0.0.1", port_of(server), Caller())
            with anyio.fail_after(5):
                await seen_by_client.wait()
            listeners.cancel_scope.cancel()
        assert not client.connected
        with pytest.raises(OSError):  # the outbound server stopped listening too
            await anyio.connect_tcp("127.0.0.1", port_of(server))
        tg.cancel_scope.cancel()
    assert answered == [record.uuid]
    assert record.hangup_by == "server"
    assert record.exit_sent


async def test_one_listener_failing_to_start_stops_the_others() -> None:
    fake = FakeFreeSWITCH(password="right")

    async def ivr(session: OutboundSession) -> None:
        raise AssertionError("no call expected")

    server = OutboundServer(ivr, port=0)
    async with anyio.create_task_group() as tg:
        port = await tg.start(fake.serve_inbound)
        client = InboundClient(port=port, password="wrong")
        with pytest.RaisesGroup(AuthenticationError, flatten_subgroups=True):
            await run_listeners([server, client])
        with pytest.raises(OSError):
            await anyio.connect_tcp("127.0.0.1", port_of(server))
        tg.cancel_scope.cancel()


async def test_a_port_in_use_is_a_clear_listen_error() -> None:
    async def ivr(session: OutboundSession) -> None:
        raise AssertionError("no call expected")

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as taken:
        port = taken.extra(anyio.abc.SocketAttribute.local_port)
        with pytest.raises(ListenError) as info:
            await OutboundServer(ivr, port=port).serve()
    assert str(info.value) == (
        f"cannot listen on 127.0.0.1:{port}: the address is already in use "
        "(another ivrd, or another program on that port?)"
    )
