"""The load benchmark's reference servers (benchmarks/load/floor.py, ivrd_protocol.py) run the
call the load generator checks: each is served here on loopback and called by the fake
FreeSWITCH with the load generator's caller and channel, and must pass the load generator's own
verdict (`why_failed`). They are asyncio protocols, so asyncio only. The floor's `nixevent`
list must stay the daemon's, or the floor would be sent other events than `ivrd serve`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ivrd.daemon.server import UNREAD_EVENTS
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
        assert [c.command.line for c in record.commands][4] == "nixevent DTMF"
        assert [app.name for app in record.apps][:2] == ["multiset", "answer"]


def test_the_floor_stops_the_events_the_daemon_stops() -> None:
    assert sorted(floor.UNREAD_EVENTS) == sorted(UNREAD_EVENTS)
    assert f"nixevent {' '.join(floor.UNREAD_EVENTS)}\n\n".encode() in floor.SETUP
