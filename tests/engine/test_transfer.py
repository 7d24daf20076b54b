"""`transfer`: continue_on_fail and hangup_after_bridge set before the bridge, one bridge per
target when one by one, the outcome from each bridge's `originate_disposition` (never the stale
`originate_failed_cause`), and the caller hanging up while it rings or talks."""

from __future__ import annotations

import pytest

from ivrd.testing import (
    AgentAnswers,
    Answered,
    Busy,
    Caller,
    Failed,
    HangUp,
    NoAnswer,
    QueueTimeout,
)

from .harness import CALLER_NUMBER, both_backends, fast_caller, flow_text, run

pytestmark = pytest.mark.anyio


TRANSFER_FLOW = """
ivr: 1
name: transfer-test
start: ring
steps:
  ring:
    type: transfer
    to: [user/1, user/2, user/3]
    ring_for: 15s
    caller_id: {name: "Help desk", number: "{{ call.caller_id_number }}"}
    answered: note
    busy: busy
    no_answer: no_answer
    unavailable: unavailable
  note:
    type: set
    vars: {how: "{{ result.outcome }} after {{ result.targets | length }} tries"}
    next: talked
  talked: {type: hangup, prompt: {play: talked.wav}}
  busy: {type: hangup, prompt: {play: busy.wav}}
  no_answer: {type: hangup, prompt: {play: no_answer.wav}}
  unavailable: {type: hangup, prompt: {play: unavailable.wav}}
"""


def transfer_flow(extra: str = "") -> str:
    return TRANSFER_FLOW.replace("    ring_for:", extra + "    ring_for:")


ONE_BY_ONE = flow_text(transfer_flow())
ALL_AT_ONCE = flow_text(transfer_flow("    all_at_once: true\n"))
SETUP = [
    ("multiset", "^^|playback_terminators=none|tts_engine=flite|tts_voice=kal"),
    ("multiset", "^^|continue_on_fail=true|hangup_after_bridge=false"),
]
VARIABLES = (
    f"{{originate_timeout=15,origination_caller_id_name='Help desk',"
    f"origination_caller_id_number={CALLER_NUMBER}}}"
)


def bridge(*targets: str) -> tuple[str, str]:
    return ("bridge", VARIABLES + ",".join(targets))


def ending(name: str) -> list[tuple[str, str]]:
    return [("answer", ""), ("playback", f"{name}.wav"), ("hangup", "NORMAL_CLEARING")]


@both_backends
async def test_first_target_answers() -> None:
    ran = await run(ONE_BY_ONE, fast_caller(bridge_default=Answered(talk=0.05, ring=0.01)))
    assert ran.apps == [*SETUP, bridge("user/1"), *ending("talked")]
    assert ran.outcomes == [
        ("ring", "answered", "note"),
        ("note", "next", "talked"),
        ("talked", "hangup", None),
    ]
    assert ran.step("note").variables == {"how": "answered after 1 tries"}
    # Set before the bridge, as the variables of the caller's channel.
    assert ran.record.variables["continue_on_fail"] == "true"
    assert ran.record.variables["hangup_after_bridge"] == "false"
    ran.assert_clean()


@pytest.mark.parametrize(
    ("outcomes", "expected", "ending_prompt"),
    [
        pytest.param([Busy(), NoAnswer(), Answered()], "answered", "talked", id="third-answers"),
        pytest.param([Busy(), Busy(), Busy()], "busy", "busy", id="all-busy"),
        pytest.param([Busy(), Busy(), NoAnswer()], "no_answer", "no_answer", id="last-rings-out"),
        pytest.param(
            [NoAnswer(), Busy(), Failed("ALLOTTED_TIMEOUT")],
            "no_answer",
            "no_answer",
            id="leg-timeout",
        ),
        pytest.param(
            [Busy(), Busy(), Failed("NO_ROUTE_DESTINATION")],
            "unavailable",
            "unavailable",
            id="no-route",
        ),
        pytest.param(
            [Failed("NORMAL_CLEARING"), Busy(), Failed("CALL_REJECTED")],
            "unavailable",
            "unavailable",
            id="rejected",
        ),
    ],
)
async def test_one_by_one_is_one_bridge_per_target(
    outcomes: list[object], expected: str, ending_prompt: str
) -> None:
    bridges = dict(zip(["user/1", "user/2", "user/3"], outcomes, strict=True))
    ran = await run(ONE_BY_ONE, Caller(bridge=bridges))  # type: ignore[arg-type]
    assert ran.apps == [
        *SETUP,
        bridge("user/1"),
        bridge("user/2"),
        bridge("user/3"),
        *ending(ending_prompt),
    ]
    assert ran.outcomes[0] == ("ring", expected, "note" if expected == "answered" else expected)
    if expected == "answered":
        assert ran.step("note").variables == {"how": "answered after 3 tries"}
        # Stale from the earlier targets: not what decides.
        assert ran.record.variables["originate_failed_cause"] == "NO_ANSWER"
    ran.assert_clean()


async def test_ring_for_bounds_each_target() -> None:
    ran = await run(ONE_BY_ONE, Caller(bridge_default=NoAnswer()))
    bridges = [app for app in ran.record.apps if app.name == "bridge"]
    assert [app.duration for app in bridges] == [pytest.approx(15)] * 3
    assert ran.outcomes[0] == ("ring", "no_answer", "no_answer")


async def test_all_at_once_is_one_bridge() -> None:
    ran = await run(
        ALL_AT_ONCE, Caller(bridge={"user/1": Busy(), "user/2": Answered(), "user/3": NoAnswer()})
    )
    assert ran.apps == [*SETUP, bridge("user/1", "user/2", "user/3"), *ending("talked")]
    assert ran.step("note").variables == {"how": "answered after 1 tries"}


async def test_all_at_once_nobody_answers() -> None:
    ran = await run(ALL_AT_ONCE, Caller(bridge_default=Busy()))
    assert ran.apps == [*SETUP, bridge("user/1", "user/2", "user/3"), *ending("busy")]


async def test_caller_hangs_up_while_it_rings() -> None:
    caller = Caller(script=[HangUp(during="bridge", delay=4)], bridge_default=NoAnswer())
    ran = await run(ONE_BY_ONE, caller)
    assert ran.apps == [*SETUP, bridge("user/1")]
    assert ran.outcomes == [("ring", "caller_hangup", None)]
    assert ran.step("ring").duration == pytest.approx(4, abs=0.05)
    assert ran.trace.disposition == "caller_hangup"
    ran.assert_clean()


async def test_caller_hangs_up_while_talking() -> None:
    caller = Caller(
        script=[HangUp(during="bridge", nth=2, delay=10)],
        bridge={"user/1": Busy(), "user/2": Answered(talk=60)},
    )
    ran = await run(ONE_BY_ONE, caller)
    assert ran.apps == [*SETUP, bridge("user/1"), bridge("user/2")]
    assert ran.outcomes == [("ring", "caller_hangup", None)]
    ran.assert_clean()


async def test_without_ring_for_and_caller_id() -> None:
    flow = flow_text(
        "ivr: 1\nname: plain\nstart: ring\nsteps:\n"
        "  ring: {type: transfer, to: user/1, answered: bye, unavailable: bye}\n"
        "  bye: {type: hangup}\n"
    )
    ran = await run(flow, Caller())
    assert ran.apps == [SETUP[0], SETUP[1], ("bridge", "user/1"), ("hangup", "NORMAL_CLEARING")]


QUEUE_FLOW = flow_text(
    """
ivr: 1
name: queue-test
start: first
steps:
  first:
    type: queue
    name: sales@default
    answered: second
    no_answer: second
    unavailable: second
  second:
    type: queue
    name: missing@default
    answered: talked
    no_answer: no_answer
    unavailable: unavailable
  talked: {type: hangup, prompt: {play: talked.wav}}
  no_answer: {type: hangup, prompt: {play: no_answer.wav}}
  unavailable: {type: hangup, prompt: {play: unavailable.wav}}
"""
)
QUEUE_RESET = ("multiset", "^^|cc_cause=|cc_cancel_reason=")


async def test_a_queue_answered_waits_for_the_conversation_to_end() -> None:
    """`callcenter` completes when the agent is bridged: nothing is sent while they talk."""
    caller = fast_caller(
        queues={"sales@default": AgentAnswers(wait=5, talk=60)},
    )
    ran = await run(QUEUE_FLOW, caller)
    callcenter = [app for app in ran.record.apps if app.name == "callcenter"]
    assert len(callcenter) == 1
    assert ran.apps[-2:] == [QUEUE_RESET, ("callcenter", "sales@default")]
    assert ran.outcomes[0] == ("first", "answered", "second")
    assert ran.record.hangup_cause == "NORMAL_CLEARING"
    assert ran.record.violations == []


async def test_a_missing_queue_after_a_timeout_is_unavailable_not_a_stale_no_answer() -> None:
    """A queue that does not exist sets no `cc_*` variable; the first visit's are cleared."""
    caller = fast_caller(
        queues={"sales@default": QueueTimeout(wait=30)},
    )
    ran = await run(QUEUE_FLOW, caller)
    assert ran.outcomes[:2] == [
        ("first", "no_answer", "second"),
        ("second", "unavailable", "unavailable"),
    ]
    assert ran.apps.count(QUEUE_RESET) == 2
    ran.assert_clean()
