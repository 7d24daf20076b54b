"""How a call ends: the `hangup` application, a polite hangup after a failure, and the
`on.hangup` actions, run once after the call is gone (no media: HTTP requests and channel or
CDR variables, set with `api uuid_setvar` on the lingering channel)."""

from __future__ import annotations

import contextlib
import logging

import anyio
import httpx

from ivrd.engine import http
from ivrd.engine.call import Call, Frame, StepFailed
from ivrd.engine.steps import STEP_ERRORS
from ivrd.esl.errors import CallHangup, ESLError
from ivrd.flow.steps import HttpRequest
from ivrd.flow.templating import Template

log = logging.getLogger("ivrd.engine")

HANGUP_HOOK_DEADLINE = 10.0
"""Seconds the `on.hangup` actions may take together."""
POLITE_HANGUP_DEADLINE = 10.0


async def hang_up(call: Call, cause: str) -> None:
    """End the call: `hangup` completes when FreeSWITCH reports CHANNEL_HANGUP."""
    if getattr(call.session, "hangup_cause", None) is None:
        call.trace.command("hangup", cause)
    call.hanging_up = True
    hangup = getattr(call.session, "hangup", None)
    try:
        if hangup is not None:
            await hangup(cause)
        else:
            await call.session.execute("hangup", cause)
    except CallHangup:
        pass


async def polite_hangup(call: Call) -> None:
    """Hang up after a failure; bounded, and shielded so that it happens even when cancelled."""
    with anyio.move_on_after(POLITE_HANGUP_DEADLINE, shield=True):
        with contextlib.suppress(ESLError):
            await hang_up(call, "NORMAL_CLEARING")


async def run_hangup_hooks(call: Call, http_client: httpx.AsyncClient | None) -> None:
    """`on.hangup`: once per call, after the call ended, whatever ended it. No media."""
    actions = call.flow.on.hangup
    if not actions:
        return
    frame = call.root or Frame(call.flow, {})
    with anyio.move_on_after(HANGUP_HOOK_DEADLINE, shield=True):
        for action in actions:
            if action.http is not None:
                await _hook_request(call, frame, http_client, action.http)
            elif action.set_fields is not None:
                fields = {**action.set_fields.channel, **action.set_fields.cdr}
                for name, template in fields.items():
                    await _hook_setvar(call, frame, name, template)


async def _hook_request(
    call: Call, frame: Frame, client: httpx.AsyncClient | None, spec: HttpRequest
) -> None:
    try:
        if client is None:
            raise StepFailed("no HTTP client is configured")
        await http.request(call, frame, client, spec)
    except (ESLError, *STEP_ERRORS) as exc:
        log.warning("on.hangup action failed: %s", call.trace.redact(str(exc)))


async def _hook_setvar(call: Call, frame: Frame, name: str, template: Template) -> None:
    # With `linger`, FreeSWITCH keeps the hung-up channel until we send `exit`.
    try:
        # FreeSWITCH keeps it and expands it again wherever `${name}` is read: render for it.
        value = call.render(template, frame)
        call.trace.command("uuid_setvar", f"{name} {value}")
        await call.session.api(f"uuid_setvar {call.uuid} {name} {value}")
    except (ESLError, *STEP_ERRORS) as exc:
        log.warning("on.hangup action failed: %s", call.trace.redact(str(exc)))
