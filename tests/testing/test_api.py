"""The fake's `originate`: its line read as mod_commands reads it, its variables on the channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import pytest

from ivrd.esl.protocol import Message, commands
from ivrd.testing import Answered, Caller, FakeFreeSWITCH

from .client import RawClient, Server, inbound_client, outbound_server

pytestmark = pytest.mark.anyio


@dataclass
class Daemon:
    """An outbound socket server that answers each call and hangs up: the channel data it was
    given."""

    port: int = 0
    connected: list[Message] = field(default_factory=list)
    done: anyio.Event = field(default_factory=anyio.Event)

    async def first_call(self) -> Message:
        with anyio.fail_after(10):
            await self.done.wait()
        return self.connected[0]


@asynccontextmanager
async def daemon() -> AsyncIterator[Daemon]:
    state = Daemon()

    async def handler(client: RawClient) -> None:
        server = Server(client)
        state.connected.append(await server.start())
        await server.run("answer")
        await server.send_app("hangup")
        await server.finish()
        state.done.set()

    async with outbound_server(handler) as port:
        state.port = port
        yield state


async def test_quoted_words_and_the_dial_strings_variables_reach_the_new_channel() -> None:
    fake = FakeFreeSWITCH(originate_caller=Caller(bridge_default=Answered(ring=0.05)))
    async with daemon() as ivrd, inbound_client(fake) as peer:
        reply = await peer.request(
            commands.api(
                "originate {origination_uuid=u-1,ivr_flow=sales,originate_timeout=5,"
                "origination_caller_id_name='Ada Lovelace'}user/1000 "
                f"'&socket(127.0.0.1:{ivrd.port} async full)'"
            )
        )
        assert reply.text == "+OK u-1\n"
        headers = (await ivrd.first_call()).headers
    assert headers["Unique-ID"] == "u-1"
    assert headers["variable_ivr_flow"] == "sales"
    assert headers["variable_originate_timeout"] == "5"
    assert headers["Caller-Caller-ID-Name"] == "Ada Lovelace"
    assert headers["Caller-Destination-Number"] == "1000"


async def test_positional_caller_id_undef_and_usage() -> None:
    fake = FakeFreeSWITCH(originate_caller=Caller(bridge_default=Answered(ring=0.01)))
    async with daemon() as ivrd, inbound_client(fake) as peer:
        socket = f"'&socket(127.0.0.1:{ivrd.port} async full)'"
        reply = await peer.request(
            commands.api(f"originate user/1000 {socket} undef undef 'Bob B' 555 undef")
        )
        assert reply.text.startswith("+OK ")
        headers = (await ivrd.first_call()).headers
        too_many = await peer.request(commands.api("originate a b c d e f g h"))
        assert too_many.text.startswith("-USAGE: ")
        alone = await peer.request(commands.api("originate user/1000"))
        assert alone.text.startswith("-USAGE: ")
    assert (headers["Caller-Caller-ID-Name"], headers["Caller-Caller-ID-Number"]) == (
        "Bob B",
        "555",
    )


async def test_a_loopback_b_leg_gets_only_the_exported_variables() -> None:
    async with daemon() as ivrd:
        fake = FakeFreeSWITCH(socket_address=("127.0.0.1", ivrd.port))
        async with inbound_client(fake) as peer:
            reply = await peer.request(
                commands.api(
                    "originate {origination_uuid=abc,loopback_export=ivr_flow,ivr_flow=sales,"
                    "pin=1234}loopback/ivr1/default &park()"
                )
            )
            assert reply.text == "+OK abc\n"
            headers = (await ivrd.first_call()).headers
    assert headers["variable_ivr_flow"] == "sales"
    assert "variable_pin" not in headers
    assert headers["variable_other_loopback_leg_uuid"] == "abc"
