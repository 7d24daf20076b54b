"""The step types that need no loop of their own: one function each, `(outcome, route)` back.

`menu`/`ask` live in `input.py`, `transfer`/`queue` in `transfer.py`, `http` requests in
`http.py`, `run` (subflows) in the interpreter, which owns frames.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx

from ivrd.engine import http, prompts
from ivrd.engine.call import Call, Frame, Interrupted, StepFailed
from ivrd.esl.applications import voicemail_arg
from ivrd.esl.errors import ArgumentError, CommandError
from ivrd.esl.protocol import LocalProtocolError
from ivrd.flow.routes import Route
from ivrd.flow.steps import (
    AppStep,
    CheckHoursStep,
    ChooseStep,
    HttpStep,
    PlayStep,
    RecordStep,
    SetStep,
    VoicemailStep,
)
from ivrd.flow.templating import TemplateRenderError

StepOutcome = tuple[str, Route | None]

STEP_ERRORS = (
    StepFailed,
    TemplateRenderError,
    ArgumentError,
    LocalProtocolError,
    CommandError,
    http.HttpFailed,
)
"""A step could not do its job (a template, an argument that cannot be sent, FreeSWITCH said
no, no HTTP response): the flow's `on.error` decides."""


class StepEnv:
    """What steps need from the daemon: an HTTP client and the time of day."""

    def __init__(self, http_client: httpx.AsyncClient | None, now: Callable[[], datetime]) -> None:
        self.http_client = http_client
        self.now = now


async def run_play(
    call: Call, frame: Frame, name: str, step: PlayStep, env: StepEnv
) -> StepOutcome:
    await prompts.play(call, frame, step.prompt)
    return "next", step.next


async def run_check_hours(
    call: Call, frame: Frame, name: str, step: CheckHoursStep, env: StepEnv
) -> StepOutcome:
    answer = frame.flow.calendars[step.calendar].check(env.now(), frame.flow.timezone)
    frame.result = {"status": answer.status.value, "reason": answer.reason}
    return answer.status.value, frame.flow.route(name, answer.status.value)


async def run_choose(
    call: Call, frame: Frame, name: str, step: ChooseStep, env: StepEnv
) -> StepOutcome:
    return "branches", step.branches


async def set_channel(call: Call, frame: Frame, values: dict[str, Any]) -> None:
    """One `set` per variable: a value may hold any character but CR/LF (which the
    protocol layer sends as a body)."""
    for variable, template in values.items():
        await call.app("set", f"{variable}={call.render(template, frame)}")


async def run_set(call: Call, frame: Frame, name: str, step: SetStep, env: StepEnv) -> StepOutcome:
    for variable, template in step.vars.items():
        frame.vars[variable] = call.value(template, frame)
        call.trace.changed(variable, frame.vars[variable], sensitive=variable in frame.sensitive)
    await set_channel(call, frame, step.channel)
    await set_channel(call, frame, step.cdr)
    if step.language is not None:
        call.language = step.language
        await call.app("set", f"language={step.language}")
    return "next", step.next


async def run_http(
    call: Call, frame: Frame, name: str, step: HttpStep, env: StepEnv
) -> StepOutcome:
    if env.http_client is None:
        raise StepFailed("no HTTP client is configured")
    try:
        frame.result = await http.request(call, frame, env.http_client, step)
    except http.HttpFailed as exc:
        frame.result = {"status": None, "error": str(exc)}
        route = frame.flow.route(name, "on_error")
        if route is None:
            raise StepFailed(str(exc)) from None
        current = call.trace.current
        if current is not None:
            current.error = call.trace.redact(str(exc))
        return "on_error", route
    if step.save_as:
        frame.vars[step.save_as] = frame.result["body"]
        call.trace.changed(step.save_as, frame.result["body"])
    return "next", step.next


async def run_voicemail(
    call: Call, frame: Frame, name: str, step: VoicemailStep, env: StepEnv
) -> StepOutcome:
    domain = (
        call.render(step.domain, frame)
        if step.domain is not None
        else call.session.variable("domain_name") or "$${domain}"
    )
    arg = voicemail_arg(step.profile, domain, call.render(step.box, frame), check=False, auth=False)
    await call.app("voicemail", arg, interruptible=False)
    return "next", step.next


BEEP = "tone_stream://%(250,0,800)"


async def run_record(
    call: Call, frame: Frame, name: str, step: RecordStep, env: StepEnv
) -> StepOutcome:
    await prompts.play(call, frame, step.prompt)
    if step.beep:
        await call.app("playback", BEEP)
    path = call.render(step.path, frame)
    seconds = max(1, round(step.max_length.total_seconds()))
    arg = f"{path} {seconds}"
    if step.silence is not None:
        hits = max(1, round(step.silence.total_seconds()))
        arg += f" {step.silence_threshold} {hits}"
    # Recording ends on the end key; every other time ivrd decides about keys itself.
    await call.app("set", f"playback_terminators={step.end_key}")
    try:
        result = await call.app("record", arg, interruptible=False)
    except Interrupted:
        # The long-call timer: the recording is over, the call goes on elsewhere.
        await call.app("set", "playback_terminators=none")
        raise
    await call.app("set", "playback_terminators=none")
    frame.result = {"path": path, "seconds": result.variable("record_seconds") or ""}
    if step.save_as:
        frame.vars[step.save_as] = path
        call.trace.changed(step.save_as, path)
    return "next", step.next


async def run_app(call: Call, frame: Frame, name: str, step: AppStep, env: StepEnv) -> StepOutcome:
    # The expert's own ${variables} go as written for FreeSWITCH to expand; a value filled in
    # cannot take part in an expansion (Call.render).
    arg = call.render(step.arg, frame) if step.arg is not None else ""
    result = await call.app(step.name, arg)
    frame.result = {"response": result.response or ""}
    return "next", step.next


Runner = Callable[[Call, Frame, str, Any, StepEnv], Awaitable[StepOutcome]]

RUNNERS: dict[str, Runner] = {
    "play": run_play,
    "check_hours": run_check_hours,
    "choose": run_choose,
    "set": run_set,
    "http": run_http,
    "voicemail": run_voicemail,
    "record": run_record,
    "app": run_app,
}
