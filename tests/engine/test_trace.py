"""The per-call trace: every step with its outcome, start and duration (exact under the mock
clock), the variables it changed (sensitive ones masked), the applications it ran, and secrets
masked wherever they would show."""

from __future__ import annotations

import httpx
import pytest

from ivrd.engine import Redactor
from ivrd.engine.trace import MASK, Trace
from ivrd.testing import Caller, FakeFreeSWITCH, Press

from .harness import Web, flow_text, run

pytestmark = pytest.mark.anyio

FLOW = flow_text(
    """
ivr: 1
name: traced
services:
  crm:
    base_url: "https://crm.example"
    headers: {Authorization: "Bearer {{ secrets.CRM_TOKEN }}"}
variables: {greeting: Hello}
start: welcome
steps:
  welcome:
    type: play
    prompt: [{play: a.wav}, {play: b.wav}]
    next: pin
  pin:
    type: ask
    prompt: {play: pin.wav}
    digits: {min: 4, max: 4}
    save_as: pin
    sensitive: true
    next: check
    too_many_attempts: bye
  check:
    type: http
    service: crm
    method: POST
    path: "/pins/{{ vars.pin }}?token={{ secrets.CRM_TOKEN }}"
    save_as: answer
    next:
      - if: "result.status == 200"
        set: {verdict: "ok {{ vars.pin }}"}
        go: bye
      - else: bye
    on_error: bye
  bye: {type: hangup, prompt: {play: bye.wav}}
"""
)


async def test_every_step_with_outcome_duration_variables_and_commands() -> None:
    web = Web({"POST /pins/4711": httpx.Response(200, json={"pin": "4711", "ok": True})})
    caller = Caller(
        script=[Press("4711", during="play_and_get_digits", delay=0.5)],
        files={"a.wav": 2.0, "b.wav": 0.5, "pin.wav": 3.0, "bye.wav": 1.5},
    )
    ran = await run(FLOW, caller, web=web, fake=FakeFreeSWITCH(frame=0))
    uuid = ran.record.uuid
    assert ran.trace.as_dict() == {
        "uuid": uuid,
        "flow": "traced",
        "disposition": "hangup",
        "hangup_cause": "NORMAL_CLEARING",
        "duration": pytest.approx(2.5 + 0.56 + 1.5, abs=0.001),
        "steps": [
            {
                "step": "welcome",
                "type": "play",
                "flow": "traced",
                "started": 0.0,
                "duration": 2.5,
                "outcome": "next",
                "target": "pin",
                "variables": {},
                "commands": ["answer", "playback a.wav", "playback b.wav"],
                "error": None,
            },
            {
                "step": "pin",
                "type": "ask",
                "flow": "traced",
                "started": 2.5,
                # The first key at 0.5 s ends the prompt, then three keys 20 ms apart.
                "duration": 0.56,
                "outcome": "next",
                "target": "check",
                "variables": {"pin": MASK},
                "commands": [
                    "play_and_get_digits 4 4 1 5000 # pin.wav silence_stream://250 ivrd_input "
                    "[0-9*#]+ 3000"
                ],
                "error": None,
            },
            {
                "step": "check",
                "type": "http",
                "flow": "traced",
                "started": 3.06,
                "duration": 0.0,
                "outcome": "next (result.status == 200)",
                "target": "bye",
                "variables": {"answer": {"pin": MASK, "ok": True}, "verdict": f"ok {MASK}"},
                "commands": [f"http POST https://crm.example/pins/{MASK}?token={MASK}"],
                "error": None,
            },
            {
                "step": "bye",
                "type": "hangup",
                "flow": "traced",
                "started": 3.06,
                "duration": 1.5,
                "outcome": "hangup",
                "target": None,
                "variables": {},
                "commands": ["playback bye.wav", "hangup NORMAL_CLEARING"],
                "error": None,
            },
        ],
        "commands": ["multiset ^^|playback_terminators=none|tts_engine=flite|tts_voice=kal"],
    }
    # The secret and the PIN went where they belong, and nowhere else.
    assert web.requests[0].headers["authorization"] == "Bearer crm-secret-token"
    assert web.seen() == ["POST https://crm.example/pins/4711?token=crm-secret-token"]
    assert "4711" not in str(ran.trace.as_dict())
    assert "crm-secret-token" not in str(ran.trace.as_dict())


async def test_a_failed_request_is_traced_with_its_error_masked() -> None:
    async def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused {request.url}", request=request)

    web = Web({"POST /pins/4711": refused})
    caller = Caller(script=[Press("4711", during="play_and_get_digits")])
    ran = await run(FLOW, caller, web=web)
    check = ran.step("check")
    assert (check.outcome, check.target) == ("on_error", "bye")
    assert check.error == (
        f"POST https://crm.example/pins/{MASK}?token={MASK}: ConnectError: "
        f"refused https://crm.example/pins/{MASK}?token={MASK}"
    )


def test_redactor_masks_longest_first_inside_structures() -> None:
    redact = Redactor(["abc", "abcdef"])
    redact.add(1234)
    assert redact("x abcdef y abc 1234") == f"x {MASK} y {MASK} {MASK}"
    assert redact.value({"a": ["abc", 1234, {"b": "1234-abc"}]}) == {
        "a": [MASK, 1234, {"b": f"{MASK}-{MASK}"}]
    }


def test_commands_outside_steps_and_nested_steps() -> None:
    times = iter([0.0, 1.0, 3.0, 4.0])
    trace = Trace("u", "f", Redactor(), clock=lambda: next(times))
    trace.command("multiset", "x=1")
    outer = trace.enter("run", "run", "f")
    inner = trace.enter("ask", "ask", "sub")
    trace.command("play_and_get_digits", "...")
    trace.leave(inner, "next", "verified")
    trace.changed("out", {"name": "Eva"})
    trace.leave(outer, "verified", "done")
    trace.command("uuid_setvar", "a b")
    assert trace.commands == ["multiset x=1", "uuid_setvar a b"]
    assert (outer.variables, outer.commands, outer.duration) == ({"out": {"name": "Eva"}}, [], 4.0)
    assert (inner.variables, inner.commands, inner.duration) == (
        {},
        ["play_and_get_digits ..."],
        2.0,
    )
    assert trace.path == ["run", "ask"]
