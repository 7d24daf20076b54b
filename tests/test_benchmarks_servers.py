"""The load benchmark's reference servers (benchmarks/load/floor.py, ivrd_protocol.py) run the
call the load generator checks: each is served here on loopback and called by the fake
FreeSWITCH with the load generator's caller and channel, and must pass the load generator's own
verdict (`why_failed`). They are asyncio protocols, so asyncio only. Their set-up (`connect`,
`myevents`, the daemon's `nixevent`, `linger`, `divert_events`) must stay the daemon's own, or
they would be sent other events and replies than `ivrd serve`, and compared with it unfairly.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ivrd.daemon.server import UNREAD_EVENTS
from ivrd.esl._session_commands import setup_commands
from ivrd.esl.outbound import OutboundServer
from ivrd.esl.protocol import commands
from ivrd.esl.session import OutboundSession
from ivrd.testing import FakeFreeSWITCH

LOAD = Path(__file__).resolve().parents[1] / "benchmarks" / "load"
sys.path.insert(0, str(LOAD))

import floor  # noqa: E402
import ivrd_protocol  # noqa: E402
import loadgen  # noqa: E402

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("protocol", [floor.Call, ivrd_protocol.Call], ids=["floor", "protocol"])
async def test_the_reference_servers_run_the_benchmarks_call(
    protocol: Callable[[], asyncio.Protocol],
) -> None:
    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    generator = loadgen.LoadGenerator(port)
    fake = FakeFreeSWITCH()
    async with server:
        records = await asyncio.wait_for(
            asyncio.gather(
                *(
                    fake.call("127.0.0.1", port, generator.caller, channel=generator.channel)
                    for _ in range(3)
                )
            ),
            30,
        )
    for record in records:
        assert loadgen.why_failed(record) is None, record
        assert record.exit_sent
        assert [app.arg for app in record.apps if app.name == "set"] == ["choice=42"]
        # As the daemon for a flow without key hooks: the keys stopped, the settings first.
        assert [c.command.line for c in record.commands][floor.SETUP_REPLIES] == "nixevent DTMF"
        assert [app.name for app in record.apps][:2] == ["multiset", "answer"]


async def no_call(session: OutboundSession) -> None:
    """Never runs: the server below is only asked for its settings."""


def daemon_setup() -> bytes:
    """`connect` and what `ivrd serve`'s sessions send with it, in its one write."""
    server = OutboundServer(no_call, unneeded_events=UNREAD_EVENTS)  # as ivrd.daemon.server's
    setup, _ = setup_commands(
        server.event_format,
        tuple(sorted(server.unneeded_events)),
        server.linger,
        server.divert_events,
    )
    return commands.connect() + b"".join(setup)


def test_the_floor_sends_the_daemons_set_up() -> None:
    assert sorted(UNREAD_EVENTS) == floor.UNREAD_EVENTS
    assert daemon_setup() == floor.SETUP
    assert floor.SETUP.count(b"\n\n") == floor.SETUP_REPLIES  # a reply to each, `connect` too


def test_the_protocol_reference_sends_the_daemons_set_up() -> None:
    assert daemon_setup() == b"".join(ivrd_protocol.SETUP)
