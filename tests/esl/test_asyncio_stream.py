"""The asyncio fast path: outbound connections read in the loop's callbacks, no reader task.

On asyncio (and uvloop) the outbound server hands each call a `ProtocolStream`; on trio the
same session reads an anyio stream in a task. Whatever the path, a call behaves the same: these
tests run a whole call on each loop, and the failure that only a writer meets (a peer that stops
reading) on both paths.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from _esl_peer import dial, serving

from ivrd.esl import ConnectionClosed, OutboundSession, Timeouts
from ivrd.testing import Caller, FakeFreeSWITCH, Press

pytestmark = pytest.mark.anyio

LOOPS = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    pytest.param(("trio", {}), id="trio"),
]


@pytest.fixture(params=LOOPS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    backend, options = request.param
    if options.get("use_uvloop"):
        pytest.importorskip("uvloop")
    return backend, options


async def test_a_whole_call_on_each_loop(anyio_backend: tuple[str, dict[str, Any]]) -> None:
    reads_itself: list[bool] = []

    async def handler(session: OutboundSession) -> None:
        reads_itself.append(session._conn.reads_itself)
        await session.answer()
        await session.playback("hello.wav")
        await session.hangup()

    fake = FakeFreeSWITCH()
    async with serving(handler) as server:
        assert server.bound_port is not None
        with anyio.fail_after(10):
            record = await fake.call("127.0.0.1", server.bound_port, Caller(file_seconds=0))
    assert [app.name for app in record.apps] == ["answer", "playback", "hangup"]
    assert (record.violations, record.hangup_by, record.exit_sent) == ([], "server", True)
    # No reader task on asyncio: bytes are dispatched in the loop's own callbacks.
    assert reads_itself == [anyio_backend[0] == "asyncio"]
    assert (server.total_calls, server.active_calls) == (1, 0)


async def test_events_reach_listeners_hooks_and_streams_in_order() -> None:
    seen: list[str] = []

    async def handler(session: OutboundSession) -> None:
        def listener(event: Any) -> None:
            seen.append(f"listener {event.get('DTMF-Digit')}")

        async def hook(event: Any) -> None:
            seen.append(f"hook {event.get('DTMF-Digit')}")

        session.listen(listener, "DTMF")
        session.on("DTMF", hook)
        async with session.events("DTMF") as events:
            await session.answer()
            async for event in events:
                seen.append(f"stream {event.get('DTMF-Digit')}")
                if event.get("DTMF-Digit") == "2":
                    break
        await session.hangup()

    fake = FakeFreeSWITCH()
    async with serving(handler) as server:
        assert server.bound_port is not None
        caller = Caller(script=[Press("12", after="answer")])
        with anyio.fail_after(10):
            await fake.call("127.0.0.1", server.bound_port, caller)
    listened = [line for line in seen if line.startswith("listener")]
    assert listened == ["listener 1", "listener 2"]
    assert [line for line in seen if line.startswith("stream")] == ["stream 1", "stream 2"]
    assert sorted(line for line in seen if line.startswith("hook")) == ["hook 1", "hook 2"]


async def test_a_peer_that_stops_reading_is_dropped_after_the_write_timeout() -> None:
    failures: list[str] = []
    done = anyio.Event()

    async def handler(session: OutboundSession) -> None:
        async def flood() -> None:
            try:
                await session.api("echo " + "x" * 60_000)
            except ConnectionClosed as exc:
                failures.append(str(exc))

        # Far more than the kernel buffers: some command must wait for the peer to read.
        try:
            async with anyio.create_task_group() as tasks:
                for _ in range(400):
                    tasks.start_soon(flood)
        finally:
            done.set()

    timeouts = Timeouts(write=0.5, teardown=0.5)
    async with serving(handler, timeouts=timeouts) as server, dial(server) as peer:
        await peer.handshake()  # and then reads nothing more
        with anyio.fail_after(20):
            await done.wait()
    assert len(failures) == 400
    dropped = "did not read our command within 0.5 s; dropping the connection"
    assert any(failure.endswith(dropped) for failure in failures)
