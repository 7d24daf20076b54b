"""The other example flows end to end: hello, and pin-check with its verify_pin subflow
(inputs, named returns, outputs, a sensitive PIN)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ivrd.flow import load_flow_text
from ivrd.testing import Caller, HangUp, Press, Silence

from .harness import MASK, Web, both_backends, example, fast_caller, run

pytestmark = pytest.mark.anyio

HELLO = example("hello.yaml")
PIN_CHECK = example("pin-check.yaml")
PAGD = "play_and_get_digits"
ACCOUNT = "40001234"
PIN = "4711"
BANK = "https://core.bank.example/v1"


@both_backends
async def test_hello_answers_greets_and_hangs_up() -> None:
    ran = await run(HELLO, fast_caller())
    assert ran.apps == [
        ("multiset", "^^|playback_terminators=none|tts_engine=flite|tts_voice=kal"),
        ("answer", ""),
        ("speak", "flite|kal|Hello, and thank you for calling. Goodbye!"),
        ("hangup", "NORMAL_CLEARING"),
    ]
    assert ran.outcomes == [("hello", "next", "goodbye"), ("goodbye", "hangup", None)]
    assert ran.trace.path == ["hello", "goodbye"]
    assert ran.step("hello").commands == [
        "answer",
        "speak flite|kal|Hello, and thank you for calling. Goodbye!",
    ]
    assert ran.step("goodbye").commands == ["hangup NORMAL_CLEARING"]
    assert ran.trace.commands == [
        "multiset ^^|playback_terminators=none|tts_engine=flite|tts_voice=kal"
    ]
    assert ran.trace.disposition == "hangup"
    assert ran.trace.hangup_cause == "NORMAL_CLEARING"
    assert ran.record.hangup_by == "server"
    assert ran.record.exit_after_hangup is not None
    ran.assert_clean()


async def test_hello_caller_hangs_up_during_the_greeting() -> None:
    ran = await run(HELLO, Caller(script=[HangUp(during="speak", delay=0.5)]))
    assert ran.apps[-1] == ("speak", "flite|kal|Hello, and thank you for calling. Goodbye!")
    assert ran.outcomes == [("hello", "caller_hangup", None)]
    assert ran.trace.disposition == "caller_hangup"
    ran.assert_clean()


def ask(prompt: str, digits: str, end_key: str = "#") -> tuple[str, str]:
    return (
        PAGD,
        f"{digits} 1 5000 {end_key} 'say:{prompt}' silence_stream://250 ivrd_input [0-9*#]+ 3000",
    )


WELCOME = ("speak", "flite|kal|Welcome to Acme Bank's balance line.")
ASK_ACCOUNT = ask("Please enter your eight digit account number.", "8 8")
ASK_PIN = ask("Please enter your PIN, followed by the hash key.", "4 6")
WRONG_PIN = ("speak", "flite|kal|That PIN is not correct.")
AFTER_BALANCE = (
    PAGD,
    "1 1 1 5000 none 'say:To hear it again, press 1. To talk to us, press 0. To end the call, "
    "press 9.' silence_stream://250 ivrd_input [0-9*#]+ 3000",
)
BALANCE = [
    ("speak", "flite|kal|Eva, your balance is"),
    ("say", "en number pronounced 1250"),
    ("speak", "flite|kal|euros."),
]
START = [
    ("multiset", "^^|playback_terminators=none|tts_engine=flite|tts_voice=kal"),
    ("answer", ""),
    WELCOME,
    ASK_ACCOUNT,
    ASK_PIN,
]
GOODBYE = [("playback", "ivr/bank/en/goodbye.wav"), ("hangup", "NORMAL_CLEARING")]


def bank(*pin_replies: httpx.Response, balance: httpx.Response | None = None) -> Web:
    replies = list(pin_replies)

    async def verify(request: httpx.Request) -> httpx.Response:
        return replies.pop(0)

    web = Web({f"POST /v1/accounts/{ACCOUNT}/verify-pin": verify})
    web.routes[f"GET /v1/accounts/{ACCOUNT}/balance"] = balance or httpx.Response(
        200, json={"amount": 1250}
    )
    return web


def keys(*entries: str | None) -> list[Press | Silence]:
    return [
        Silence(during=PAGD) if entry is None else Press(entry, during=PAGD) for entry in entries
    ]


@both_backends
async def test_pin_verified_balance_read_out() -> None:
    web = bank(httpx.Response(200, json={"name": "Eva"}))
    ran = await run(PIN_CHECK, fast_caller(script=keys(ACCOUNT, f"{PIN}#", "9")), web=web)
    assert ran.apps == [*START, *BALANCE, AFTER_BALANCE, *GOODBYE]
    assert ran.outcomes == [
        ("welcome", "next", "account"),
        ("account", "next", "verify"),
        ("verify", "verified", "balance_lookup"),
        ("ask_pin", "next", "check_pin"),
        ("check_pin", "next (result.status == 200)", "remember_name"),
        ("remember_name", "next", "verified"),
        ("balance_lookup", "next (result.status == 200)", "say_balance"),
        ("say_balance", "next", "after_balance"),
        ("after_balance", "9", "goodbye"),
        ("goodbye", "hangup", None),
    ]
    # The `run` step is entered first, then the subflow's steps, traced under its own name;
    # the subflow's outputs go to `save_as`.
    assert [(s.step, s.flow) for s in ran.trace.steps[2:6]] == [
        ("verify", "pin-check"),
        ("ask_pin", "verify-pin"),
        ("check_pin", "verify-pin"),
        ("remember_name", "verify-pin"),
    ]
    assert ran.step("verify").variables == {"pin": {"customer_name": "Eva"}}
    assert ran.step("remember_name").variables == {"customer_name": "Eva"}
    # The PIN is sensitive: masked in the trace, sent to the bank as entered.
    assert ran.step("ask_pin").variables == {"pin": MASK}
    assert web.bodies()[0] == {"pin": PIN}
    assert web.requests[0].headers["x-api-key"] == "bank-secret-key"
    assert web.seen() == [
        f"POST {BANK}/accounts/{ACCOUNT}/verify-pin",
        f"GET {BANK}/accounts/{ACCOUNT}/balance",
    ]
    # The account is not sensitive here, and shows.
    assert ran.step("account").variables == {"account": ACCOUNT}
    assert PIN not in str(ran.trace.as_dict())
    assert "bank-secret-key" not in str(ran.trace.as_dict())
    ran.assert_clean()


async def test_wrong_pin_three_times_locks_the_account() -> None:
    web = bank(*[httpx.Response(403, json={"error": "wrong pin"})] * 3)
    script = keys(ACCOUNT, "1111#", "2222#", "3333#")
    ran = await run(PIN_CHECK, Caller(script=script), web=web)
    assert ran.apps == [
        *START,
        WRONG_PIN,
        ASK_PIN,
        WRONG_PIN,
        ASK_PIN,
        ("speak", "flite|kal|Your account has been locked after too many wrong PINs."),
        ("phrase", "acme_account_locked"),
        ("hangup", "CALL_REJECTED"),
    ]
    assert [o[:2] for o in ran.outcomes[-3:]] == [
        ("enough_tries", "branches (vars.tries | int >= vars.max_tries | int)"),
        ("locked_notice", "next"),
        ("locked", "hangup"),
    ]
    assert ran.step("verify").outcome == "locked"
    assert [s.variables for s in ran.trace.steps if s.step == "count_failure"] == [
        {"tries": "1"},
        {"tries": "2"},
        {"tries": "3"},
    ]
    assert ran.trace.hangup_cause == "CALL_REJECTED"
    # Every PIN tried is masked.
    assert not any(pin in str(ran.trace.as_dict()) for pin in ("1111", "2222", "3333"))


async def test_max_tries_input_is_passed_to_the_subflow() -> None:
    flow = PIN_CHECK
    assert flow.steps["verify"].inputs["max_tries"].source == "3"  # type: ignore[union-attr]
    web = bank(httpx.Response(423, json={"error": "locked"}))
    ran = await run(flow, Caller(script=keys(ACCOUNT, f"{PIN}#")), web=web)
    assert [o[:2] for o in ran.outcomes[2:6]] == [
        ("verify", "locked"),
        ("ask_pin", "next"),
        ("check_pin", "next (result.status == 423)"),
        ("locked_notice", "next"),
    ]


async def test_no_pin_twice_fails_the_verification() -> None:
    ran = await run(PIN_CHECK, Caller(script=keys(ACCOUNT, None, None)), web=bank())
    assert ran.apps == [
        *START,
        ASK_PIN,
        ("speak", "flite|kal|Sorry, we could not verify your PIN."),
        ("hangup", "CALL_REJECTED"),
    ]
    assert ran.outcomes[2:] == [
        ("verify", "failed", "failed"),
        ("ask_pin", "too_many_attempts", "failed"),
        ("failed", "hangup", None),
    ]


async def test_bank_down_during_the_pin_check_fails_the_verification() -> None:
    async def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    web = Web({f"POST /v1/accounts/{ACCOUNT}/verify-pin": down})
    ran = await run(PIN_CHECK, Caller(script=keys(ACCOUNT, f"{PIN}#")), web=web)
    assert ran.outcomes[2:5] == [
        ("verify", "failed", "failed"),
        ("ask_pin", "next", "check_pin"),
        ("check_pin", "on_error", "failed"),
    ]
    assert ran.apps[-1] == ("hangup", "CALL_REJECTED")


async def test_balance_unavailable() -> None:
    web = bank(httpx.Response(200, json={"name": "Eva"}), balance=httpx.Response(503, text="down"))
    ran = await run(PIN_CHECK, Caller(script=keys(ACCOUNT, f"{PIN}#")), web=web)
    assert ran.outcomes[-2:] == [
        ("balance_lookup", "next (else)", "no_balance"),
        ("no_balance", "hangup", None),
    ]
    assert ran.step("balance_lookup").variables == {"balance": "down"}
    assert ran.apps[-2:] == [
        ("speak", "flite|kal|Sorry, your balance is not available right now."),
        ("hangup", "NORMAL_CLEARING"),
    ]


async def test_balance_again_then_an_agent() -> None:
    web = bank(httpx.Response(200, json={"name": "Eva"}))
    ran = await run(PIN_CHECK, Caller(script=keys(ACCOUNT, f"{PIN}#", "1", "0")), web=web)
    assert ran.apps == [
        *START,
        *BALANCE,
        AFTER_BALANCE,
        *BALANCE,
        AFTER_BALANCE,
        ("multiset", "^^|continue_on_fail=true|hangup_after_bridge=false"),
        ("bridge", "{originate_timeout=30}sofia/gateway/bank_pbx/4989123456"),
        *GOODBYE,
    ]
    assert ran.outcomes[-2:] == [("agent", "answered", "goodbye"), ("goodbye", "hangup", None)]


async def test_caller_hangs_up_inside_the_subflow() -> None:
    script = [*keys(ACCOUNT), HangUp(during=PAGD, delay=1)]
    ran = await run(PIN_CHECK, Caller(script=script), web=bank())
    assert ran.outcomes[-2:] == [
        ("verify", "caller_hangup", None),
        ("ask_pin", "caller_hangup", None),
    ]
    assert ran.trace.disposition == "caller_hangup"
    ran.assert_clean()


async def test_a_subflow_may_end_the_call(tmp_path: Path) -> None:
    (tmp_path / "goodbye.yaml").write_text(
        "ivr: 1\nname: goodbye\nreturns: [back]\nstart: bye\nsteps:\n"
        "  bye: {type: hangup, prompt: {play: bye.wav}, cause: CALL_REJECTED}\n"
    )
    flow = load_flow_text(
        "ivr: 1\nname: main\nsubflows: {goodbye: goodbye.yaml}\nstart: run\nsteps:\n"
        "  run: {type: run, subflow: goodbye, returns: {back: done}}\n  done: {type: hangup}\n",
        base_dir=tmp_path,
    ).require()
    ran = await run(flow, Caller())
    assert ran.outcomes == [("run", "hangup", None), ("bye", "hangup", None)]
    assert ran.apps[-2:] == [("playback", "bye.wav"), ("hangup", "CALL_REJECTED")]
    assert ran.trace.disposition == "hangup"
    ran.assert_clean()
