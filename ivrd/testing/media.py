"""Helpers the applications share: answering, early media, terminators, playing a file,
speaking a text (what reaches the text-to-speech engine: ivrd.testing.speech)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ivrd.testing.record import Speech
from ivrd.testing.speech import feed_tts, file_string_parts, is_sound_file, tts_text

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


async def speak_text(
    call: Execution,
    running: RunningApp,
    speech: tuple[str, str | None, str],
    seconds: float,
    on_dtmf: Callable[[str], bool] | None,
) -> str:
    """switch_ivr_speak_text: `speech` (engine, voice, text) goes to the engine, noted in the
    call record as switch_core_speech_feed_tts reads it (`feed_tts`), and lasts `seconds`
    ("done", "dtmf", "break" or "hangup"). No PLAYBACK events: those are
    switch_ivr_play_file's, for files."""
    pre_answer_channel(call)
    engine, voice, text = speech
    fed = feed_tts(text)
    if fed is None:
        # feed_tts refuses it before the engine sees it: the engine has nothing to say.
        call.note(f"feed_tts: nothing handed to the engine: {text!r}")
        return "done"
    call.record.spoken.append(Speech(call.clock(), engine, voice, fed.text, fed.params))
    return await call.media(running, seconds, on_dtmf=on_dtmf)


async def play_file(
    call: Execution,
    running: RunningApp,
    path: str,
    on_dtmf: Callable[[str], bool] | None,
) -> str:
    """switch_ivr_play_file with one file: "done", "dtmf", "break", "hangup" or "notfound".

    A `say:` file is spoken with the channel's `tts_engine` and `tts_voice` (nothing without
    an engine), for as long as `speak` would take; in a `file_string://` only sound files
    play, a `say:` or `phrase:` part is skipped as a file FreeSWITCH cannot open."""
    text = tts_text(path)
    if text is not None:
        engine = call.state.get_var("tts_engine")
        if engine is None:
            call.note(f"say: without tts_engine, nothing spoken: {path!r}")
            return "done"
        speech = (engine, call.state.get_var("tts_voice"), text)
        return await speak_text(
            call, running, speech, call.caller.app_seconds("speak", text), on_dtmf
        )
    parts = file_string_parts(path)
    if parts is not None:
        for part in parts:
            if not is_sound_file(part):
                call.note(f"file_string: {part!r} is no file: skipped")
        if not any(is_sound_file(part) for part in parts):
            return "notfound"
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
