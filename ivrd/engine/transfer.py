"""`transfer` and `queue`: connecting the caller to people, and telling how it went.

Before the first bridge the caller's channel gets `continue_on_fail=true` and
`hangup_after_bridge=false`, so FreeSWITCH returns the caller to us when a target fails or
the conversation ends. Each bridge's outcome comes from `originate_disposition` in its
completion (SUCCESS answered; USER_BUSY busy; NO_ANSWER and ALLOTTED_TIMEOUT no answer;
anything else unavailable), never from `originate_failed_cause`, which stays set from an
earlier bridge. One by one means one bridge per target, so each target's outcome is known; the
step's outcome is `answered` if any target answered, else the last target's.
"""

from __future__ import annotations

from collections.abc import Sequence

from anyio.streams.memory import MemoryObjectReceiveStream

from ivrd.engine import prompts
from ivrd.engine.call import Call, Frame
from ivrd.esl.applications import ExecuteResult, bridge_arg, multiset_arg
from ivrd.esl.errors import CallHangup, ConnectionClosed
from ivrd.esl.protocol import Event
from ivrd.flow.routes import Route
from ivrd.flow.steps import QueueStep, TransferStep

StepOutcome = tuple[str, Route | None]

BRIDGE_SETUP = {"continue_on_fail": "true", "hangup_after_bridge": "false"}


def classify(disposition: str | None) -> str:
    if disposition == "SUCCESS":
        return "answered"
    if disposition == "USER_BUSY":
        return "busy"
    if disposition in ("NO_ANSWER", "ALLOTTED_TIMEOUT"):
        return "no_answer"
    return "unavailable"


async def _bridge(call: Call, targets: Sequence[str], variables: dict[str, str]) -> ExecuteResult:
    return await call.app("bridge", bridge_arg(list(targets), variables), interruptible=False)


async def run_transfer(call: Call, frame: Frame, name: str, step: TransferStep) -> StepOutcome:
    await prompts.play(call, frame, step.prompt)
    targets = [call.render(target, frame) for target in step.to]
    variables: dict[str, str] = {}
    if step.ring_for is not None:
        variables["originate_timeout"] = str(max(1, round(step.ring_for.total_seconds())))
    if step.caller_id is not None:
        if step.caller_id.name is not None:
            variables["origination_caller_id_name"] = call.render(step.caller_id.name, frame)
        if step.caller_id.number is not None:
            variables["origination_caller_id_number"] = call.render(step.caller_id.number, frame)
    call.settings("multiset", multiset_arg(BRIDGE_SETUP))
    tried: list[dict[str, str]] = []
    groups = [targets] if step.all_at_once else [[target] for target in targets]
    outcome = "unavailable"
    for group in groups:
        result = await _bridge(call, group, variables)
        disposition = result.variable("originate_disposition")
        outcome = classify(disposition)
        tried.append(
            {
                "to": ",".join(group),
                "outcome": outcome,
                "disposition": disposition or "",
                "hangup_cause": result.variable("last_bridge_hangup_cause") or "",
            }
        )
        if outcome == "answered":
            break
    frame.result = {"outcome": outcome, "targets": tried}
    return outcome, frame.flow.route(name, outcome)


QUEUE_RESULT = {"cc_cause": "", "cc_cancel_reason": ""}


async def run_queue(call: Call, frame: Frame, name: str, step: QueueStep) -> StepOutcome:
    """mod_callcenter: `cc_cause` is `answered` or `cancel` (with `cc_cancel_reason`).

    `callcenter` completes with `answered` as soon as an agent is bridged to the caller, not
    when they finish talking; so the `answered` route waits for the bridge to end
    (CHANNEL_UNBRIDGE). The result variables are cleared first: a queue that does not exist
    sets none, and a value left from an earlier visit would pick the wrong route.
    """
    await prompts.play(call, frame, step.prompt)
    call.settings("multiset", multiset_arg(QUEUE_RESULT))
    async with call.session.events("CHANNEL_UNBRIDGE", "CHANNEL_HANGUP") as events:
        result = await call.app("callcenter", call.render(step.name, frame), interruptible=False)
        cause = result.variable("cc_cause")
        reason = result.variable("cc_cancel_reason")
        if cause == "answered":
            outcome = "answered"
            await _conversation(call, events)
        elif cause == "cancel" and reason in ("TIMEOUT", "BREAK_OUT", "EXIT_WITH_KEY"):
            outcome = "no_answer"
        else:
            outcome = "unavailable"
    frame.result = {"outcome": outcome, "cause": cause or "", "reason": reason or ""}
    return outcome, frame.flow.route(name, outcome)


async def _conversation(call: Call, events: MemoryObjectReceiveStream[Event]) -> None:
    """Wait until the caller and the agent are unbridged; ends on hangup or disconnect too."""
    async for event in events:
        if event.name == "CHANNEL_UNBRIDGE":
            return
        break
    cause = getattr(call.session, "hangup_cause", None)
    if cause is not None:
        raise CallHangup(cause, uuid=call.uuid, waiting_for="the end of the queue call")
    raise ConnectionClosed("the event socket closed during the queue call")
