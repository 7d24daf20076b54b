"""Injection: what callers, HTTP services and channel variables put into a flow's values never
reaches FreeSWITCH as an extra header, an extra application, another dial target or a
`${...}` expansion. Each row of ATTEMPTS is one attempt: the value, where the flow puts it,
and either the exact bytes the fake FreeSWITCH received, or the step's refusal and what ran
instead (the flow's `on.error`). docs/operations.md ("Injection") shows the same table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pytest
from trio.testing import MockClock

from ivrd.flow import Flow, load_flow_text
from ivrd.testing import Answered, Caller, Channel, Press

from ._peers import Recorded, frames, record_flow

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """Both backends; trio on a MockClock, where a call's media takes no real time."""
    if request.param == "trio":
        return ("trio", {"clock": MockClock(autojump_threshold=0)})
    return "asyncio"


SAY = '{type: play, prompt: {say: "Hello DATA"}, next: bye}'
SET = '{type: set, channel: {nickname: "DATA"}, next: bye}'
CDR = '{type: set, cdr: {ivr_note: "DATA"}, next: bye}'
TWO_VALUES = '{type: set, channel: {nickname: "DATA{{ vars.customer.more }}"}, next: bye}'
PRICE = '{type: play, prompt: {say: "Total: $DATA"}, next: bye}'
TRANSFER = '{type: transfer, to: "DATA", answered: bye, unavailable: bye}'
CALLER_ID = (
    '{type: transfer, to: user/2000, caller_id: {name: "DATA"}, answered: bye, unavailable: bye}'
)
APP = '{type: app, name: log, arg: "INFO ${caller_id_number} said DATA", next: bye}'
PATH = (
    '{type: http, service: crm, path: "/customers/DATA", save_as: found, next: bye, '
    "on_error: failed}"
)
SOURCES = {
    "http": "{{ vars.customer.value }}",
    "caller name": "{{ call.caller_id_name }}",
    "caller number": "{{ call.caller_id_number }}",
    "keys": "{{ vars.entry }}",
}
EXPANSION = (
    'not allowed in "{where}": a value filled in would take part in a FreeSWITCH ${{...}} '
    "expansion (write FreeSWITCH variables outside {{{{ }}}})"
)
DIAL = "which would break the dial string"
FAILED = [("playback", "failed.wav"), ("hangup", "NORMAL_CLEARING")]


def header(app: str, arg: str) -> bytes:
    """A sendmsg whose argument is a header (one line, no leading space, at most 1 KiB)."""
    return (
        f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\nexecute-app-arg: {arg}\n"
        "event-lock: true\nEvent-UUID: {uuid}\n\n"
    ).encode()


def body(app: str, arg: str) -> bytes:
    """A sendmsg whose argument is a text/plain body, which no line break can leave."""
    data = arg.encode()
    head = (
        f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\nevent-lock: true\n"
        f"Event-UUID: {{uuid}}\ncontent-type: text/plain\nContent-Length: {len(data)}\n\n"
    )
    return head.encode() + data


@dataclass(frozen=True)
class Attempt:
    name: str
    step: str
    value: str
    via: str = "http"
    more: str = ""
    sent: tuple[tuple[str, bytes], ...] = ()
    """What FreeSWITCH received instead: (application, the exact sendmsg with {uuid})."""
    refused: str | None = None
    """The step's error when the value is refused (the flow then goes to on.error)."""
    outcome: str = "error"
    """The refused step's outcome (an `http` step has its own `on_error`)."""
    url: str | None = None
    """For an HTTP step: the URL requested."""
    extra: dict[str, str] = field(default_factory=dict)

    def flow(self) -> Flow:
        step = self.step.replace("DATA", SOURCES[self.via])
        ask = (
            "  ask: {type: ask, prompt: {play: enter.wav}, digits: {min: 4, max: 4}, "
            "end_key: none, save_as: entry, next: attempt, too_many_attempts: failed}\n"
        )
        text = (
            "ivr: 1\nname: attempt\nservices:\n  crm: {base_url: 'https://crm.example'}\n"
            "start: lookup\nsteps:\n"
            "  lookup: {type: http, service: crm, path: /customer, save_as: customer, "
            f"next: {'ask' if self.via == 'keys' else 'attempt'}, on_error: failed}}\n"
            + (ask if self.via == "keys" else "")
            + f"  attempt: {step}\n"
            "  failed: {type: hangup, prompt: {play: failed.wav}}\n"
            "  bye: {type: hangup}\n"
            "on:\n  error: failed\n"
        )
        return load_flow_text(text).require()


def _where(attempt_step: str, via: str = "http") -> str:
    """The template as a refusal quotes it."""
    return attempt_step.replace("DATA", SOURCES[via])


KILL = "${uuid_kill ${uuid}}"
ATTEMPTS = [
    # Line breaks and %0A: a body FreeSWITCH reads whole, or text.
    Attempt(
        "CR LF header into set",
        SET,
        "Ann\r\nexecute-app-name: hangup",
        sent=(("set", body("set", "nickname=Ann\r\nexecute-app-name: hangup")),),
    ),
    Attempt(
        "LF header into speech",
        SAY,
        "Ann\nevent-lock: false",
        sent=(("speak", body("speak", "flite|kal|Hello Ann\nevent-lock: false")),),
    ),
    Attempt(
        "%0A stays text",
        CDR,
        "50%0A off",
        sent=(("set", header("set", "ivr_note=50%0A off")),),
    ),
    Attempt(
        "^^: is multiset's, not set's",
        SET,
        "^^:a=1:b=2",
        sent=(("set", header("set", "nickname=^^:a=1:b=2")),),
    ),
    Attempt("a plain $ stays", SAY, "$5", sent=(("speak", header("speak", "flite|kal|Hello $5")),)),
    # Expansions: refused wherever a value takes part, however it is written.
    Attempt("${api} into set", SET, KILL, refused=EXPANSION.format(where=_where("DATA"))),
    Attempt(
        "$${global} into speech",
        SAY,
        "$${default_password}",
        refused=EXPANSION.format(where=_where("Hello DATA")),
    ),
    Attempt(
        "backslash before ${",
        SET,
        "\\" + KILL,
        refused=EXPANSION.format(where=_where("DATA")),
    ),
    Attempt(
        "\\' joins $ and {",
        SET,
        "$\\'{uuid_kill x}",
        refused=EXPANSION.format(where=_where("DATA")),
    ),
    Attempt(
        "$ and { from two values",
        TWO_VALUES,
        "$",
        more="{uuid_kill x}",
        refused=EXPANSION.format(where=_where("DATA{{ vars.customer.more }}")),
    ),
    Attempt(
        "the author's $ before a value",
        PRICE,
        "{uuid_kill x}",
        refused=EXPANSION.format(where=_where("Total: $DATA")),
    ),
    Attempt(
        "the author's $ before a number",
        PRICE,
        "12",
        sent=(("speak", header("speak", "flite|kal|Total: $12")),),
    ),
    Attempt(
        "SIP caller name into speech",
        SAY,
        KILL,
        via="caller name",
        refused=EXPANSION.format(where=_where("Hello DATA", "caller name")),
    ),
    Attempt(
        "the author's ${var} next to a value",
        APP,
        "hi",
        sent=(("log", header("log", "INFO ${caller_id_number} said hi")),),
    ),
    Attempt(
        "${api} into an app step",
        APP,
        KILL,
        refused=EXPANSION.format(where=_where("INFO ${caller_id_number} said DATA")),
    ),
    Attempt(
        "keys into set", SET, "*#12", via="keys", sent=(("set", header("set", "nickname=*#12")),)
    ),
    # Dial strings: separators and variable blocks are refused.
    *(
        Attempt(
            f"target with {shown}",
            TRANSFER,
            target,
            refused=f"bridge: target {target!r} contains {shown}, {DIAL}",
        )
        for target, shown in [
            ("user/2000,user/666", "','"),
            ("user/2000|sofia/gateway/premium/0900", "'|'"),
            ("user/2000:_:sofia/gateway/premium/0900", "':_:'"),
            ("[leg_timeout=1]user/1", "'[]'"),
            ("<execute_on_answer=x>user/1", "'<>'"),
            ("{execute_on_answer=x}user/1", "'{}'"),
        ]
    ),
    Attempt(
        "caller ID with a comma, quoted",
        CALLER_ID,
        "Doe, John",
        sent=(("bridge", header("bridge", "{origination_caller_id_name='Doe, John'}user/2000")),),
    ),
    Attempt(
        "caller ID with :_:",
        CALLER_ID,
        "a:_:sofia/gateway/premium/0900",
        refused=f"bridge: the value of origination_caller_id_name contains ':_:', {DIAL}",
    ),
    Attempt(
        "caller ID with a backslash",
        CALLER_ID,
        "Ann\\",
        refused=f"bridge: the value of origination_caller_id_name contains '\\\\', {DIAL}",
    ),
    Attempt(
        "NUL into set",
        SET,
        "Ann\x00hangup",
        refused="application argument must not contain NUL: 'nickname=Ann\\x00hangup'",
    ),
    # An HTTP path: each value one segment.
    Attempt(
        "caller number into a URL path",
        PATH,
        "../admin?x=1#",
        via="caller number",
        url="https://crm.example/customers/..%2Fadmin%3Fx%3D1%23",
    ),
    Attempt(
        "dots into a URL path",
        PATH,
        "..",
        via="caller number",
        refused='GET crm: not allowed in "/customers/{{ call.caller_id_number }}": '
        "a value of only dots would change the URL path",
        outcome="on_error",
    ),
]


def _caller(attempt: Attempt) -> Caller:
    script = [Press(attempt.value, during="play_and_get_digits")] if attempt.via == "keys" else []
    return Caller(
        script=script,
        file_seconds=0.01,
        durations={"speak": 0.01},
        bridge_default=Answered(talk=0.01, ring=0.01),
    )


def _channel(attempt: Attempt) -> Channel:
    if attempt.via == "caller name":
        return Channel(caller_id_name=attempt.value)
    if attempt.via == "caller number":
        return Channel(caller_id_number=attempt.value)
    return Channel()


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=lambda attempt: attempt.name)
async def test_an_attempt_reaches_freeswitch_only_as_data(attempt: Attempt) -> None:
    data = {"value": attempt.value, "more": attempt.more}
    recorded = await record_flow(
        attempt.flow(),
        _caller(attempt),
        web={"GET /customer": httpx.Response(200, json=data)},
        channel=_channel(attempt),
    )
    [step] = [s for s in recorded.trace.steps if s.step == "attempt"]
    apps = [(app.name, app.arg) for app in recorded.record.apps]
    if attempt.refused is not None:
        assert (step.outcome, step.target, step.error) == (
            attempt.outcome,
            "failed",
            attempt.refused,
        )
        assert apps[-2:] == FAILED
    else:
        assert step.outcome != "error", step.error
    for app, expected in attempt.sent:
        [frame] = recorded.frames_of(app)
        event_uuid = _event_uuid(frame)
        assert frame == expected.replace(b"{uuid}", event_uuid)
    if attempt.url is not None:
        assert [str(r.url) for r in recorded.requests][-1] == attempt.url
    _assert_no_smuggling(recorded, attempt)


def _event_uuid(frame: bytes) -> bytes:
    for line in frame.split(b"\n\n")[0].split(b"\n"):
        if line.startswith(b"Event-UUID: "):
            return line[len(b"Event-UUID: ") :]
    raise AssertionError(f"no Event-UUID in {frame!r}")


def _assert_no_smuggling(recorded: Recorded, attempt: Attempt) -> None:
    """Every command is one of ivrd's own, one application each; a refused value is not sent."""
    for frame in frames(recorded.received):
        head = frame.split(b"\n\n")[0].decode()
        line, *headers = head.split("\n")
        names = [h.partition(": ")[0] for h in headers]
        assert len(names) == len(set(names)), f"a header twice: {head!r}"
        if line == "sendmsg":
            assert names.count("execute-app-name") == 1
            assert names[:2] == ["call-command", "execute-app-name"]
    assert not any(v.violations for v in [recorded.record])
    if attempt.refused is not None:
        assert attempt.value.encode() not in recorded.received
