"""Data from callers and HTTP services never becomes FreeSWITCH syntax, seen from the flow:
line breaks travel in a body and never start a header, `%0A` stays text, a value that would
take part in a `${...}` expansion sends the step to `on.error` before anything is sent, and
the author's own `${...}` beside a value passes as written. The byte-exact table of attempts
is tests/reliability/test_injection.py."""

from __future__ import annotations

import logging

import httpx
import pytest

from ivrd.esl.protocol import Command
from ivrd.testing import Caller, Press

from .harness import Ran, Web, both_backends, fast_caller, flow_text, run

pytestmark = pytest.mark.anyio

FLOW = flow_text(
    """
ivr: 1
name: injection
services:
  crm: {base_url: "https://crm.example"}
start: lookup
steps:
  lookup:
    type: http
    service: crm
    path: /customer
    save_as: customer
    next: greet
    on_error: failed
  greet:
    type: play
    prompt: {say: "Hello {{ vars.customer.name }}, calling from ${caller_id_number}"}
    next: remember
  remember:
    type: set
    channel: {nickname: "{{ vars.customer.name }}"}
    cdr: {ivr_note: "{{ vars.customer.note }}"}
    next: menu
  menu:
    type: menu
    prompt: {say: "{{ vars.customer.name }}, press 1"}
    options: {"1": transfer}
    too_many_attempts: failed
  transfer:
    type: transfer
    to: "{{ vars.customer.agent }}"
    caller_id: {name: "{{ vars.customer.name }}"}
    answered: bye
    unavailable: bye
  failed: {type: hangup, prompt: {play: failed.wav}}
  bye: {type: hangup}
on:
  error: failed
"""
)
KILL = "${uuid_kill ${uuid}}"
NASTY = "Ann's\r\nevent-lock: false\nexecute-app-name: hangup $5!"


def web(**customer: str) -> Web:
    return Web({"GET /customer": httpx.Response(200, json=customer)})


def sent(ran: Ran, app: str) -> list[Command]:
    return [
        received.command
        for received in ran.record.commands
        if received.command.headers.get("execute-app-name") == app
    ]


def assert_not_executed(ran: Ran) -> None:
    lines = ran.record.command_lines()
    assert not any("uuid_kill" in line for line in lines)
    assert ran.record.hangup_by == "server"
    assert ran.record.hangup_cause == "NORMAL_CLEARING"
    assert [app.name for app in ran.record.apps].count("hangup") == 1


@both_backends
async def test_line_breaks_in_data_stay_inside_one_argument_from_prompt_to_transfer() -> None:
    caller = fast_caller(script=[Press("1", during="play_and_get_digits")])
    ran = await run(FLOW, caller, web=web(name=NASTY, note="50%0A off", agent="user/2000"))
    speak = sent(ran, "speak")[0]
    # The author's ${caller_id_number} goes as written, for FreeSWITCH to expand; the value
    # as it came, in a body (its line breaks cannot start headers).
    text = f"flite|kal|Hello {NASTY}, calling from ${{caller_id_number}}"
    assert list(speak.headers.raw_pairs()) == [
        ("call-command", "execute"),
        ("execute-app-name", "speak"),
        ("event-lock", "true"),
        ("Event-UUID", ran.record.apps[2].event_uuid),
        ("content-type", "text/plain"),
        ("Content-Length", str(len(text.encode()))),
    ]
    assert speak.body == text.encode()
    sets = sent(ran, "set")
    assert [c.body for c in sets[:1]] == [f"nickname={NASTY}".encode()]
    assert sets[1].headers.get("execute-app-arg") == "ivr_note=50%0A off"
    # In play_and_get_digits' file the text is one quoted word: line breaks become spaces,
    # `'` a typographic apostrophe.
    pagd = sent(ran, "play_and_get_digits")[0]
    file = "'say:Ann\u2019s event-lock: false execute-app-name: hangup $5!, press 1'"
    assert pagd.headers.get("execute-app-arg") == (
        f"1 1 1 5000 none {file} silence_stream://250 ivrd_input [0-9*#]+ 3000"
    )
    # The caller ID would break the dial string: refused, the flow's on.error takes over.
    assert ran.outcomes[-2:] == [("transfer", "error", "failed"), ("failed", "hangup", None)]
    assert "bridge" not in [app.name for app in ran.record.apps]
    assert_not_executed(ran)
    ran.assert_clean()


async def test_a_value_that_would_expand_sends_the_step_to_on_error_unsent() -> None:
    ran = await run(FLOW, Caller(), web=web(name=KILL, note="", agent="user/1"))
    greet = ran.step("greet")
    assert (greet.outcome, greet.target) == ("error", "failed")
    assert greet.error == (
        'not allowed in "Hello {{ vars.customer.name }}, calling from ${caller_id_number}": '
        "a value filled in would take part in a FreeSWITCH ${...} expansion "
        "(write FreeSWITCH variables outside {{ }})"
    )
    assert ran.apps == [
        ("multiset", "^^|playback_terminators=none|tts_engine=flite|tts_voice=kal"),
        ("answer", ""),
        ("playback", "failed.wav"),
        ("hangup", "NORMAL_CLEARING"),
    ]
    assert_not_executed(ran)
    ran.assert_clean()


async def test_hangup_hook_values_cannot_inject_either(caplog: pytest.LogCaptureFixture) -> None:
    flow = flow_text(
        """
ivr: 1
name: hook
services:
  crm: {base_url: "https://crm.example"}
start: lookup
steps:
  lookup: {type: http, service: crm, path: /customer, save_as: customer, next: bye, on_error: bye}
  bye: {type: hangup}
on:
  hangup:
    - set:
        cdr:
          ivr_note: "{{ vars.customer.note }}"
          ivr_agent: "{{ vars.customer.agent }}"
          ivr_name: "{{ vars.customer.name }}"
"""
    )
    customer = web(name="Ann", note="a\nuuid_kill x\r\n", agent=KILL)
    with caplog.at_level(logging.WARNING, logger="ivrd.engine"):
        ran = await run(flow, Caller(), web=customer)
    api = [line for line in ran.record.command_lines() if line.startswith("api ")]
    # The value with line breaks is refused, and so is the one FreeSWITCH would keep and
    # expand wherever `${ivr_agent}` is read (a CDR template); the next one still goes out.
    assert api == [f"api uuid_setvar {ran.record.uuid} ivr_name Ann"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("must not contain CR or LF" in message for message in warnings)
    assert (
        'on.hangup action failed: not allowed in "{{ vars.customer.agent }}": a value filled '
        "in would take part in a FreeSWITCH ${...} expansion "
        "(write FreeSWITCH variables outside {{ }})"
    ) in warnings
    assert ran.trace.disposition == "hangup"
