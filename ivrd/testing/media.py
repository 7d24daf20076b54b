"""Helpers the applications share: answering, early media, terminators, playing a file."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivrd.testing.execution import Execution, RunningApp


def answer_channel(call: Execution) -> None:
    state = call.state
    if state.answered:
        return
    state.answered_now()
    call.publish("CHANNEL_ANSWER")
    previous = state.call_state
    state.set_state(call_state="ACTIVE")
    call.publish(
        "CHANNEL_CALLSTATE",
        pre=[("Original-Channel-Call-State", previous), ("Channel-Call-State-Number", "4")],
        variables=False,
    )
    state.set_var("endpoint_disposition", "ANSWER")
    call.answered.set()
    call.changed.notify()


def pre_answer_channel(call: Execution) -> None:
    """Early media, as every media application does on a channel not yet answered."""
    state = call.state
    if state.answered or state.call_state == "EARLY":
        return
    state.set_time("Channel-Progress-Media-Time")
    state.set_state(call_state="EARLY", answer_state="early")
    call.publish("CHANNEL_PROGRESS_MEDIA")
    state.set_var("endpoint_disposition", "EARLY MEDIA")


def terminators(call: Execution) -> str:
    """`playback_terminators` as mod_dptools' on_dtmf reads it (default `*`)."""
    value = call.state.get_var("playback_terminators")
    if value is None:
        return "*"
    if value.lower() == "any":
        return "1234567890*#"
    if value.lower() == "none":
        return ""
    return value


def terminating(call: Execution) -> Callable[[str], bool]:
    keys = terminators(call)

    def on_dtmf(digit: str) -> bool:
        if digit in keys:
            call.state.set_var("playback_terminator_used", digit)
            return True
        return False

    return on_dtmf


def file_type(path: str) -> str:
    if "://" in path:
        return path.split("://", 1)[0]
    return path.rsplit(".", 1)[-1] if "." in path else "file"


async def play_file(
    call: Execution,
    running: RunningApp,
    path: str,
    on_dtmf: Callable[[str], bool] | None,
) -> str:
    """Play one file: "done", "dtmf", "break", "hangup" or "notfound"."""
    pre_answer_channel(call)
    seconds = call.caller.file_duration(path)
    if seconds is None:
        return "notfound"
    where = [("Playback-File-Type", file_type(path)), ("Playback-File-Path", path)]
    call.publish("PLAYBACK_START", where, variables=False)
    started = call.clock()
    outcome = await call.media(running, seconds, on_dtmf=on_dtmf)
    played_ms = round((call.clock() - started) * 1000)
    samples = played_ms * 8
    state = call.state
    state.set_var("playback_last_offset_pos", str(samples))
    state.set_var("playback_seconds", str(played_ms // 1000))
    state.set_var("playback_ms", str(played_ms))
    state.set_var("playback_samples", str(samples))
    status = "done" if outcome == "done" else "break"
    call.publish("PLAYBACK_STOP", [*where, ("Playback-Status", status)])
    return outcome
