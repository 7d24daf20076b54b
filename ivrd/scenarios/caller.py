"""The scenario's caller, acting on a live fake call: keys, silences and hangups at triggers.

The fake FreeSWITCH's own scripts trigger on application names only; scenarios name steps,
which `targets` turns into an application and the text its argument carries. So this module
watches the fake call's applications (`record.apps`, with arguments) through its change signal
and acts through its live-call API (`press`, `caller_hangup`).

Actions run in order. Each waits for its trigger, then `delay`, then acts:
- `during`: an application of the target that runs now or starts later and that an earlier
  action did not use (`nth`: the n-th of the call); `after`: such an application ended;
  `at`: that long after the call reached ivrd; none: at once -- except `press` and a bare
  `silence`, which wait `during` the next question (menu or ask).
- `press` sends the keys `interval` apart; `silence: D` waits D; a bare `silence` waits for its
  application to end without a key; `hangup` hangs up.
Every wait ends when the call does; the caller's task is cancelled with the call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import anyio

from ivrd.scenarios.loading import PlannedAction
from ivrd.scenarios.targets import QUESTION_APPS, AppTarget
from ivrd.testing import OutboundCall

__all__ = [
    "QUESTION",
    "ActedAction",
    "app_ended",
    "call_over",
    "play_caller",
    "wait_for_app",
]

QUESTION = AppTarget("the next question", QUESTION_APPS)


@dataclass(slots=True)
class ActedAction:
    """What became of one caller action."""

    number: int
    description: str
    at: float | None = None
    """Seconds into the call when it acted; None if it never did."""
    note: str = "not reached: the call ended first"

    @property
    def done(self) -> bool:
        return self.at is not None

    def __str__(self) -> str:
        when = f"at {self.at:.2f}s" if self.at is not None else self.note
        return f"{self.number}. {self.description}: {when}"


def call_over(call: OutboundCall) -> bool:
    # A function, not `call.up` inline: the call can end during any await.
    return not call.up


def app_running(call: OutboundCall, index: int) -> bool:
    app = call.record.apps[index]
    return app.started_at is not None and app.ended_at is None


def app_ended(call: OutboundCall, index: int) -> bool:
    return call.record.apps[index].ended_at is not None


async def wait_for_app(
    call: OutboundCall, target: AppTarget, cursor: int, nth: int | None, *, ended: bool
) -> int | None:
    """The index (in `record.apps`) of the application the trigger waits for; None when the
    call ended first or the n-th one had already ended."""
    state = app_ended if ended else app_running
    while call.up:
        matching = [
            index for index, app in enumerate(call.record.apps) if target.matches(app.name, app.arg)
        ]
        if nth is not None:
            if len(matching) >= nth:
                index = matching[nth - 1]
                if state(call, index):
                    return index
                if not ended and app_ended(call, index):
                    return None
        else:
            for index in matching:
                if index > cursor and state(call, index):
                    return index
        await call.changed.wait()
    return None


async def _at(call: OutboundCall, offset: timedelta) -> bool:
    while call.connected_at is None and call.up:
        await call.changed.wait()
    if call.connected_at is None:
        return False
    remaining = call.connected_at + offset.total_seconds() - anyio.current_time()
    if remaining > 0:
        await anyio.sleep(remaining)
    return call.up


def _seconds_in(call: OutboundCall) -> float:
    start = call.connected_at if call.connected_at is not None else call.record.started_at
    return anyio.current_time() - start


async def play_caller(
    call: OutboundCall, actions: Sequence[PlannedAction], acted: list[ActedAction]
) -> None:
    """Play `actions` on `call`, recording each in `acted`; returns when done or hung up."""
    acted.extend(ActedAction(p.number, p.action.describe()) for p in actions)
    cursor = -1
    for planned, record in zip(actions, acted, strict=True):
        action = planned.action
        target = planned.target
        bare_silence = action.kind == "silence" and not isinstance(action.silence, timedelta)
        if target is None and action.at is None and (action.kind == "press" or bare_silence):
            target = QUESTION
        used: int | None = None
        if action.at is not None:
            if not await _at(call, action.at):
                return
        elif target is not None:
            ends = action.after is not None
            used = await wait_for_app(call, target, cursor, action.nth, ended=ends)
            if call_over(call):
                return
            if used is None:
                record.note = f"skipped: {target.label} #{action.nth} had already ended"
                continue
            cursor = max(cursor, used)
        if action.delay:
            await anyio.sleep(action.delay.total_seconds())
        if call_over(call):
            return
        record.at = _seconds_in(call)
        if action.press is not None:
            for position, key in enumerate(action.press):
                if position:
                    await anyio.sleep(action.interval.total_seconds())
                if call_over(call):
                    return
                call.press(key)
        elif action.hangup:
            call.caller_hangup(action.cause)
            return
        elif isinstance(action.silence, timedelta):
            await anyio.sleep(action.silence.total_seconds())
        elif used is not None:
            while call.up and not app_ended(call, used):
                await call.changed.wait()
