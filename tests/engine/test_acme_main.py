"""Every path of the company main line (flows/acme-main.yaml), end to end: the exact
applications FreeSWITCH was asked to run, in order, and the trace the engine wrote."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import anyio
import httpx
import pytest

from ivrd.testing import (
    Answered,
    Busy,
    Caller,
    HangUp,
    NoAnswer,
    OutboundCall,
    Press,
    Silence,
    Step,
)

from .harness import (
    CALLER_NUMBER,
    CLOSED,
    HOLIDAY,
    MASK,
    OPEN,
    Ran,
    Web,
    both_backends,
    example,
    fast_caller,
    refused,
    run,
    slow,
)

pytestmark = pytest.mark.anyio

FLOW = example("acme-main.yaml")
ACCOUNT = "12345678"
LOOKUP = f"GET /api/v2/accounts/{ACCOUNT}"
LOOKUP_URL = f"https://crm.acme.example/api/v2/accounts/{MASK}?fields=first_name%2Cvip"
PAGD = "play_and_get_digits"
MENU = "1 1 1 5000 none {} silence_stream://250 ivrd_input [0-9*#]+ 3000"
ASK_ACCOUNT = (
    PAGD,
    "6 8 1 5000 # 'say:Please enter your account number, followed by the hash key.' "
    "silence_stream://250 ivrd_input [0-9*#]+ 3000",
)

SETUP = ("multiset", "^^|playback_terminators=none|tts_engine=flite|tts_voice=kal")
ANSWER = ("answer", "")
WELCOME = ("playback", "ivr/acme/en/welcome.wav")
LANGUAGE_MENU = (
    PAGD,
    MENU.format(
        "file_string://ivr/acme/en/for_english_press_1.wav!ivr/acme/de/fuer_deutsch_die_2.wav"
    ),
)
ENGLISH = [("set", "ivr_language=en"), ("set", "language=en")]
GERMAN = [("set", "ivr_language=de"), ("set", "language=de")]
MAIN_MENU = (PAGD, MENU.format("ivr/acme/en/main_menu.wav"))
MAIN_MENU_DE = (
    PAGD,
    MENU.format(
        "'say:Für den Vertrieb drücken Sie die 1, für den Support die 2, für Rechnungen die 3. "
        "Zur Sprachauswahl die 9.'"
    ),
)
SORRY_NO_INPUT = ("playback", "ivr/acme/en/sorry_no_input.wav")
SORRY_INVALID = ("playback", "ivr/acme/en/sorry_invalid.wav")
ACCOUNT_INVALID = ("speak", "flite|kal|An account number has six to eight digits.")
BRIDGE_SETUP = ("multiset", "^^|continue_on_fail=true|hangup_after_bridge=false")
OPERATOR = [BRIDGE_SETUP, ("bridge", "{originate_timeout=25}user/1000")]
PLEASE_HOLD = ("phrase", "please_hold")
VOICEMAIL = ("voicemail", "default $${domain} 100")
GOODBYE = [("playback", "ivr/acme/en/goodbye.wav"), ("hangup", "NORMAL_CLEARING")]
TO_MAIN_MENU = [SETUP, ANSWER, WELCOME, LANGUAGE_MENU, *ENGLISH, MAIN_MENU]
TO_ACCOUNT = [*TO_MAIN_MENU, ASK_ACCOUNT]


def support(queue: str, targets: Sequence[str] = ("user/2001",)) -> list[tuple[str, str]]:
    """The support transfer: please hold, then one bridge per target tried."""
    caller_id = (
        f"origination_caller_id_name='Acme {queue}',origination_caller_id_number={CALLER_NUMBER}"
    )
    return [
        PLEASE_HOLD,
        BRIDGE_SETUP,
        *[("bridge", f"{{originate_timeout=20,{caller_id}}}{target}") for target in targets],
    ]


RECORD_FOR_QUALITY = ("record_session", "/var/lib/freeswitch/recordings/{uuid}.wav")


def keys(*entries: str | None) -> list[Press | Silence]:
    """One script step per play_and_get_digits: the keys pressed, or None for silence."""
    return [
        Silence(during=PAGD) if entry is None else Press(entry, during=PAGD) for entry in entries
    ]


def crm(status: int = 200, **customer: object) -> Web:
    return Web({LOOKUP: httpx.Response(status, json=customer)})


def assert_hangup_hook(ran: Ran, account: str = "") -> None:
    """on.hangup told the CRM (once, last) and set the CDR field."""
    last = ran.web.requests[-1]
    assert f"{last.method} {last.url}" == "POST https://crm.acme.example/api/v2/calls"
    assert ran.web.bodies()[-1] == {"uuid": ran.record.uuid, "account": account}
    assert last.headers["authorization"] == "Bearer crm-secret-token"
    assert ran.trace.commands[-2:] == [
        "http POST https://crm.acme.example/api/v2/calls",
        "uuid_setvar ivr_flow acme-main",
    ]
    # Set on the hung-up channel, which FreeSWITCH keeps (linger) until we send `exit`.
    assert ran.record.variables["ivr_flow"] == "acme-main"


# -- business hours ----------------------------------------------------------------------------


async def test_closed_records_a_callback_and_opens_a_ticket() -> None:
    web = Web({"POST /api/v2/callbacks": httpx.Response(201, json={"ticket": 7})})
    ran = await run(FLOW, Caller(), web=web, now=CLOSED)
    uuid = ran.record.uuid
    recording = f"/var/lib/ivrd/callbacks/{uuid}.wav"
    assert ran.apps == [
        SETUP,
        ANSWER,
        ("playback", "ivr/acme/en/closed.wav"),
        (
            "speak",
            "flite|kal|Please say your name and number after the tone, and we will call you back.",
        ),
        ("playback", "tone_stream://%(250,0,800)"),
        ("set", "playback_terminators=#"),
        ("record", f"{recording} 60 200 5"),
        ("set", "playback_terminators=none"),
        ("speak", "flite|kal|Thank you. We will call you back on the next business day."),
        ("hangup", "NORMAL_CLEARING"),
    ]
    assert ran.outcomes == [
        ("hours", "closed", "closed_message"),
        ("closed_message", "next", "callback_recording"),
        ("callback_recording", "next", "callback_ticket"),
        ("callback_ticket", "next", "callback_thanks"),
        ("callback_thanks", "hangup", None),
    ]
    assert ran.step("callback_recording").variables == {"callback_file": recording}
    assert web.bodies()[0] == {"caller": CALLER_NUMBER, "recording": recording, "language": "en"}
    assert ran.trace.disposition == "hangup"
    assert ran.record.hangup_by == "server"
    assert_hangup_hook(ran)
    ran.assert_clean()


async def test_closed_with_the_crm_down_still_thanks_the_caller() -> None:
    web = Web({"POST /api/v2/callbacks": refused})
    ran = await run(FLOW, Caller(), web=web, now=CLOSED)
    assert ran.outcomes[3] == ("callback_ticket", "on_error", "callback_thanks")
    assert ran.step("callback_ticket").error == (
        "POST https://crm.acme.example/api/v2/callbacks: ConnectError: "
        "[Errno 111] Connection refused"
    )
    assert ran.apps[-2:] == [
        ("speak", "flite|kal|Thank you. We will call you back on the next business day."),
        ("hangup", "NORMAL_CLEARING"),
    ]


async def test_holiday() -> None:
    ran = await run(FLOW, Caller(), now=HOLIDAY)
    assert ran.apps == [
        SETUP,
        ANSWER,
        (
            "speak",
            "flite|kal|Acme is closed today for a public holiday. Please call again tomorrow.",
        ),
        ("hangup", "NORMAL_CLEARING"),
    ]
    assert ran.outcomes == [
        ("hours", "holiday", "holiday_message"),
        ("holiday_message", "hangup", None),
    ]
    assert ran.trace.disposition == "hangup"
    assert ran.trace.hangup_cause == "NORMAL_CLEARING"
    assert_hangup_hook(ran)
    ran.assert_clean()


# -- the language menu -------------------------------------------------------------------------


@both_backends
async def test_english_then_operator() -> None:
    ran = await run(FLOW, fast_caller(script=keys("1", "0"), bridge_default=Answered(0.01, 0.01)))
    assert ran.apps == [*TO_MAIN_MENU, *OPERATOR, *GOODBYE]
    assert ran.outcomes == [
        ("hours", "open", "welcome"),
        ("welcome", "next", "choose_language"),
        ("choose_language", "1", "english"),
        ("english", "next", "main_menu"),
        ("main_menu", "0", "operator"),
        ("operator", "answered", "goodbye"),
        ("goodbye", "hangup", None),
    ]
    assert ran.trace.disposition == "hangup"
    assert_hangup_hook(ran)
    ran.assert_clean()


@both_backends
async def test_german_speaks_the_menu_and_switches_the_language() -> None:
    ran = await run(FLOW, fast_caller(script=keys("2", "0"), bridge_default=Answered(0.01, 0.01)))
    assert ran.apps == [
        SETUP,
        ANSWER,
        WELCOME,
        LANGUAGE_MENU,
        *GERMAN,
        MAIN_MENU_DE,
        *OPERATOR,
        ("playback", "ivr/acme/de/goodbye.wav"),
        ("hangup", "NORMAL_CLEARING"),
    ]
    assert ran.outcomes[2:4] == [
        ("choose_language", "2", "german"),
        ("german", "next", "main_menu"),
    ]
    assert ran.record.variables["ivr_language"] == "de"


async def test_silence_at_the_language_menu_means_english() -> None:
    ran = await run(FLOW, Caller(script=keys(None, "0")))
    assert ran.apps == [*TO_MAIN_MENU, *OPERATOR, *GOODBYE]
    assert ran.outcomes[2] == ("choose_language", "no_input", "english")
    # One try, FreeSWITCH's own invalid file is silence: 1 s of prompt, 5 s, 250 ms.
    pagd = ran.record.apps[3]
    assert pagd.duration == pytest.approx(1 + 5 + 0.25)


async def test_wrong_keys_at_the_language_menu_three_times_mean_english() -> None:
    ran = await run(FLOW, Caller(script=keys("5", "7", "#", "0")))
    assert ran.apps == [
        SETUP,
        ANSWER,
        WELCOME,
        LANGUAGE_MENU,
        SORRY_INVALID,
        LANGUAGE_MENU,
        SORRY_INVALID,
        LANGUAGE_MENU,
        *ENGLISH,
        MAIN_MENU,
        *OPERATOR,
        *GOODBYE,
    ]
    assert ran.outcomes[2] == ("choose_language", "too_many_attempts", "english")


# -- the main menu -----------------------------------------------------------------------------


async def test_main_menu_nine_goes_back_to_the_language_menu() -> None:
    ran = await run(FLOW, Caller(script=keys("1", "9", "2", "0")))
    assert ran.apps == [
        *TO_MAIN_MENU,
        LANGUAGE_MENU,
        *GERMAN,
        MAIN_MENU_DE,
        *OPERATOR,
        ("playback", "ivr/acme/de/goodbye.wav"),
        ("hangup", "NORMAL_CLEARING"),
    ]
    assert [o[:2] for o in ran.outcomes[4:7]] == [
        ("main_menu", "9"),
        ("choose_language", "2"),
        ("german", "next"),
    ]


async def test_main_menu_one_queues_for_sales() -> None:
    ran = await run(FLOW, Caller(script=keys("1", "1")))
    # The fake's mod_callcenter has no queue `sales@default`: `callcenter` returns at once,
    # setting no `cc_*` variable (so they are cleared first).
    reset = ("multiset", "^^|cc_cause=|cc_cancel_reason=")
    callcenter = ("callcenter", "sales@default")
    assert ran.apps == [*TO_MAIN_MENU, PLEASE_HOLD, reset, callcenter, VOICEMAIL]
    assert ran.outcomes[-3:] == [
        ("main_menu", "1", "sales"),
        ("sales", "unavailable", "voicemail"),
        ("voicemail", "caller_hangup", None),
    ]


async def test_main_menu_silence_then_wrong_key_then_support() -> None:
    web = crm(200, first_name="Bo", vip=False)
    script = [*keys("1", None, "7", "2", f"{ACCOUNT}#")]
    ran = await run(FLOW, Caller(script=script), web=web)
    uuid = ran.record.uuid
    assert ran.apps == [
        *TO_MAIN_MENU,
        SORRY_NO_INPUT,
        MAIN_MENU,
        SORRY_INVALID,
        MAIN_MENU,
        ASK_ACCOUNT,
        (RECORD_FOR_QUALITY[0], RECORD_FOR_QUALITY[1].format(uuid=uuid)),
        *support("support"),
        *GOODBYE,
    ]
    menu = ran.step("main_menu")
    assert (menu.outcome, menu.target) == ("2", "account")
    assert menu.variables == {"queue": "support"}
    assert ran.outcomes[5:] == [
        ("account", "next", "lookup"),
        ("lookup", "next (else)", "record_for_quality"),
        ("record_for_quality", "next", "support"),
        ("support", "answered", "goodbye"),
        ("goodbye", "hangup", None),
    ]
    assert_hangup_hook(ran, ACCOUNT)


async def test_main_menu_three_is_billing() -> None:
    ran = await run(FLOW, Caller(script=keys("1", "3", f"{ACCOUNT}#")), web=crm(200, vip=False))
    assert ran.step("main_menu").variables == {"queue": "billing"}
    assert ran.apps[-5:] == [*support("billing"), *GOODBYE]


async def test_main_menu_silence_three_times_goes_to_the_operator() -> None:
    ran = await run(FLOW, Caller(script=keys("1", None, None, None)))
    assert ran.apps == [
        *TO_MAIN_MENU,
        SORRY_NO_INPUT,
        MAIN_MENU,
        SORRY_NO_INPUT,
        MAIN_MENU,
        *OPERATOR,
        *GOODBYE,
    ]
    assert ran.outcomes[4] == ("main_menu", "too_many_attempts", "operator")


async def test_main_menu_wrong_keys_three_times_goes_to_the_operator() -> None:
    ran = await run(FLOW, Caller(script=keys("1", "4", "#", "8")))
    assert ran.apps == [
        *TO_MAIN_MENU,
        SORRY_INVALID,
        MAIN_MENU,
        SORRY_INVALID,
        MAIN_MENU,
        *OPERATOR,
        *GOODBYE,
    ]
    assert ran.outcomes[4] == ("main_menu", "too_many_attempts", "operator")


# -- account entry and the CRM -----------------------------------------------------------------


def record_session(ran: Ran) -> tuple[str, str]:
    return (RECORD_FOR_QUALITY[0], RECORD_FOR_QUALITY[1].format(uuid=ran.record.uuid))


VIP_DESK = [BRIDGE_SETUP, ("bridge", "{originate_timeout=30}user/1100")]


@both_backends
async def test_vip_is_greeted_by_name_and_put_through_to_the_vip_desk() -> None:
    web = crm(200, first_name="Ann", vip=True)
    caller = fast_caller(script=keys("1", "2", f"{ACCOUNT}#"), bridge_default=Answered(0.01, 0.01))
    ran = await run(FLOW, caller, web=web)
    assert ran.apps == [
        *TO_ACCOUNT,
        ("speak", "flite|kal|Welcome back, Ann. Connecting you to your account manager."),
        *VIP_DESK,
        *GOODBYE,
    ]
    assert ran.outcomes[5:] == [
        ("account", "next", "lookup"),
        ("lookup", "next (result.status == 200 and vars.customer.vip)", "vip"),
        ("vip", "next", "vip_desk"),
        ("vip_desk", "answered", "goodbye"),
        ("goodbye", "hangup", None),
    ]
    assert web.seen()[0] == (
        f"GET https://crm.acme.example/api/v2/accounts/{ACCOUNT}?fields=first_name%2Cvip"
    )
    assert web.requests[0].headers["authorization"] == "Bearer crm-secret-token"
    # The account number is sensitive: masked wherever it shows in the trace.
    assert ran.step("account").variables == {"account": MASK}
    assert ran.step("lookup").commands == [f"http GET {LOOKUP_URL}"]
    assert ran.step("lookup").variables == {"customer": {"first_name": "Ann", "vip": True}}
    assert ACCOUNT not in str(ran.trace.as_dict())
    assert_hangup_hook(ran, ACCOUNT)
    ran.assert_clean()


async def test_vip_desk_unavailable_falls_back_to_support() -> None:
    web = crm(200, first_name="Ann", vip=True)
    caller = Caller(
        script=keys("1", "2", f"{ACCOUNT}#"),
        bridge={"user/1100": Busy(), "user/2001": Answered()},
    )
    ran = await run(FLOW, caller, web=web)
    assert ran.apps[len(TO_ACCOUNT) + 1 :] == [
        *VIP_DESK,
        record_session(ran),
        *support("support"),
        *GOODBYE,
    ]
    assert ran.outcomes[8:10] == [
        ("vip_desk", "busy", "record_for_quality"),
        ("record_for_quality", "next", "support"),
    ]


async def test_unknown_account_is_read_back_and_asked_again() -> None:
    web = crm(404, error="no such account")
    script = keys("1", "2", "87654321#", f"{ACCOUNT}#")
    web.routes[f"GET /api/v2/accounts/{ACCOUNT}"] = httpx.Response(200, json={"vip": False})
    ran = await run(FLOW, Caller(script=script), web=web)
    assert ran.apps == [
        *TO_ACCOUNT,
        ("speak", "flite|kal|We could not find the account"),
        ("say", "en number iterated 87654321"),
        ASK_ACCOUNT,
        record_session(ran),
        *support("support"),
        *GOODBYE,
    ]
    assert [o[:2] for o in ran.outcomes[5:10]] == [
        ("account", "next"),
        ("lookup", "next (result.status == 404)"),
        ("account_unknown", "next"),
        ("account", "next"),
        ("lookup", "next (else)"),
    ]


async def test_account_too_short_and_wrong_keys_get_their_own_prompt() -> None:
    web = crm(200, vip=False)
    script = keys("1", "2", "123#", None, "12*45678#", f"{ACCOUNT}#")
    caller = Caller(script=script)
    ran = await run(FLOW, caller, web=web)
    # Three attempts: too short (invalid), silence (no_input), then `*` (fails must_match).
    assert ran.apps == [
        *TO_ACCOUNT,
        ACCOUNT_INVALID,
        ASK_ACCOUNT,
        SORRY_NO_INPUT,
        ASK_ACCOUNT,
        *OPERATOR,
        *GOODBYE,
    ]
    assert ran.outcomes[5] == ("account", "too_many_attempts", "operator")
    assert ran.outcomes[6][0] == "operator"


async def test_account_accepted_on_the_third_attempt() -> None:
    web = crm(200, vip=False)
    ran = await run(FLOW, Caller(script=keys("1", "2", None, "99#", f"{ACCOUNT}#")), web=web)
    assert ran.apps[: len(TO_ACCOUNT) + 4] == [
        *TO_ACCOUNT,
        SORRY_NO_INPUT,
        ASK_ACCOUNT,
        ACCOUNT_INVALID,
        ASK_ACCOUNT,
    ]
    assert ran.outcomes[5] == ("account", "next", "lookup")


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(refused, id="refused"),
        pytest.param(slow(10, httpx.Response(200, json={"vip": True})), id="timeout"),
    ],
)
async def test_crm_down_still_gets_the_caller_to_support(reply: object) -> None:
    web = Web({LOOKUP: reply})  # type: ignore[dict-item]
    ran = await run(FLOW, Caller(script=keys("1", "2", f"{ACCOUNT}#")), web=web)
    assert ran.apps == [*TO_ACCOUNT, record_session(ran), *support("support"), *GOODBYE]
    lookup = ran.step("lookup")
    assert (lookup.outcome, lookup.target) == ("on_error", "record_for_quality")
    assert lookup.variables == {}
    if reply is refused:
        assert lookup.error == f"GET {LOOKUP_URL}: ConnectError: [Errno 111] Connection refused"
        assert lookup.duration == 0
    else:
        assert lookup.error == f"GET {LOOKUP_URL}: no response within 2s"
        # The service's timeout bounds the whole request.
        assert lookup.duration == pytest.approx(2)


# -- transfers ---------------------------------------------------------------------------------


async def test_support_first_agent_busy_second_answers() -> None:
    caller = Caller(
        script=keys("1", "2", f"{ACCOUNT}#"),
        bridge={"user/2001": Busy(), "user/2002": Answered(talk=60)},
    )
    ran = await run(FLOW, caller, web=crm(200, vip=False))
    assert ran.apps[len(TO_ACCOUNT) + 1 :] == [
        *support("support", ["user/2001", "user/2002"]),
        *GOODBYE,
    ]
    assert ran.outcomes[-2] == ("support", "answered", "goodbye")
    # The completion of the second bridge still carries USER_BUSY from the first.
    assert ran.record.variables["originate_failed_cause"] == "USER_BUSY"


@pytest.mark.parametrize(
    ("first", "second", "outcome"),
    [
        (Busy(), Busy(), "busy"),
        (Busy(), NoAnswer(), "no_answer"),
        (NoAnswer(), NoAnswer(), "no_answer"),
    ],
)
async def test_support_nobody_answers_goes_to_voicemail(
    first: object, second: object, outcome: str
) -> None:
    caller = Caller(
        script=keys("1", "2", f"{ACCOUNT}#"),
        bridge={"user/2001": first, "user/2002": second},  # type: ignore[dict-item]
        hangup_after_voicemail=False,
    )
    ran = await run(FLOW, caller, web=crm(200, vip=False))
    assert ran.apps[len(TO_ACCOUNT) + 1 :] == [
        *support("support", ["user/2001", "user/2002"]),
        VOICEMAIL,
        *GOODBYE,
    ]
    assert ran.outcomes[-3:] == [
        ("support", outcome, "voicemail"),
        ("voicemail", "next", "goodbye"),
        ("goodbye", "hangup", None),
    ]


async def test_operator_rings_for_25_seconds_then_voicemail_where_the_caller_hangs_up() -> None:
    ran = await run(FLOW, Caller(script=keys("1", "0"), bridge={"user/1000": NoAnswer()}))
    assert ran.apps == [*TO_MAIN_MENU, *OPERATOR, VOICEMAIL]
    assert ran.outcomes[-2:] == [
        ("operator", "no_answer", "voicemail"),
        ("voicemail", "caller_hangup", None),
    ]
    operator = ran.step("operator")
    assert operator.duration == pytest.approx(25, abs=0.05)
    assert ran.trace.disposition == "caller_hangup"
    assert ran.record.hangup_by == "caller"
    assert_hangup_hook(ran)
    ran.assert_clean()


async def test_caller_hangs_up_while_talking_to_the_operator() -> None:
    caller = Caller(
        script=[*keys("1", "0"), HangUp(during="bridge", delay=5)],
        bridge={"user/1000": Answered(talk=60, ring=2)},
    )
    ran = await run(FLOW, caller)
    assert ran.apps == [*TO_MAIN_MENU, *OPERATOR]
    assert ran.outcomes[-1] == ("operator", "caller_hangup", None)
    assert ran.step("operator").duration == pytest.approx(5, abs=0.05)
    assert ran.trace.disposition == "caller_hangup"
    assert_hangup_hook(ran)
    ran.assert_clean()


# -- the caller hangs up, wherever they are ----------------------------------------------------


class Holder:
    call: OutboundCall | None = None

    async def keep(self, call: OutboundCall) -> None:
        self.call = call


def hang_up_in_http(holder: Holder, path: str) -> Web:
    async def reply(request: httpx.Request) -> httpx.Response:
        assert holder.call is not None
        holder.call.caller_hangup("NORMAL_CLEARING")
        await anyio.sleep(1)  # still waiting when the call is gone
        return httpx.Response(200, json={"vip": True})

    return Web({path: reply})


VIP_SCRIPT = keys("1", "2", f"{ACCOUNT}#")
HANGUPS: dict[str, tuple[datetime | None, list[Step], list[tuple[str, str]] | None]] = {
    # step: (the time of day, the caller's script, the applications sent or None)
    "welcome": (None, [HangUp(during="playback", delay=0.5)], [SETUP, ANSWER, WELCOME]),
    "choose_language": (
        None,
        [HangUp(during=PAGD, delay=2)],
        [SETUP, ANSWER, WELCOME, LANGUAGE_MENU],
    ),
    "main_menu": (None, [*keys("1"), HangUp(during=PAGD, delay=2)], TO_MAIN_MENU),
    "main_menu_retry": (
        None,
        [*keys("1", "5"), HangUp(during="playback", nth=2, delay=0.5)],
        [*TO_MAIN_MENU, SORRY_INVALID],
    ),
    "account": (None, [*keys("1", "2"), HangUp(during=PAGD, delay=4)], TO_ACCOUNT),
    "vip": (
        None,
        [*VIP_SCRIPT, HangUp(during="speak", delay=1)],
        [
            *TO_ACCOUNT,
            ("speak", "flite|kal|Welcome back, Ann. Connecting you to your account manager."),
        ],
    ),
    "vip_desk": (
        None,
        [*VIP_SCRIPT, HangUp(during="bridge", delay=0.5)],
        [
            *TO_ACCOUNT,
            ("speak", "flite|kal|Welcome back, Ann. Connecting you to your account manager."),
            *VIP_DESK,
        ],
    ),
    "goodbye": (
        None,
        [*keys("1", "0"), HangUp(during="playback", nth=2, delay=0.5)],
        [*TO_MAIN_MENU, *OPERATOR, GOODBYE[0]],
    ),
    "account_unknown": (
        None,
        [*keys("1", "2", "87654321#"), HangUp(during="speak", delay=0.5)],
        [*TO_ACCOUNT, ("speak", "flite|kal|We could not find the account")],
    ),
    "support": (
        None,
        [*keys("1", "2", f"{ACCOUNT}#"), HangUp(during="bridge", delay=3)],
        None,
    ),
    "closed_message": (
        CLOSED,
        [HangUp(during="playback")],
        [SETUP, ANSWER, ("playback", "ivr/acme/en/closed.wav")],
    ),
    "callback_recording": (CLOSED, [HangUp(during="record", delay=2)], None),
    "callback_thanks": (CLOSED, [HangUp(during="speak", nth=2)], None),
    "holiday_message": (HOLIDAY, [HangUp(during="speak")], None),
}


@pytest.mark.parametrize("step", list(HANGUPS))
async def test_caller_hangs_up_in(step: str) -> None:
    when, script, sent = HANGUPS[step]
    web = crm(200, first_name="Ann", vip=step != "support")
    web.routes["GET /api/v2/accounts/87654321"] = httpx.Response(404)
    web.routes["POST /api/v2/callbacks"] = httpx.Response(201)
    ran = await run(FLOW, Caller(script=script), web=web, now=when or OPEN)
    name = step.removesuffix("_retry")
    assert ran.outcomes[-1] == (name, "caller_hangup", None)
    if sent is not None:
        assert ran.apps == sent
    assert ran.trace.disposition == "caller_hangup"
    assert ran.trace.hangup_cause == "NORMAL_CLEARING"
    assert ran.record.hangup_by == "caller"
    # on.hangup ran once, after the call was gone.
    assert [r.url.path for r in web.requests].count("/api/v2/calls") == 1
    accepted = {
        "vip": ACCOUNT,
        "vip_desk": ACCOUNT,
        "support": ACCOUNT,
        "account_unknown": "87654321",
    }
    assert_hangup_hook(ran, accepted.get(step, ""))
    ran.assert_clean()


async def test_caller_hangs_up_at_once() -> None:
    ran = await run(FLOW, Caller(script=[HangUp(after="multiset")]))
    assert ran.trace.disposition == "caller_hangup"
    assert [r.url.path for r in ran.web.requests] == ["/api/v2/calls"]
    assert ran.record.exit_sent
    # The settings are not waited for: `answer` is queued behind them at once, and the flow may
    # get as far as the welcome before the hangup reaches it. A `sendmsg` may cross the hangup
    # on the wire: FreeSWITCH then sees it after the hangup, and the fake notes that.
    assert ran.apps in ([SETUP], [SETUP, ANSWER], [SETUP, ANSWER, WELCOME])
    assert {v.kind for v in ran.record.violations} <= {"after-hangup"}


@pytest.mark.parametrize("path", ["GET /api/v2/accounts/12345678", "POST /api/v2/callbacks"])
async def test_caller_hangs_up_while_the_crm_is_answering(path: str) -> None:
    holder = Holder()
    web = hang_up_in_http(holder, path)
    script = VIP_SCRIPT if path.startswith("GET") else []
    now = OPEN if path.startswith("GET") else CLOSED
    ran = await run(FLOW, Caller(script=script), web=web, now=now, during=holder.keep)
    step = "lookup" if path.startswith("GET") else "callback_ticket"
    assert ran.outcomes[-1] == (step, "caller_hangup", None)
    # The request still waiting was abandoned; on.hangup ran exactly once.
    assert ran.step(step).duration == pytest.approx(0.0, abs=0.05)
    assert [r.url.path for r in web.requests].count("/api/v2/calls") == 1
    assert ran.step(step).variables == {}
    assert ran.trace.disposition == "caller_hangup"
    ran.assert_clean()


# -- `*0` goes to the operator at any time, except during account entry -------------------------

STAR0: dict[str, tuple[list[Step], list[tuple[str, str]]]] = {
    # where: (script, the applications sent before the operator's transfer)
    "welcome": ([Press("*0", during="playback", delay=0.3)], [SETUP, ANSWER, WELCOME]),
    "choose_language": (
        [Press("*0", during=PAGD, delay=0.3)],
        [SETUP, ANSWER, WELCOME, LANGUAGE_MENU],
    ),
    "main_menu": ([*keys("1"), Press("*0", during=PAGD, delay=0.3)], TO_MAIN_MENU),
    "main_menu_retry": (
        [*keys("1", "5"), Press("*0", during="playback", nth=2, delay=0.3)],
        [*TO_MAIN_MENU, SORRY_INVALID],
    ),
    "vip": (
        [*VIP_SCRIPT, Press("*0", during="speak", delay=0.3)],
        [
            *TO_ACCOUNT,
            ("speak", "flite|kal|Welcome back, Ann. Connecting you to your account manager."),
        ],
    ),
    "goodbye": (
        [*keys("1", "0"), Press("*0", during="playback", nth=2, delay=0.3)],
        [*TO_MAIN_MENU, *OPERATOR, GOODBYE[0]],
    ),
}


@pytest.mark.parametrize("where", list(STAR0))
async def test_star_zero_goes_to_the_operator_from(where: str) -> None:
    script, before = STAR0[where]
    ran = await run(FLOW, Caller(script=script), web=crm(200, first_name="Ann", vip=True))
    step = where.removesuffix("_retry")
    assert [o for o in ran.outcomes if o[1] == "key *0"] == [(step, "key *0", "operator")]
    assert ran.outcomes[-2:] == [
        ("operator", "answered", "goodbye"),
        ("goodbye", "hangup", None),
    ]
    assert ran.apps == [*before, *OPERATOR, *GOODBYE]
    # What was playing stopped at once: ivrd broke it (the `*` alone did not).
    interrupted = ran.record.apps[len(ran.apps) - len(OPERATOR) - len(GOODBYE) - 1]
    assert interrupted.duration is not None
    assert interrupted.duration < 0.5
    assert ran.trace.disposition == "hangup"
    ran.assert_clean()


async def test_star_zero_during_account_entry_is_an_ordinary_wrong_entry() -> None:
    web = crm(200, vip=False)
    script = [*keys("1", "2", "*0#", f"{ACCOUNT}#")]
    ran = await run(FLOW, Caller(script=script), web=web)
    assert ran.apps[: len(TO_ACCOUNT) + 2] == [*TO_ACCOUNT, ACCOUNT_INVALID, ASK_ACCOUNT]
    assert ran.outcomes[5] == ("account", "next", "lookup")
    assert "operator" not in ran.trace.path


async def test_star_zero_during_the_crm_lookup_takes_over_when_it_answers() -> None:
    web = Web({LOOKUP: slow(1.5, httpx.Response(200, json={"vip": True, "first_name": "Ann"}))})
    script = [*VIP_SCRIPT, Press("*0", after=PAGD, nth=3, delay=0.5)]
    ran = await run(FLOW, Caller(script=script), web=web)
    lookup = ran.step("lookup")
    assert (lookup.outcome, lookup.target) == ("key *0", "operator")
    assert lookup.duration == pytest.approx(1.5)
    assert ran.apps == [*TO_ACCOUNT, *OPERATOR, *GOODBYE]


async def test_star_zero_while_bridged_belongs_to_the_conversation() -> None:
    caller = Caller(
        script=[*keys("1", "0"), Press("*0", during="bridge", delay=3)],
        bridge={"user/1000": Answered(talk=10)},
    )
    ran = await run(FLOW, caller)
    assert ran.apps == [*TO_MAIN_MENU, *OPERATOR, *GOODBYE]
    assert ran.outcomes[-2:] == [("operator", "answered", "goodbye"), ("goodbye", "hangup", None)]


async def test_star_alone_does_not_end_a_prompt() -> None:
    caller = Caller(script=[Press("*", during="playback", delay=0.3), *keys("1", "0")])
    ran = await run(FLOW, caller)
    welcome = ran.record.apps[2]
    assert (welcome.name, welcome.response) == ("playback", "FILE PLAYED")
    assert welcome.duration == pytest.approx(1.0)
    assert ran.apps == [*TO_MAIN_MENU, *OPERATOR, *GOODBYE]
    assert ran.outcomes[1] == ("welcome", "next", "choose_language")


async def test_star_then_another_key_is_not_the_hook() -> None:
    caller = Caller(script=[Press("*5", during="playback", delay=0.3), *keys("1", "0")])
    ran = await run(FLOW, caller)
    assert ran.apps == [*TO_MAIN_MENU, *OPERATOR, *GOODBYE]
    assert ran.record.apps[2].duration == pytest.approx(1.0)


async def test_crm_answering_garbage_is_a_failure_of_the_lookup() -> None:
    # `vars.customer.vip` cannot be evaluated on a text body: the condition fails, on.error.
    web = Web({LOOKUP: httpx.Response(200, text="<html>maintenance</html>")})
    ran = await run(FLOW, Caller(script=keys("1", "2", f"{ACCOUNT}#")), web=web)
    lookup = ran.step("lookup")
    assert (lookup.outcome, lookup.target) == ("error", "sorry_goodbye")
    assert lookup.variables == {"customer": "<html>maintenance</html>"}
    assert "vars.customer.vip" in (lookup.error or "")
    assert ran.apps[len(TO_ACCOUNT) :] == [
        ("speak", "flite|kal|Sorry, we have a technical problem. Please call again later."),
        ("hangup", "NORMAL_TEMPORARY_FAILURE"),
    ]
    assert ran.trace.disposition == "hangup"
