"""Every wait ends: time limits, the handler's grace after hangup, the server's shutdown deadline.

Run on trio's MockClock: virtual time jumps whenever every task is blocked, so a 4-hour limit
passes in milliseconds and nothing here sleeps for real.
"""

from __future__ import annotations

import logging

import anyio
import pytest
from _esl_peer import CALL_UUID, dial, port_of, serving
from trio.testing import MockClock

from ivrd.esl import ESLTimeout, OutboundSession, Timeouts
from ivrd.esl.protocol import writers
from ivrd.esl.session import CallHandler

pytestmark = pytest.mark.anyio

VIRTUAL_WAIT = 1e6  # longer than any limit under test; virtual seconds cost nothing


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return ("trio", {"clock": MockClock(autojump_threshold=0)})


def _timed_playback(outcome: list[str]) -> CallHandler:
    """A handler that plays a long file and records its ESLTimeout and the seconds it took."""

    async def handler(session: OutboundSession) -> None:
        start = anyio.current_time()
        try:
            await session.playback("long.wav")
        except ESLTimeout as exc:
            outcome.append(str(exc))
        outcome.append(f"{anyio.current_time() - start:.0f}")

    return handler


async def test_an_application_that_never_completes_times_out() -> None:
    outcome: list[str] = []
    handler = _timed_playback(outcome)

    async with serving(handler) as server, dial(server, VIRTUAL_WAIT) as peer:
        await peer.handshake()
        await peer.expect_execute("playback", "long.wav")
        await peer.reply()
        await peer.goodbye()
    assert outcome == ["`playback` did not complete within 14400 s", "14400"]


async def test_an_application_whose_sendmsg_gets_no_reply_times_out_on_the_reply_limit() -> None:
    """Before the `+OK`, the reply's limit applies; the application's own only after it."""
    outcome: list[str] = []
    handler = _timed_playback(outcome)

    async with (
        serving(handler, timeouts=Timeouts(reply=7)) as server,
        dial(server, VIRTUAL_WAIT) as peer,
    ):
        await peer.handshake()
        await peer.expect_execute("playback", "long.wav")
        await peer.goodbye()
    assert outcome[0].startswith("no answer from FreeSWITCH at 127.0.0.1:")
    assert outcome[0].endswith(" to `sendmsg` within 7 s")
    assert outcome[1:] == ["7"]


async def test_a_reply_that_never_comes_times_out_and_the_late_one_is_dropped() -> None:
    outcome: list[str] = []

    async def handler(session: OutboundSession) -> None:
        try:
            await session.api("slow")
        except TimeoutError as exc:  # ESLTimeout is a TimeoutError
            outcome.append(str(exc))
        outcome.append(await session.api("next"))

    timeouts = Timeouts(api=2.5)
    async with (
        serving(handler, timeouts=timeouts) as server,
        dial(server, VIRTUAL_WAIT) as peer,
    ):
        await peer.handshake()
        await peer.expect("api slow")
        await peer.expect("api next")
        await peer.send(b"Content-Type: api/response\nContent-Length: 4\n\nlate")
        await peer.send(b"Content-Type: api/response\nContent-Length: 4\n\nnext")
        await peer.goodbye()
    assert outcome[0].startswith("no answer from FreeSWITCH at 127.0.0.1:")
    assert outcome[0].endswith(" to `api slow` within 2.5 s")
    assert outcome[1:] == ["next"]


async def test_the_callers_own_deadline_wins(caplog: pytest.LogCaptureFixture) -> None:
    outcome: list[object] = []

    async def handler(session: OutboundSession) -> None:
        with anyio.move_on_after(7) as scope:
            await session.playback("long.wav")
        outcome.append(scope.cancelled_caught)

    async with serving(handler) as server, dial(server, VIRTUAL_WAIT) as peer:
        await peer.handshake()
        await peer.expect_execute("playback", "long.wav")
        await peer.reply()
        await peer.goodbye()
    assert outcome == [True]


async def test_a_handler_still_running_after_the_hangup_is_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(session: OutboundSession) -> None:
        await anyio.sleep(3600)  # not watching the call at all

    timeouts = Timeouts(after_hangup=30)
    with caplog.at_level(logging.WARNING, logger="ivrd"):
        async with (
            serving(handler, timeouts=timeouts) as server,
            dial(server, VIRTUAL_WAIT) as peer,
        ):
            await peer.handshake()
            await peer.hangup()
            await peer.call_gone()
            start = anyio.current_time()
            await peer.goodbye()
            assert anyio.current_time() - start == pytest.approx(30)
    [record] = caplog.records
    assert record.getMessage() == (
        "call handler still running 30 s after the call ended; cancelled it"
    )
    assert record.call_uuid == CALL_UUID  # type: ignore[attr-defined]


async def test_shutdown_stops_accepting_and_hangs_up_calls_after_the_grace() -> None:
    outcome: list[object] = []

    async def handler(session: OutboundSession) -> None:
        try:
            await session.playback("long.wav")
        finally:
            outcome.append(anyio.current_time())

    async with serving(handler) as server, dial(server, VIRTUAL_WAIT) as peer:
        await peer.handshake()
        await peer.expect_execute("playback", "long.wav")
        await peer.reply()
        start = anyio.current_time()
        server.shutdown(grace=20)
        kill = await peer.read_command()
        assert anyio.current_time() - start == pytest.approx(20)
        with pytest.raises(OSError):  # no longer listening
            await anyio.connect_tcp("127.0.0.1", port_of(server))
        # uuid_kill, not sendmsg hangup, which FreeSWITCH would queue behind the playback.
        assert kill.line == f"api uuid_kill {CALL_UUID} SYSTEM_SHUTDOWN"
        await peer.send(writers.api_response("+OK\n"))
        await peer.hangup("SYSTEM_SHUTDOWN")
        await peer.call_gone("SYSTEM_SHUTDOWN")
        await peer.goodbye()
    assert len(outcome) == 1
