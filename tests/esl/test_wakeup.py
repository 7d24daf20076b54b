"""`Wakeup` on both backends (an event-loop future and timer on asyncio, anyio's event and cancel
scope elsewhere), and the session's time limits that rest on it, on the real clock.

tests/esl/test_timeouts.py checks every limit on trio's virtual clock; here the same waits end
on asyncio too, where they are the loop's own timers. The limits are a fraction of a second,
and nothing asserts how long anything took: only which way each wait ended.
"""

from __future__ import annotations

import anyio
import pytest
from _esl_peer import dial, serving

from ivrd.esl import ESLTimeout, OutboundSession, Timeouts
from ivrd.esl._wakeup import Turns, Wakeup
from ivrd.esl.latch import Latch
from ivrd.esl.protocol import writers

pytestmark = pytest.mark.anyio

SHORT = 0.05
"""A deadline that passes soon; every wait here is also bounded by `fail_after(WAIT)`."""
WAIT = 10.0


async def wait_into(wakeup: Wakeup, results: list[bool]) -> None:
    results.append(await wakeup.wait())


async def test_a_wakeup_set_before_the_wait_returns_true() -> None:
    wakeup = Wakeup()
    wakeup.set()

    with anyio.fail_after(WAIT):
        assert await wakeup.wait() is True
    assert wakeup.is_set()


async def test_a_wakeup_set_while_waited_on_returns_true() -> None:
    wakeup = Wakeup()
    wakeup.move(anyio.current_time() + 3600)
    results: list[bool] = []

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(wait_into, wakeup, results)
            await anyio.wait_all_tasks_blocked()
            wakeup.set()
            wakeup.set()  # a second set changes nothing
    assert results == [True]


async def test_a_wakeup_returns_false_when_its_deadline_passes() -> None:
    wakeup = Wakeup()
    wakeup.move(anyio.current_time() + SHORT)

    with anyio.fail_after(WAIT):
        assert await wakeup.wait() is False
    wakeup.set()  # too late: nobody waits, nothing breaks
    assert wakeup.is_set()


async def test_a_deadline_moved_during_the_wait_replaces_the_first() -> None:
    """Moved later (to none at all), the first deadline no longer ends the wait; moved
    earlier, the new one does."""
    wakeup = Wakeup()
    wakeup.move(anyio.current_time() + SHORT)
    results: list[bool] = []

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(wait_into, wakeup, results)
            await anyio.wait_all_tasks_blocked()
            wakeup.move(float("inf"))
            await anyio.sleep(4 * SHORT)  # past the first deadline: the wait goes on
            assert results == []
            wakeup.move(anyio.current_time() + SHORT)
    assert results == [False]


async def test_a_cancelled_wait_raises_cancellation_and_leaves_no_timer() -> None:
    wakeup = Wakeup()
    wakeup.move(anyio.current_time() + SHORT)

    with anyio.move_on_after(SHORT / 5) as scope:
        await wakeup.wait()
    assert scope.cancelled_caught
    await anyio.sleep(2 * SHORT)  # the deadline passes with nobody waiting
    wakeup.set()
    with anyio.fail_after(WAIT):
        assert await wakeup.wait() is True


async def test_an_application_that_never_completes_times_out() -> None:
    outcome: list[str] = []

    async def handler(session: OutboundSession) -> None:
        try:
            await session.playback("long.wav")
        except ESLTimeout as exc:
            outcome.append(str(exc))

    timeouts = Timeouts(application=SHORT)
    async with serving(handler, timeouts=timeouts) as server, dial(server) as peer:
        await peer.handshake()
        await peer.expect_execute("playback", "long.wav")
        await peer.reply()
        await peer.goodbye()
    assert outcome == [f"`playback` did not complete within {SHORT:g} s"]


async def test_before_the_reply_the_reply_limit_applies_and_after_it_the_applications() -> None:
    """A reply limit shorter than the wait for the `+OK` ends the first application; the
    second gets its `+OK` at once, outlives the reply limit and completes."""
    outcome: list[str] = []

    async def handler(session: OutboundSession) -> None:
        try:
            await session.playback("first.wav")
        except ESLTimeout as exc:
            outcome.append(str(exc))
        result = await session.playback("second.wav")
        outcome.append(result.response or "")

    timeouts = Timeouts(reply=SHORT)
    async with serving(handler, timeouts=timeouts) as server, dial(server) as peer:
        await peer.handshake()
        await peer.expect_execute("playback", "first.wav")
        second = await peer.expect_execute("playback", "second.wav")  # no reply to the first
        await peer.reply()  # the first's, dropped
        await peer.reply()
        await anyio.sleep(4 * SHORT)  # past the reply limit: the application's applies now
        await peer.complete(second, "FILE PLAYED")
        await peer.goodbye()
    assert outcome[0].endswith(f" to `sendmsg` within {SHORT:g} s")
    assert outcome[1:] == ["FILE PLAYED"]


async def test_an_api_answer_that_never_comes_times_out_and_the_late_one_is_dropped() -> None:
    outcome: list[str] = []

    async def handler(session: OutboundSession) -> None:
        try:
            await session.api("slow")
        except ESLTimeout as exc:
            outcome.append(str(exc))
        outcome.append(await session.api("next"))

    async with serving(handler, timeouts=Timeouts(api=SHORT)) as server, dial(server) as peer:
        await peer.handshake()
        await peer.expect("api slow")
        await peer.expect("api next")
        await peer.send(writers.api_response("late"))
        await peer.send(writers.api_response("next"))
        await peer.goodbye()
    assert outcome[0].endswith(f" to `api slow` within {SHORT:g} s")
    assert outcome[1:] == ["next"]


async def test_turns_go_in_arrival_order_and_a_cancelled_waiter_gives_up_its_place() -> None:
    turns = Turns()
    order: list[str] = []

    async def take(name: str, hold: anyio.Event) -> None:
        async with turns:
            order.append(name)
            await hold.wait()

    holds = {name: anyio.Event() for name in "abcd"}
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as task_group:
            for name in "abc":
                task_group.start_soon(take, name, holds[name])
                await anyio.wait_all_tasks_blocked()
            with anyio.CancelScope() as cancelled:
                cancelled.cancel()
                await take("d", holds["d"])  # waits behind a, b and c: cancelled, gone
            for name in "abc":
                holds[name].set()
                await anyio.wait_all_tasks_blocked()
    assert order == ["a", "b", "c"]
    async with turns:  # free again
        order.append("e")
    assert order[-1] == "e"


async def test_a_latch_wakes_every_waiter_and_a_deadline_ends_only_its_own_wait() -> None:
    latch = Latch()
    results: dict[str, bool] = {}

    async def waiter(name: str, deadline: float) -> None:
        results[name] = await latch.wait(deadline)

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as task_group:
            now = anyio.current_time()
            task_group.start_soon(waiter, "patient", float("inf"))
            task_group.start_soon(waiter, "also patient", now + 3600)
            task_group.start_soon(waiter, "hasty", now + SHORT)
            await anyio.sleep(4 * SHORT)
            assert results == {"hasty": False}
            latch.set()
        assert await latch.wait(now) is True  # set: at once, whatever the deadline
    assert results == {"hasty": False, "patient": True, "also patient": True}
    assert latch.is_set()
