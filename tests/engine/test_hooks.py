"""Hooks: `on.key` interrupting through uuid_break, `on.hangup` exactly once whatever ends the
call, `on.error`, `on.call_longer_than`, and the `max_steps` guard."""

from __future__ import annotations

import anyio
import httpx
import pytest

from ivrd.engine import Trace, run_call
from ivrd.esl import OutboundServer, OutboundSession
from ivrd.testing import Answered, Caller, Channel, FakeFreeSWITCH, OutboundCall, Press

from .harness import Web, flow_text, run

pytestmark = pytest.mark.anyio

HOOKED = """
ivr: 1
name: hooked
services:
  crm: {base_url: "https://crm.example", timeout: 3s}
start: intro
steps:
  intro:
    type: play
    prompt: [{play: intro.wav}, {play: more.wav}]
    next: lookup
  lookup:
    type: http
    service: crm
    path: /customer
    save_as: customer
    next: greet
    on_error: bye
  greet:
    type: play
    prompt: {say: "Hello {{ vars.customer.name }}"}
    next: bye
  operator:
    type: transfer
    to: user/1000
    answered: bye
    unavailable: bye
  sorry: {type: hangup, prompt: {play: sorry.wav}, cause: NORMAL_TEMPORARY_FAILURE}
  bye: {type: hangup, prompt: {play: bye.wav}}
on:
  key: {"*0": {go: operator}}
  hangup:
    - http: {service: crm, method: POST, path: /calls, body: {uuid: "{{ call.uuid }}"}}
  error: sorry
"""
FLOW = flow_text(HOOKED)
SETUP = ("multiset", "^^|playback_terminators=none|tts_engine=flite|tts_voice=kal")


def crm(**customer: str) -> Web:
    return Web({"GET /customer": httpx.Response(200, json=customer)})


def hook_calls(web: Web) -> int:
    return sum(1 for r in web.requests if r.url.path == "/calls")


async def test_hangup_hook_runs_once_after_a_hangup_step_once_the_call_is_gone() -> None:
    web = crm(name="Ann")
    times: list[float] = []

    async def calls(request: httpx.Request) -> httpx.Response:
        times.append(anyio.current_time())
        return httpx.Response(204)

    web.routes["POST /calls"] = calls
    ran = await run(FLOW, Caller(), web=web)
    assert ran.outcomes[-1] == ("bye", "hangup", None)
    assert hook_calls(web) == 1
    assert ran.record.hangup_at is not None
    assert times[0] >= ran.record.hangup_at
    assert ran.record.exit_at is not None
    assert times[0] <= ran.record.exit_at
    assert ran.trace.commands == [f"{SETUP[0]} {SETUP[1]}", "http POST https://crm.example/calls"]
    assert web.bodies()[-1] == {"uuid": ran.record.uuid}


async def test_hangup_hook_runs_once_when_the_caller_hangs_up_mid_request() -> None:
    web = Web()
    holder: list[OutboundCall] = []

    async def slow_customer(request: httpx.Request) -> httpx.Response:
        holder[0].caller_hangup("NORMAL_CLEARING")
        await anyio.sleep(2.5)
        return httpx.Response(200, json={"name": "Ann"})

    async def keep(call: OutboundCall) -> None:
        holder.append(call)

    web.routes["GET /customer"] = slow_customer
    ran = await run(FLOW, Caller(), web=web, during=keep)
    assert ran.outcomes[-1] == ("lookup", "caller_hangup", None)
    assert ran.step("lookup").variables == {}
    assert hook_calls(web) == 1
    assert ran.trace.disposition == "caller_hangup"
    ran.assert_clean()


async def test_a_slow_hangup_hook_is_cut_short() -> None:
    web = crm(name="Ann")

    async def never(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(3600)
        return httpx.Response(204)

    web.routes["POST /calls"] = never
    flow = flow_text(
        HOOKED.replace("method: POST, path: /calls,", "method: POST, path: /calls, timeout: 1h,")
    )
    ran = await run(flow, Caller(), web=web)
    assert ran.record.exit_after_hangup == pytest.approx(10, abs=0.1)
    assert ran.trace.disposition == "hangup"


async def test_hangup_hook_runs_when_the_server_stops_the_call() -> None:
    """The daemon cancels the call's handler (shutdown): on.hangup still runs, once."""
    server: OutboundServer | None = None
    web = Web()

    async def customer(request: httpx.Request) -> httpx.Response:
        assert server is not None
        server.shutdown(grace=0)
        await anyio.sleep(600)
        return httpx.Response(200, json={"name": "Ann"})

    web.routes["GET /customer"] = customer
    finished: list[Trace | None] = []

    async def handler(session: OutboundSession) -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(web.handle)) as client:
            trace = None
            try:
                trace = await run_call(session, FLOW, http_client=client)
            finally:
                finished.append(trace)

    server = OutboundServer(handler, "127.0.0.1", 0)
    async with anyio.create_task_group() as tasks:
        port = await tasks.start(server.serve)
        with anyio.fail_after(60):
            record = await FakeFreeSWITCH().call("127.0.0.1", port, Caller())
        tasks.cancel_scope.cancel()
    # The handler was cancelled: no trace came back, but on.hangup ran, once.
    assert finished == [None]
    assert hook_calls(web) == 1
    assert record.hangup_cause == "SYSTEM_SHUTDOWN"
    assert record.exit_sent


@pytest.mark.parametrize("hooked", [True, False])
async def test_the_keys_are_stopped_only_for_a_flow_without_key_hooks(hooked: bool) -> None:
    text = HOOKED if hooked else HOOKED.replace('  key: {"*0": {go: operator}}\n', "")
    caller = Caller(script=[Press("*0", during="playback", delay=0.5)], files={"intro.wav": 10})
    ran = await run(flow_text(text), caller, web=crm(name="Ann"))
    lines = [c.command.line for c in ran.record.commands]
    first_app = lines.index("sendmsg")
    if hooked:
        assert "nixevent DTMF" not in lines
        assert ran.step("intro").outcome == "key *0"
    else:
        # Before the first application: no key press costs an event with the channel data.
        assert lines[first_app - 1] == "nixevent DTMF"
        assert ran.record.dtmf  # pressed, and no hook to hear them
        assert ran.step("intro").outcome == "next"
    ran.assert_clean()


async def test_key_hook_breaks_the_prompt_and_skips_the_rest() -> None:
    caller = Caller(script=[Press("*0", during="playback", delay=0.5)], files={"intro.wav": 10})
    ran = await run(FLOW, caller, web=crm(name="Ann"))
    assert ran.apps == [
        SETUP,
        ("answer", ""),
        ("playback", "intro.wav"),
        ("multiset", "^^|continue_on_fail=true|hangup_after_bridge=false"),
        ("bridge", "user/1000"),
        ("playback", "bye.wav"),
        ("hangup", "NORMAL_CLEARING"),
    ]
    assert ran.outcomes[0] == ("intro", "key *0", "operator")
    assert ran.record.apps[2].duration == pytest.approx(0.54, abs=0.03)
    assert ran.record.apps[2].response == "FILE PLAYED"
    uuid_breaks = [c for c in ran.record.command_lines() if c.startswith("api uuid_break")]
    assert uuid_breaks == [f"api uuid_break {ran.record.uuid}"]


async def test_key_hook_when_uuid_break_fails_takes_over_after_the_prompt() -> None:
    fake = FakeFreeSWITCH()
    fake.api_handlers["uuid_break"] = lambda arg: "-ERR no reply\n"
    caller = Caller(script=[Press("*0", during="playback", delay=0.5)], files={"intro.wav": 4})
    ran = await run(FLOW, caller, web=crm(name="Ann"), fake=fake)
    assert ran.outcomes[0] == ("intro", "key *0", "operator")
    assert ran.record.apps[2].duration == pytest.approx(4)
    assert ran.apps[3:5] == [
        ("multiset", "^^|continue_on_fail=true|hangup_after_bridge=false"),
        ("bridge", "user/1000"),
    ]


async def test_template_failing_at_run_time_goes_to_on_error() -> None:
    ran = await run(FLOW, Caller(), web=crm(nickname="Ann"))
    greet = ran.step("greet")
    assert (greet.outcome, greet.target) == ("error", "sorry")
    assert greet.error == "'vars.customer.name' is undefined in \"Hello {{ vars.customer.name }}\""
    assert ran.apps[-2:] == [("playback", "sorry.wav"), ("hangup", "NORMAL_TEMPORARY_FAILURE")]
    assert ran.trace.disposition == "hangup"


async def test_a_failure_without_on_error_ends_the_call_politely() -> None:
    flow = flow_text(HOOKED.replace("  error: sorry\n", ""))
    ran = await run(flow, Caller(), web=crm(nickname="Ann"))
    assert ran.outcomes[-1] == ("greet", "error", None)
    assert ran.apps[-1] == ("hangup", "NORMAL_CLEARING")
    assert ran.trace.disposition == "error"
    assert hook_calls(ran.web) == 1
    ran.assert_clean()


async def test_an_error_in_the_error_route_does_not_loop() -> None:
    flow = flow_text(
        HOOKED.replace(
            "  sorry: {type: hangup, prompt: {play: sorry.wav}, cause: NORMAL_TEMPORARY_FAILURE}",
            "  sorry: {type: play, prompt: {say: 'Sorry {{ vars.customer.name }}'}, next: bye}",
        )
    )
    ran = await run(flow, Caller(), web=crm(nickname="Ann"))
    # The first failure and three more in the error route: the call is ended.
    assert [o[:2] for o in ran.outcomes[-4:]] == [
        ("greet", "error"),
        ("sorry", "error"),
        ("sorry", "error"),
        ("sorry", "error"),
    ]
    assert ran.trace.disposition == "error"
    assert ran.apps[-1] == ("hangup", "NORMAL_CLEARING")


LONG_CALL = """
ivr: 1
name: long-call
start: music
steps:
  music:
    type: play
    prompt: {play: music.wav}
    next: agent
  agent:
    type: transfer
    to: user/1
    answered: bye
    unavailable: bye
  late: {type: hangup, prompt: {play: late.wav}}
  bye: {type: hangup}
on:
  call_longer_than: {after: 30m, go: late}
"""


async def test_call_longer_than_breaks_a_prompt_at_the_time() -> None:
    caller = Caller(files={"music.wav": 3600})
    ran = await run(flow_text(LONG_CALL), caller, fake=FakeFreeSWITCH(frame=0))
    assert ran.outcomes == [("music", "call_longer_than", "late"), ("late", "hangup", None)]
    assert ran.step("music").duration == pytest.approx(1800)
    assert ran.apps == [
        SETUP,
        ("answer", ""),
        ("playback", "music.wav"),
        ("playback", "late.wav"),
        ("hangup", "NORMAL_CLEARING"),
    ]


async def test_call_longer_than_waits_for_a_conversation_to_end() -> None:
    caller = Caller(files={"music.wav": 600}, bridge_default=Answered(talk=3600, ring=1))
    ran = await run(flow_text(LONG_CALL), caller, fake=FakeFreeSWITCH(frame=0))
    assert ran.outcomes == [
        ("music", "next", "agent"),
        ("agent", "call_longer_than", "late"),
        ("late", "hangup", None),
    ]
    assert ran.step("agent").duration == pytest.approx(3601)


LOOP = """
ivr: 1
name: loop
start: count
steps:
  count:
    type: set
    vars: {n: "{{ vars.get('n', '0') | int + 1 }}"}
    next: check
  check:
    type: choose
    branches:
      - if: "vars.n | int > 1000000"
        go: bye
      - else: count
  bye: {type: hangup}
"""


@pytest.mark.parametrize("anyio_backend", ["asyncio"], indirect=True)
async def test_max_steps_stops_a_runaway_loop() -> None:
    ran = await run(flow_text(LOOP), Caller(), max_steps=50)
    assert len(ran.trace.steps) == 50
    assert ran.trace.steps[-1].step == "check"
    assert ran.trace.disposition == "max_steps"
    assert ran.apps == [SETUP, ("hangup", "NORMAL_CLEARING")]
    ran.assert_clean()


@pytest.mark.parametrize("anyio_backend", ["asyncio"], indirect=True)
async def test_max_steps_from_the_flow() -> None:
    flow = flow_text(LOOP.replace("start: count", "defaults: {max_steps: 9}\nstart: count"))
    ran = await run(flow, Caller())
    assert len(ran.trace.steps) == 9
    assert ran.trace.disposition == "max_steps"


async def test_channel_data_reaches_templates() -> None:
    flow = flow_text(
        "ivr: 1\nname: cid\nstart: hi\nsteps:\n"
        "  hi: {type: play, prompt: {say: 'Hi {{ call.caller_id_number }} on "
        "{{ call.destination_number }} {{ call.ivr_lang }}'}, next: bye}\n"
        "  bye: {type: hangup}\n"
    )
    channel = Channel(
        caller_id_number="+4989", destination_number="555", variables={"ivr_lang": "fr"}
    )
    ran = await run(flow, Caller(), channel=channel)
    assert ran.apps[2] == ("speak", "flite|kal|Hi +4989 on 555 fr")


@pytest.mark.parametrize("attempt", range(16))
async def test_keys_pressed_in_the_same_instant_keep_their_order(attempt: int) -> None:
    # `*` and `0` reach the socket in one read: handled one task per event, trio (which
    # shuffles tasks woken together) would see `0*` half of the time.
    caller = Caller(
        script=[Press("*0", during="playback", delay=0.5, interval=0)], files={"intro.wav": 10}
    )
    ran = await run(FLOW, caller, web=crm(name="Ann"))
    assert ran.outcomes[0] == ("intro", "key *0", "operator")
