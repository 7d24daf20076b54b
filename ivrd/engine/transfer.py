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

from ivrd.engine import prompts
from ivrd.engine.call import Call, Frame
from ivrd.esl.applications import ExecuteResult, bridge_arg, multiset_arg
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
    await call.app("multiset", multiset_arg(BRIDGE_SETUP))
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


async def run_queue(call: Call, frame: Frame, name: str, step: QueueStep) -> StepOutcome:
    """mod_callcenter: `cc_cause` is `answered` or `cancel` (with `cc_cancel_reason`)."""
    await prompts.play(call, frame, step.prompt)
    result = await call.app("callcenter", call.render(step.name, frame), interruptible=False)
    cause = result.variable("cc_cause")
    reason = result.variable("cc_cancel_reason")
    if cause == "answered":
        outcome = "answered"
    elif cause == "cancel" and reason in ("TIMEOUT", "BREAK_OUT", "EXIT_WITH_KEY"):
        outcome = "no_answer"
    else:
        outcome = "unavailable"
    frame.result = {"outcome": outcome, "cause": cause or "", "reason": reason or ""}
    return outcome, frame.flow.route(name, outcome)
