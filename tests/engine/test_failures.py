"""When things go wrong: an application FreeSWITCH does not know, FreeSWITCH answering -ERR,
the socket dropping mid-application. Every call still ends cleanly, with a trace, `on.hangup`
once, and `exit` when the socket is still there."""

from __future__ import annotations

import logging

import httpx
import pytest

from ivrd.testing import Caller, FakeFreeSWITCH, OutboundCall

from .harness import Web, app_running, both_backends, fast_caller, flow_text, run

pytestmark = pytest.mark.anyio

FLOW = flow_text(
    """
ivr: 1
name: failing
services:
  crm: {base_url: "https://crm.example"}
start: intro
steps:
  intro:
    type: play
    prompt: {play: intro.wav}
    next: expert
  expert:
    type: app
    name: no_such_app
    arg: "x"
    next: bye
  bye: {type: hangup}
on:
  hangup:
    - http: {service: crm, method: POST, path: /calls, body: {uuid: "{{ call.uuid }}"}}
    - set: {cdr: {ivr_result: done}}
"""
)
SETUP = ("multiset", "^^|playback_terminators=none|tts_engine=flite|tts_voice=kal")


def hook_web() -> Web:
    return Web({"POST /calls": httpx.Response(204)})


@both_backends
async def test_unknown_application_freeswitch_hangs_up_and_the_call_ends_cleanly() -> None:
    web = hook_web()
    ran = await run(FLOW, fast_caller(), web=web)
    assert ran.apps == [SETUP, ("answer", ""), ("playback", "intro.wav"), ("no_such_app", "x")]
    assert ran.outcomes == [("intro", "next", "expert"), ("expert", "caller_hangup", None)]
    assert ran.trace.disposition == "caller_hangup"
    assert ran.trace.hangup_cause == "DESTINATION_OUT_OF_ORDER"
    assert ran.record.hangup_by == "switch"
    assert [v.kind for v in ran.record.violations] == ["unknown-application"]
    assert ran.record.exit_sent
    assert web.seen() == ["POST https://crm.example/calls"]


async def test_socket_dropped_mid_application() -> None:
    web = hook_web()

    async def drop(call: OutboundCall) -> None:
        await app_running(call, "playback")
        assert call.listener is not None
        call.listener.stop()

    ran = await run(FLOW, Caller(files={"intro.wav": 30}), web=web, during=drop)
    assert ran.trace.disposition == "disconnected"
    assert ran.outcomes == [("intro", "disconnected", None)]
    assert ran.trace.hangup_cause is None
    # on.hangup still tells the CRM; setting the CDR field fails without a socket.
    assert web.seen() == ["POST https://crm.example/calls"]
    assert not ran.record.exit_sent


async def test_freeswitch_refusing_an_api_command_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeFreeSWITCH()
    fake.api_handlers["uuid_setvar"] = lambda arg: "-ERR no such variable\n"
    flow = flow_text(
        "ivr: 1\nname: cdr\nstart: bye\nsteps:\n  bye: {type: hangup}\n"
        "on:\n  hangup:\n    - set: {cdr: {ivr_result: done}}\n"
    )
    with caplog.at_level(logging.WARNING, logger="ivrd.engine"):
        ran = await run(flow, Caller(), fake=fake)
    assert ran.trace.commands[-1] == "uuid_setvar ivr_result done"
    assert any(
        record.getMessage()
        == f"on.hangup action failed: api uuid_setvar {ran.record.uuid} ivr_result done: "
        "-ERR no such variable"
        for record in caplog.records
    )
    assert ran.trace.disposition == "hangup"
    ran.assert_clean()
