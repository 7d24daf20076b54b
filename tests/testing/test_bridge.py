"""bridge: outcomes per target, the variables FreeSWITCH sets, and when the caller is hung up."""

from __future__ import annotations

import pytest

from ivrd.esl.protocol import Event
from ivrd.testing import (
    Answered,
    Busy,
    Caller,
    CallRecord,
    Failed,
    FakeFreeSWITCH,
    HangUp,
    NoAnswer,
)
from ivrd.testing.bridge import Leg, parse_dial_string

from .client import Server, run_call

pytestmark = pytest.mark.anyio
trio_only = pytest.mark.parametrize("anyio_backend", ["trio"], indirect=True)


def test_dial_strings() -> None:
    assert parse_dial_string("{a=1,b='x,y'}[leg_timeout=3]user/1,user/2|sofia/gw/3") == (
        {"a": "1", "b": "x,y"},
        [[Leg("user/1", {"leg_timeout": "3"}), Leg("user/2")], [Leg("sofia/gw/3")]],
    )
    assert parse_dial_string("^^") == ({}, [[Leg("^^")]])
    assert parse_dial_string("{^^;a=1;b=2}user/1") == ({"a": "1", "b": "2"}, [[Leg("user/1")]])


def test_dial_string_variables_follow_switch_event_create_brackets() -> None:
    # Nested braces (`${...}`), `^^X` in a leg's block, quotes removed around and inside a
    # value, an escaped comma, and an item without a value dropped.
    assert parse_dial_string(
        "{caller=${caller_id_number}}[^^;a=1,2;b='q'r]user/1,[c=d\\,e,f=]user/2"
    ) == (
        {"caller": "${caller_id_number}"},
        [[Leg("user/1", {"a": "1,2", "b": "qr"}), Leg("user/2", {"c": "d,e"})]],
    )
    assert parse_dial_string(" [a=1] [b=2]user/1 |{a=1") == (
        {},
        [[Leg("user/1", {"a": "1", "b": "2"})], [Leg("{a=1")]],  # never closed: a target
    )


async def bridge(
    caller: Caller, *apps: tuple[str, str]
) -> tuple[list[Event], list[str], CallRecord]:
    """Run `apps` then hang up (if still up); the completions, frame names and record."""
    done: list[Event] = []
    names: list[str] = []

    async def script(server: Server) -> None:
        await server.start()
        for app, arg in apps:
            done.append(await server.run(app, arg))
            if done[-1].get("Hangup-Cause"):
                break
        else:
            await server.send_app("hangup")
        await server.finish()
        names.extend(server.client.names())

    record, _ = await run_call(FakeFreeSWITCH(), script, caller)
    return done, names, record


@trio_only
async def test_answered_target_talks_then_the_caller_comes_back() -> None:
    caller = Caller(bridge={"user/2001": Answered(talk=30, ring=2)})
    done, names, _ = await bridge(caller, ("bridge", "user/2001"))
    event = done[0]
    assert event["variable_originate_disposition"] == "SUCCESS"
    assert event["variable_DIALSTATUS"] == "SUCCESS"
    assert event["variable_bridge_hangup_cause"] == "NORMAL_CLEARING"
    assert event["variable_last_bridge_hangup_cause"] == "NORMAL_CLEARING"
    assert event["variable_last_bridge_to"] == event["variable_bridge_uuid"]
    assert event.get("Hangup-Cause") is None
    order = [name.split(" ", 1)[1] for name in names if name.startswith("text/event")]
    bridged = order.index("CHANNEL_BRIDGE")
    assert order[bridged - 1 : bridged + 3] == [
        "CHANNEL_ANSWER",
        "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_EXECUTE_COMPLETE bridge",
    ]


@pytest.mark.parametrize("continue_on_fail", [None, "true", "USER_BUSY,NO_ROUTE_DESTINATION"])
async def test_busy_target(continue_on_fail: str | None) -> None:
    apps = [("set", f"continue_on_fail={continue_on_fail}")] if continue_on_fail else []
    caller = Caller(bridge={"user/2001": Busy(ring=0.05)})
    done, names, record = await bridge(caller, *apps, ("bridge", "user/2001"))
    event = done[-1]
    assert event["variable_originate_disposition"] == "USER_BUSY"
    assert event["variable_originate_failed_cause"] == "USER_BUSY"
    assert event["variable_DIALSTATUS"] == "BUSY"
    assert event["variable_last_bridge_hangup_cause"] == "USER_BUSY"
    assert "text/event-plain CHANNEL_BRIDGE" not in names
    if continue_on_fail:
        assert event.get("Hangup-Cause") is None
    else:
        assert event["Hangup-Cause"] == "USER_BUSY"
        assert names.index("text/event-plain CHANNEL_HANGUP") < names.index(
            "text/event-plain CHANNEL_EXECUTE_COMPLETE bridge"
        )
        assert (record.hangup_cause, record.hangup_by) == ("USER_BUSY", "switch")


@trio_only
async def test_leg_timeout_is_allotted_timeout_and_hangs_the_caller_up() -> None:
    done, _, record = await bridge(
        Caller(bridge_default=NoAnswer()), ("bridge", "{leg_timeout=3}user/1")
    )
    event = done[0]
    for name in ("originate_disposition", "DIALSTATUS", "last_bridge_hangup_cause"):
        assert event[f"variable_{name}"] == "ALLOTTED_TIMEOUT"
    assert event["Hangup-Cause"] == "ALLOTTED_TIMEOUT"
    assert record.apps[0].duration == pytest.approx(3)


@trio_only
@pytest.mark.parametrize("target", ["{originate_timeout=3}user/1", "user/1"])
async def test_originate_timeout_is_no_answer_and_the_caller_stays(target: str) -> None:
    apps = [("set", "call_timeout=3")] if not target.startswith("{") else []
    done, _, _ = await bridge(Caller(bridge_default=NoAnswer()), *apps, ("bridge", target))
    event = done[-1]
    assert event["variable_originate_disposition"] == "NO_ANSWER"
    assert event["variable_DIALSTATUS"] == "NOANSWER"
    assert event.get("Hangup-Cause") is None


async def test_failover_and_stale_originate_failed_cause() -> None:
    caller = Caller(
        bridge={"user/a": Busy(ring=0.01), "user/b": Answered(talk=0.05, ring=0.01)},
    )
    done, _, _ = await bridge(
        caller,
        ("set", "continue_on_fail=true"),
        ("bridge", "user/a|user/b"),
        ("bridge", "user/a"),
        ("bridge", "user/b"),
    )
    failover, busy, answered = done[1:]
    assert failover["variable_originate_disposition"] == "SUCCESS"
    assert busy["variable_originate_disposition"] == "USER_BUSY"
    assert answered["variable_originate_disposition"] == "SUCCESS"
    # Never cleared: classify by originate_disposition, not by this.
    assert answered["variable_originate_failed_cause"] == "USER_BUSY"


async def test_failed_target_and_hangup_after_bridge() -> None:
    caller = Caller(
        bridge={"user/gone": Failed("UNALLOCATED_NUMBER")},
        bridge_default=Answered(talk=0.05, ring=0.01),
    )
    done, _, record = await bridge(
        caller,
        ("set", "continue_on_fail=true"),
        ("bridge", "user/gone"),
        ("set", "hangup_after_bridge=true"),
        ("bridge", "user/x"),
    )
    assert done[1]["variable_originate_disposition"] == "UNALLOCATED_NUMBER"
    assert done[3]["Hangup-Cause"] == "NORMAL_CLEARING"
    assert record.hangup_by == "switch"


async def test_caller_hangs_up_after_the_bridge() -> None:
    caller = Caller(
        script=[HangUp(after="bridge", delay=0.01)],
        bridge_default=Answered(talk=0.05, ring=0.01),
    )

    async def script(server: Server) -> None:
        await server.start()
        await server.run("bridge", "user/1")
        await server.client.until_event("CHANNEL_HANGUP")
        await server.finish()

    record, _ = await run_call(FakeFreeSWITCH(), script, caller)
    assert record.hangup_by == "caller"
