"""Data from callers and HTTP services never becomes FreeSWITCH syntax: `${...}` reaches
FreeSWITCH escaped (`\\${`), CR/LF travel in a body and never start a header, `%0A` stays
text, and what would break a dial string or a multiset is refused (`on.error`)."""

from __future__ import annotations

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
    prompt: {say: "Hello {{ vars.customer.name }}"}
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
NASTY = f"{KILL}\r\nevent-lock: false\nexecute-app-name: hangup %0Ax"


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
async def test_http_data_reaches_freeswitch_escaped_and_in_a_body() -> None:
    caller = fast_caller(script=[Press("1", during="play_and_get_digits")])
    ran = await run(FLOW, caller, web=web(name=NASTY, note="50%0A off", agent="user/2000"))
    escaped = NASTY.replace("$", "\\$")
    speak = sent(ran, "speak")[0]
    assert speak.line == "sendmsg"
    assert list(speak.headers.raw_pairs()) == [
        ("call-command", "execute"),
        ("execute-app-name", "speak"),
        ("event-lock", "true"),
        ("Event-UUID", ran.record.apps[2].event_uuid),
        ("content-type", "text/plain"),
        ("Content-Length", str(len(f"flite|kal|Hello {escaped}".encode()))),
    ]
    assert speak.body == f"flite|kal|Hello {escaped}".encode()
    sets = sent(ran, "set")
    assert [c.body for c in sets[:1]] == [f"nickname={escaped}".encode()]
    # `%0A` is text: a header value as written, never decoded into a line break.
    note = sets[1]
    assert note.headers.get("execute-app-arg") == "ivr_note=50%0A off"
    assert [name for name, _ in note.headers.raw_pairs()] == [
        "call-command",
        "execute-app-name",
        "execute-app-arg",
        "event-lock",
        "Event-UUID",
    ]
    # In play_and_get_digits' file the text is one quoted word: line breaks become spaces.
    pagd = sent(ran, "play_and_get_digits")[0]
    file = "'say:" + " ".join(escaped.split()) + ", press 1'"
    assert pagd.headers.get("execute-app-arg") == (
        f"1 1 1 5000 none {file} silence_stream://250 ivrd_input [0-9*#]+ 3000"
    )
    # The caller ID would break the dial string: refused, the flow's on.error takes over.
    assert ran.outcomes[-2:] == [("transfer", "error", "failed"), ("failed", "hangup", None)]
    assert "bridge" not in [app.name for app in ran.record.apps]
    assert_not_executed(ran)
    ran.assert_clean()


@pytest.mark.parametrize(
    "agent",
    [
        "user/2000,user/666",
        "user/2000|sofia/gateway/premium/0900",
        "{execute_on_answer=x}user/1",
        KILL,
    ],
)
async def test_a_target_from_http_data_cannot_extend_the_dial_string(agent: str) -> None:
    ran = await run(
        FLOW,
        Caller(script=[Press("1", during="play_and_get_digits")]),
        web=web(name="Ann", note="", agent=agent),
    )
    transfer = ran.step("transfer")
    assert (transfer.outcome, transfer.target) == ("error", "failed")
    assert "which would break the dial string" in (transfer.error or "")
    assert "bridge" not in [app.name for app in ran.record.apps]
    assert_not_executed(ran)


async def test_caller_keys_are_data_too() -> None:
    flow = flow_text(
        """
ivr: 1
name: keys
start: ask
steps:
  ask:
    type: ask
    prompt: {play: enter.wav}
    digits: {min: 1, max: 10}
    end_key: none
    save_as: entry
    next: store
    too_many_attempts: bye
  store:
    type: set
    channel: {entry: "{{ vars.entry }}"}
    next: bye
  bye: {type: hangup}
"""
    )
    ran = await run(flow, Caller(script=[Press("*#12", during="play_and_get_digits")]))
    assert ran.apps[-2:] == [("set", "entry=*#12"), ("hangup", "NORMAL_CLEARING")]
    assert ran.record.variables["entry"] == "*#12"


async def test_a_nul_character_cannot_be_sent_and_goes_to_on_error() -> None:
    ran = await run(FLOW, Caller(), web=web(name="Ann\x00hangup", note="", agent="user/1"))
    greet = ran.step("greet")
    assert (greet.outcome, greet.target) == ("error", "failed")
    assert "NUL" in (greet.error or "")
    assert ran.apps == [
        ("multiset", "^^|playback_terminators=none|tts_engine=flite|tts_voice=kal"),
        ("answer", ""),
        ("playback", "failed.wav"),
        ("hangup", "NORMAL_CLEARING"),
    ]
    assert_not_executed(ran)


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
    - set: {cdr: {ivr_note: "{{ vars.customer.note }}", ivr_name: "{{ vars.customer.name }}"}}
"""
    )
    ran = await run(flow, Caller(), web=web(name="Ann", note="a\nuuid_kill x\r\n"))
    api = [line for line in ran.record.command_lines() if line.startswith("api ")]
    # The value with line breaks is refused (logged); the next one still goes out.
    assert api == [f"api uuid_setvar {ran.record.uuid} ivr_name Ann"]
    assert any("must not contain CR or LF" in r.getMessage() for r in caplog.records)
    assert ran.trace.disposition == "hangup"
