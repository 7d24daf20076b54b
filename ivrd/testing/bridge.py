"""`bridge` (and `att_xfer`): dial strings, per-target outcomes, and what the caller sees.

Dial strings as FreeSWITCH reads them: `{global=vars}[leg=vars]a,b|c` -- `|` separates
failover groups tried one after another, `,` targets rung at once (the first to answer wins).
Each target's outcome comes from the scenario (`Caller.bridge`). What the caller's channel
then shows follows FREESWITCH-FACTS.md:

- answered: CHANNEL_ANSWER (if the caller was not answered yet), CHANNEL_BRIDGE, the talk,
  CHANNEL_UNBRIDGE when the target hangs up; `originate_disposition=SUCCESS`,
  `DIALSTATUS=SUCCESS`, `bridge_hangup_cause` / `last_bridge_hangup_cause=NORMAL_CLEARING`,
  `last_bridge_to`; the caller stays unless `hangup_after_bridge` is true;
- failed: `originate_disposition`, `originate_failed_cause`, `last_bridge_hangup_cause` = the
  cause, `DIALSTATUS` (BUSY, NOANSWER or the cause); then `switch_channel_handle_cause()`
  hangs the caller up with that cause unless `continue_on_fail` / `failure_causes` allow it
  (NO_ANSWER, NO_USER_RESPONSE and ORIGINATOR_CANCEL continue when neither is set), so its
  CHANNEL_HANGUP comes before the bridge's EXECUTE_COMPLETE;
- `originate_failed_cause` is never cleared: after a failed then a successful bridge it is stale.
- A target that never answers fails with ALLOTTED_TIMEOUT at its `leg_timeout`, or NO_ANSWER
  at `originate_timeout` / the channel's `call_timeout` (default 60 s).
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from ivrd.testing.caller import Answered, Busy, Caller, Failed, NoAnswer
from ivrd.testing.cdr import Q850
from ivrd.testing.media import answer_channel
from ivrd.testing.separate import take_variables

if TYPE_CHECKING:
    from ivrd.testing.execution import Execution, RunningApp

_CONTINUE_ALWAYS = ("NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL")
_DIALSTATUS = {"USER_BUSY": "BUSY", "NO_ANSWER": "NOANSWER"}
_OPEN = {"{": "}", "[": "]", "<": ">"}


@dataclass
class Leg:
    target: str
    variables: dict[str, str] = field(default_factory=dict)


def _split(text: str, separator: str) -> list[str]:
    """Split on `separator` outside brackets and quotes."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "{[<":
            depth += 1
        elif not quoted and char in "}]>":
            depth = max(0, depth - 1)
        elif not quoted and depth == 0 and text.startswith(separator, index):
            parts.append(text[start:index])
            index += len(separator)
            start = index
            continue
        index += 1
    parts.append(text[start:])
    return parts


def _take_leg_variables(text: str) -> tuple[dict[str, str], str]:
    """A leg's leading variable blocks, read by FreeSWITCH's rules (separate.take_variables)."""
    variables: dict[str, str] = {}
    rest = text.lstrip(" ")
    while rest[:1] in _OPEN:
        found, after = take_variables(rest, rest[0], _OPEN[rest[0]])
        if after == rest:
            break  # never closed: the rest is the target, as it stands
        variables.update(found)
        rest = after
    return variables, rest.strip()


def parse_dial_string(text: str) -> tuple[dict[str, str], list[list[Leg]]]:
    """`{a=1}[b=2]x,y|z` -> ({"a": "1"}, [[Leg("x", {"b": "2"}), Leg("y")], [Leg("z")]])."""
    global_vars, text = take_variables(text.strip())
    groups: list[list[Leg]] = []
    for group_text in _split(text, "|"):
        legs = []
        for leg_text in _split(group_text.replace(":_:", ","), ","):
            variables, target = _take_leg_variables(leg_text)
            if target:
                legs.append(Leg(target, variables))
        if legs:
            groups.append(legs)
    return global_vars, groups


def seconds_value(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds > 0 else None


@dataclass
class LegResult:
    """Ringing ends `after` seconds with `cause` (SUCCESS: `leg` answered, talks `talk` s)."""

    after: float
    cause: str
    leg: Leg | None = None
    talk: float = 0.0


def leg_result(caller: Caller, leg: Leg, global_vars: dict[str, str], limit: float) -> LegResult:
    """When and how ringing `leg` ends, from the scenario's outcome for its target."""
    leg_timeout = seconds_value(leg.variables.get("leg_timeout") or global_vars.get("leg_timeout"))
    outcome = caller.outcome(leg.target)
    if isinstance(outcome, Failed):
        return LegResult(outcome.ring, outcome.cause)
    ring = outcome.ring if isinstance(outcome, Answered | Busy) else float("inf")
    if leg_timeout is not None and ring >= leg_timeout and leg_timeout <= limit:
        return LegResult(leg_timeout, "ALLOTTED_TIMEOUT")
    if ring >= limit:
        return LegResult(limit, "NO_ANSWER")
    if isinstance(outcome, Busy):
        return LegResult(ring, "USER_BUSY")
    assert not isinstance(outcome, NoAnswer)
    return LegResult(ring, "SUCCESS", leg, outcome.talk)


async def _ring(
    call: Execution, running: RunningApp, groups: list[list[Leg]], global_vars: dict[str, str]
) -> LegResult:
    """Ring the groups in turn: the winning leg, or the failure cause."""
    state = call.state
    limit = (
        seconds_value(global_vars.get("originate_timeout") or state.get_var("call_timeout")) or 60.0
    )
    started = anyio.current_time()
    result = LegResult(0.0, "INVALID_NUMBER_FORMAT")
    for group in groups:
        remaining = max(0.0, limit - (anyio.current_time() - started))
        results = [leg_result(call.caller, leg, global_vars, remaining) for leg in group]
        answered = [item for item in results if item.leg is not None]
        if answered:
            result = min(answered, key=lambda item: item.after)
        else:
            result = max(results, key=lambda item: item.after)
        outcome = await call.media(running, result.after, on_dtmf=lambda digit: False)
        if outcome == "hangup":
            return LegResult(0.0, "ORIGINATOR_CANCEL")
        if result.leg is not None:
            return result
    return result


def _handle_cause(call: Execution, cause: str) -> None:
    """switch_channel_handle_cause: hang the caller up unless the variables say continue."""
    state = call.state
    continue_on_fail = state.get_var("continue_on_fail")
    failure_causes = state.get_var("failure_causes")
    names = {cause.lower(), str(Q850.get(cause, 0))}
    if continue_on_fail or failure_causes:
        if failure_causes and not names & {
            item.strip().lower() for item in failure_causes.split(",")
        }:
            return
        if continue_on_fail:
            if continue_on_fail.lower() in ("true", "yes", "on", "1"):
                return
            if names & {item.strip().lower() for item in continue_on_fail.split(",")}:
                return
    elif cause in _CONTINUE_ALWAYS:
        return
    call.hangup(cause, "switch")


async def _talk(call: Execution, running: RunningApp, result: LegResult) -> None:
    """The bridged part: CHANNEL_BRIDGE, the conversation, CHANNEL_UNBRIDGE."""
    state = call.state
    assert result.leg is not None
    peer = str(uuidlib.uuid4())
    answer_channel(call)
    state.set_time("Channel-Bridged-Time")
    for name, value in (
        ("originate_disposition", "SUCCESS"),
        ("DIALSTATUS", "SUCCESS"),
        ("bridge_channel", result.leg.target),
        ("bridge_uuid", peer),
        ("signal_bond", peer),
        ("last_bridge_to", peer),
    ):
        state.set_var(name, value)
    other = [
        ("Bridge-A-Unique-ID", call.uuid),
        ("Bridge-B-Unique-ID", peer),
        ("Other-Type", "originatee"),
        ("Other-Leg-Direction", "outbound"),
        ("Other-Leg-Unique-ID", peer),
        ("Other-Leg-Channel-Name", result.leg.target),
        ("Other-Leg-Destination-Number", result.leg.target.rsplit("/", 1)[-1]),
    ]
    call.publish("CHANNEL_BRIDGE", other)
    outcome = await call.media(running, result.talk, on_dtmf=lambda digit: False)
    cause = state.hangup_cause if outcome == "hangup" else "NORMAL_CLEARING"
    state.set_var("bridge_hangup_cause", cause or "NORMAL_CLEARING")
    state.set_var("last_bridge_hangup_cause", cause or "NORMAL_CLEARING")
    call.publish("CHANNEL_UNBRIDGE", other)


async def bridge(call: Execution, running: RunningApp) -> str | None:
    state = call.state
    global_vars, groups = parse_dial_string(running.arg)
    result = await _ring(call, running, groups, global_vars)
    if result.leg is not None:
        await _talk(call, running, result)
        hangup_after = state.get_var("hangup_after_bridge")
        if hangup_after is not None and hangup_after.lower() in ("true", "yes", "on", "1"):
            call.hangup("NORMAL_CLEARING", "switch")
        return None
    cause = result.cause
    state.set_var("originate_disposition", cause)
    state.set_var("originate_failed_cause", cause)
    state.set_var("DIALSTATUS", _DIALSTATUS.get(cause, cause))
    state.set_var("last_bridge_hangup_cause", cause)
    if state.up:
        _handle_cause(call, cause)
    return None


async def att_xfer(call: Execution, running: RunningApp) -> str | None:
    """Attended transfer: the caller talks to the target, then comes back (never hung up)."""
    global_vars, groups = parse_dial_string(running.arg)
    result = await _ring(call, running, groups, global_vars)
    if result.leg is not None:
        await call.media(running, result.talk, on_dtmf=lambda digit: False)
    return None
