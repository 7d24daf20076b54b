"""OutboundServer: who may connect, counting calls, and the listen backlog."""

from __future__ import annotations

import logging
import shutil

import anyio
import pytest
from _esl_peer import dial, port_of, serving

from ivrd.esl import OutboundSession

pytestmark = pytest.mark.anyio


async def test_peers_outside_allowed_peers_are_refused(caplog: pytest.LogCaptureFixture) -> None:
    async def handler(session: OutboundSession) -> None:
        raise AssertionError("no call expected")

    with caplog.at_level(logging.WARNING, logger="ivrd"):
        async with (
            serving(handler, allowed_peers=["10.0.0.0/8", "::1"]) as server,
            dial(server) as peer,
        ):
            await peer.read_eof()  # closed without a word
            assert server.total_calls == 0
    [record] = caplog.records
    assert record.getMessage().startswith("refused a connection from 127.0.0.1:")
    assert record.getMessage().endswith(": not in allowed_peers")


async def test_allowed_peers_accept_a_network() -> None:
    async def handler(session: OutboundSession) -> None:
        pass

    async with (
        serving(handler, allowed_peers=["127.0.0.0/8"]) as server,
        dial(server) as peer,
    ):
        await peer.handshake()
        await peer.goodbye()
    assert (server.total_calls, server.active_calls) == (1, 0)


def test_event_format_is_checked() -> None:
    async def handler(session: OutboundSession) -> None:
        pass

    from ivrd.esl import OutboundServer

    with pytest.raises(ValueError, match="event_format must be 'plain' or 'json', not 'xml'"):
        OutboundServer(handler, event_format="xml")  # type: ignore[arg-type]


@pytest.mark.parametrize("backlog", [4096, 37])
async def test_the_backlog_reaches_listen(backlog: int) -> None:
    """A burst of calls waits in the kernel's accept queue, whose length listen(2) was given:
    `ss` shows it as a listening socket's Send-Q."""
    ss = shutil.which("ss")
    if ss is None:
        pytest.skip("needs `ss` (iproute2) to read a listening socket's backlog")

    async def handler(session: OutboundSession) -> None:
        pass

    async with serving(handler, backlog=backlog) as server:
        port = port_of(server)
        done = await anyio.run_process([ss, "-ltnH", f"sport = :{port}"])
        listing = done.stdout.decode().split()
    # State, Recv-Q, Send-Q (the backlog), local address, peer address.
    assert listing[:3] == ["LISTEN", "0", str(backlog)]
    assert listing[3] == f"127.0.0.1:{port}"
