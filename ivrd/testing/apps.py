"""The applications a fake channel runs, as mod_dptools runs them (simulated time).

Each application is `async def app(call, running) -> response | None`; a response becomes
`current_application_response` and the EXECUTE_COMPLETE's `Application-Response`. Media
applications take time through `call.media()`, which is where DTMF, breaks, hangups and nested
messages are seen. Applications that only change state finish at once. Names FreeSWITCH does
not know are not here: the channel is then hung up with DESTINATION_OUT_OF_ORDER.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio

from ivrd.testing.bridge import att_xfer, bridge
from ivrd.testing.callcenter import callcenter
from ivrd.testing.input import play_and_get_digits, read
from ivrd.testing.media import (
    answer_channel,
    play_file,
    pre_answer_channel,
    speak_text,
    terminating,
)
from ivrd.testing.speech import speak_arguments

if TYPE_CHECKING:
    from ivrd.testing.execution import Execution, RunningApp

Application = Callable[["Execution", "RunningApp"], Awaitable[str | None]]


async def playback(call: Execution, running: RunningApp) -> str | None:
    call.state.set_var("playback_terminator_used", None)
    outcome = await play_file(call, running, running.arg, terminating(call))
    if outcome == "notfound":
        return "FILE NOT FOUND"
    if outcome == "hangup":
        return "PLAYBACK ERROR"
    return "FILE PLAYED"


async def _timed(call: Execution, running: RunningApp, *, dtmf: bool = True) -> str | None:
    """A media application that lasts `Caller.durations[name]` and honours terminators."""
    pre_answer_channel(call)
    seconds = call.caller.app_seconds(running.name, running.arg)
    await call.media(running, seconds, on_dtmf=terminating(call) if dtmf else None)
    return None


async def speak(call: Execution, running: RunningApp) -> str | None:
    """speak_function: `engine|voice|text`, `voice|text` or `text` (ivrd.testing.speech);
    without an engine and a voice (the arguments' or the channel's) the channel is hung up."""
    arguments = speak_arguments(running.arg)
    if arguments.text is None:
        return None  # "Invalid Params!": nothing to speak, nothing else happens
    state = call.state
    engine = arguments.engine if arguments.engine is not None else state.get_var("tts_engine")
    voice = arguments.voice if arguments.voice is not None else state.get_var("tts_voice")
    if engine is None or voice is None:
        call.hangup("DESTINATION_OUT_OF_ORDER", "switch")
        return None
    seconds = call.caller.app_seconds(running.name, running.arg)
    await speak_text(call, running, (engine, voice, arguments.text), seconds, terminating(call))
    return None


async def sleep(call: Execution, running: RunningApp) -> str | None:
    try:
        seconds = int(running.arg or "0") / 1000
    except ValueError:
        seconds = 0.0
    await call.media(running, seconds, on_dtmf=terminating(call))
    return None


async def answer(call: Execution, running: RunningApp) -> str | None:
    answer_channel(call)
    return None


async def pre_answer(call: Execution, running: RunningApp) -> str | None:
    pre_answer_channel(call)
    return None


async def ring_ready(call: Execution, running: RunningApp) -> str | None:
    if call.state.times["Channel-Progress-Time"] == 0 and not call.state.answered:
        call.state.set_time("Channel-Progress-Time")
        call.publish("CHANNEL_PROGRESS")
    return None


async def hangup(call: Execution, running: RunningApp) -> str | None:
    call.hangup(running.arg.strip() or "NORMAL_CLEARING", "server")
    return None


async def break_(call: Execution, running: RunningApp) -> str | None:
    call.break_media(flush=running.arg.strip().lower() == "all")
    return None


async def set_(call: Execution, running: RunningApp) -> str | None:
    name, _, value = running.arg.partition("=")
    if name.strip():
        call.state.set_var(name.strip(), value)
    return None


async def multiset(call: Execution, running: RunningApp) -> str | None:
    arg = running.arg
    if arg.startswith("^^") and len(arg) > 2:
        items = arg[3:].split(arg[2])
    else:
        items = arg.split(" ")
    for item in items:
        name, _, value = item.partition("=")
        if name.strip():
            call.state.set_var(name.strip(), value)
    return None


async def unset(call: Execution, running: RunningApp) -> str | None:
    call.state.set_var(running.arg.strip(), None)
    return None


async def export(call: Execution, running: RunningApp) -> str | None:
    arg = running.arg
    local = not arg.startswith("nolocal:")
    name, _, value = arg.removeprefix("nolocal:").partition("=")
    name = name.strip()
    if not name:
        return None
    if local:
        call.state.set_var(name, value)
    exported = [item for item in (call.state.get_var("export_vars") or "").split(",") if item]
    if name not in exported:
        exported.append(name)
    call.state.set_var("export_vars", ",".join(exported))
    return None


async def sched_hangup(call: Execution, running: RunningApp) -> str | None:
    when, _, cause = running.arg.strip().partition(" ")
    try:
        seconds = float(when.lstrip("+"))
    except ValueError:
        return None
    if not when.startswith("+"):
        seconds -= call.fake.source.now()

    async def later() -> None:
        await anyio.sleep(max(0.0, seconds))
        call.hangup(cause.strip() or "ALLOTTED_TIMEOUT", "server")

    call.spawn(later)
    return None


async def record(call: Execution, running: RunningApp) -> str | None:
    pre_answer_channel(call)
    words = running.arg.split()
    path = words[0] if words else ""
    seconds = call.caller.app_seconds("record")
    if len(words) > 1 and words[1].isdigit() and int(words[1]) > 0:
        seconds = min(seconds, float(words[1]))
    where = [("Record-File-Path", path)]
    call.publish("RECORD_START", where)
    started = anyio.current_time()
    await call.media(running, seconds, on_dtmf=terminating(call))
    ms = round((anyio.current_time() - started) * 1000)
    state = call.state
    state.set_var("record_seconds", str(ms // 1000))
    state.set_var("record_ms", str(ms))
    state.set_var("record_samples", str(ms * 8))
    call.publish("RECORD_STOP", where)
    return None


async def record_session(call: Execution, running: RunningApp) -> str | None:
    call.publish("RECORD_START", [("Record-File-Path", running.arg.split(" ")[0])])
    return None


async def stop_record_session(call: Execution, running: RunningApp) -> str | None:
    call.publish("RECORD_STOP", [("Record-File-Path", running.arg.split(" ")[0])])
    return None


async def voicemail(call: Execution, running: RunningApp) -> str | None:
    answer_channel(call)
    await call.media(running, call.caller.app_seconds("voicemail"), on_dtmf=lambda digit: False)
    if call.caller.hangup_after_voicemail:
        call.caller_hangup("NORMAL_CLEARING")
    return None


async def flush_dtmf(call: Execution, running: RunningApp) -> str | None:
    call.dtmf.clear()
    return None


async def transfer(call: Execution, running: RunningApp) -> str | None:
    call.transferred = True
    return None


async def event(call: Execution, running: RunningApp) -> str | None:
    pairs = []
    for item in running.arg.split(","):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            pairs.append((name.strip(), value))
    headers = dict(pairs)
    name = headers.pop("Event-Name", "CUSTOM")
    subclass = headers.pop("Event-Subclass", None)
    event = call.fake.source.event(name, list(headers.items()), subclass=subclass)
    call.fake.publish_event(event)
    return None


async def nothing(call: Execution, running: RunningApp) -> str | None:
    return None


async def timed(call: Execution, running: RunningApp) -> str | None:
    return await _timed(call, running)


async def timed_quiet(call: Execution, running: RunningApp) -> str | None:
    return await _timed(call, running, dtmf=False)


APPLICATIONS: dict[str, Application] = {
    "answer": answer,
    "pre_answer": pre_answer,
    "ring_ready": ring_ready,
    "playback": playback,
    "play_and_get_digits": play_and_get_digits,
    "read": read,
    "sleep": sleep,
    "hangup": hangup,
    "break": break_,
    "set": set_,
    "multiset": multiset,
    "unset": unset,
    "export": export,
    "sched_hangup": sched_hangup,
    "record": record,
    "record_session": record_session,
    "stop_record_session": stop_record_session,
    "voicemail": voicemail,
    "flush_dtmf": flush_dtmf,
    "transfer": transfer,
    "event": event,
    "bridge": bridge,
    "att_xfer": att_xfer,
    "callcenter": callcenter,
    "speak": speak,
    "say": timed,
    "phrase": timed,
    "gentones": timed_quiet,
    "send_dtmf": timed_quiet,
}
# Applications that change nothing the fake models: they complete at once.
for _name in [
    "park",
    "log",
    "info",
    "displace_session",
    "bind_meta_app",
    "unbind_meta_app",
    "deflect",
    "redirect",
    "respond",
    "set_global",
    "set_profile_var",
    "set_user",
    "verbose_events",
    "bind_digit_action",
    "clear_digit_action",
    "digit_action_set_realm",
    "limit",
    "db",
    "hash",
    "presence",
    "privacy",
    "detect_speech",
    "start_dtmf",
    "stop_dtmf",
    "start_dtmf_generate",
    "stop_dtmf_generate",
    "sched_transfer",
    "sched_broadcast",
    "sched_cancel",
    "set_zombie_exec",
    "push",
    "unshift",
    "enable_heartbeat",
    "media_reset",
    "mkdir",
    "echo",
    "stop_displace_session",
    "capture",
    "cng_plc",
    "fax_detect",
    "spandsp_start_tone_detect",
    "spandsp_stop_tone_detect",
    "wait_for_silence",
    "check_acl",
    "eval",
    "system",
    "bgsystem",
]:
    APPLICATIONS.setdefault(_name, nothing)

# Applications whose loop parses queued messages (and so runs them nested) and can be broken.
MEDIA_APPLICATIONS = frozenset(
    {
        "playback",
        "play_and_get_digits",
        "read",
        "sleep",
        "speak",
        "say",
        "phrase",
        "gentones",
        "record",
        "voicemail",
        "send_dtmf",
        "callcenter",
    }
)
