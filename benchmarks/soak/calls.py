"""Placing the soak's calls from the fake FreeSWITCH, and judging how each one ended.

`place_calls` dials N calls, C at a time (a call that ends frees its line for the next), each
with its `CallPlan`: the caller's script, perhaps a fault, perhaps a hangup at a random moment
(a task beside the call, so it can strike anywhere: in a prompt, in the CRM lookup, in a
transfer). `judge` sorts each call by how it ended, from the fake's record and the daemon's log:

- lost: the fake's deadline for the call passed with the socket still open;
- failed: the channel never hung up, the fake saw the server break a rule (a violation), the
  server did not send `exit` on a socket that still worked, or the daemon started the flow and
  never logged its end (or, for a call without a fault, ended it in an unexpected way);
- otherwise by what ended it: an injected fault, the caller hanging up, or the flow (normal).

One excuse: a `sendmsg` after a hangup the server could not know of yet (the caller's or the
switch's, crossing on the wire; or any, once a `no_reply` fault keeps every event from it) is not
the server's mistake, so that `after-hangup` violation is counted, not failed.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio

from ivrd.testing import Channel, FakeFreeSWITCH, OutboundCall
from ivrd.testing.record import CallRecord, Violation

from .callers import Behaviour, CallPlan, plan_call

# Faults that leave the socket working: the server can and must still say `exit`.
SOCKET_SURVIVES = {"no_reply", "unknown_application", "hangup_before_complete"}
OUTCOMES = ("normal", "caller_hangup", "fault", "failed", "lost")


@dataclass
class Ended:
    """One call as the fake saw it, kept until the daemon's log has caught up."""

    uuid: str | None
    outcome: str
    why: str | None
    expected: tuple[str, ...] | None
    """The dispositions the daemon may log (calls without a fault), else None."""
    details: dict[str, Any]


@dataclass
class Tally:
    """How a batch of calls ended."""

    placed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    faults_not_reached: int = 0
    raced_hangups: int = 0
    daemon_dispositions: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)
    call_seconds: list[float] = field(default_factory=list)
    ended: list[Ended] = field(default_factory=list)
    slowest: list[dict[str, Any]] = field(default_factory=list)

    def settle(self, started: set[str], finished: dict[str, str]) -> None:
        """Judge every call against the daemon's log (once it has caught up)."""
        for call in self.ended:
            outcome, why = call.outcome, call.why
            logged = finished.get(call.uuid) if call.uuid is not None else None
            if outcome != "lost":
                self.daemon_dispositions[logged or "(no flow)"] += 1
            if why is None and call.uuid in started and logged is None:
                why = "the daemon started the flow and never logged its end"
            if why is None and call.expected is not None and logged not in call.expected:
                why = f"the daemon ended the call as {logged!r}, not {' or '.join(call.expected)}"
            if why is not None and outcome != "lost":
                outcome = "failed"
            self.outcomes[outcome] += 1
            self.slowest = sorted(
                [*self.slowest, call.details], key=lambda d: -(d.get("seconds") or 0)
            )[:5]
            if outcome in ("failed", "lost"):
                self.failures.append({"outcome": outcome, "why": why, **call.details})
        self.ended.clear()

    def as_dict(self) -> dict[str, Any]:
        seconds = sorted(self.call_seconds)

        def at(share: float) -> float | None:
            return (
                round(seconds[min(len(seconds) - 1, int(share * len(seconds)))], 2)
                if seconds
                else None
            )

        return {
            "placed": self.placed,
            "call_seconds": {"median": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": at(1.0)},
            "slowest": sorted(self.slowest, key=lambda d: -(d.get("seconds") or 0))[:5],
            "outcomes": {name: self.outcomes[name] for name in OUTCOMES},
            "faults_injected": dict(self.faults),
            "faults_not_reached": self.faults_not_reached,
            "hangups_crossed_by_a_command": self.raced_hangups,
            "daemon_dispositions": dict(self.daemon_dispositions),
            "failures": self.failures[:20],
        }


def _failure(record: CallRecord) -> str | None:
    """Why this call failed as the fake saw it, or None."""
    fault = record.fault if record.fault is not None and record.fault.injected else None
    if record.hangup_at is None:
        return "the channel never hung up"
    crossed = record.hangup_by in ("caller", "switch")
    blind_from = fault.injected_at if fault is not None and fault.fault.kind == "no_reply" else None

    def excused(violation: Violation) -> bool:
        if violation.kind != "after-hangup":
            return False
        return crossed or (blind_from is not None and violation.at >= blind_from)

    wrong = [v for v in record.violations if not excused(v)]
    if wrong:
        return f"violation {wrong[0].kind}: {wrong[0].detail}"
    survives = fault is None or fault.fault.kind in SOCKET_SURVIVES
    if fault is not None and fault.fault.kind == "disconnect_notice" and fault.fault.linger:
        survives = True
    if survives and not record.exit_sent:
        return "the server never sent exit"
    return None


def judge(record: CallRecord | None, plan: CallPlan, tally: Tally, error: str | None) -> None:
    """Count one call in `tally`; `Tally.settle` finishes the judgement."""
    tally.placed += 1
    details: dict[str, Any] = {
        "fault": str(plan.fault) if plan.fault is not None else None,
        "keys": plan.keys,
        "hangup_after": plan.hangup_after,
    }
    if record is None or record.timed_out:
        why = error or "no end within the call deadline"
        uuid = record.uuid if record is not None else None
        tally.ended.append(Ended(uuid, "lost", why, None, details))
        return
    fault = record.fault
    injected = fault is not None and fault.injected
    if fault is not None:
        if fault.injected:
            tally.faults[fault.fault.kind] += 1
        else:
            tally.faults_not_reached += 1
    tally.raced_hangups += sum(1 for v in record.violations if v.kind == "after-hangup")
    if record.ended_at is not None:
        tally.call_seconds.append(record.ended_at - record.started_at)
    why = _failure(record)
    if injected:
        outcome, expected = "fault", None
    elif record.hangup_by == "server":
        outcome, expected = "normal", ("hangup",)
    else:
        # To the daemon any hangup it did not ask for is the caller's (the switch hangs up too:
        # mod_callcenter after the agent's call); one that comes during the last step's
        # goodbye prompt may still count as the flow's own `hangup`.
        outcome = "caller_hangup" if record.hangup_by == "caller" else "normal"
        expected = ("caller_hangup", "hangup")
    # Kept for every call (a failure may only show once the daemon's log is read): small.
    details.update(
        uuid=record.uuid,
        apps=" ".join(app.name for app in record.apps),
        hangup=f"{record.hangup_by} {record.hangup_cause}",
        seconds=round(record.ended_at - record.started_at, 2) if record.ended_at else None,
    )
    if why is not None:
        details.update(
            fault_record=repr(fault),
            commands=record.command_lines()[-8:],
            violations=[repr(v) for v in record.violations[:3]],
            notes=record.notes[-5:],
        )
    tally.ended.append(Ended(record.uuid, outcome, why, expected, details))


async def _hang_up_later(call: OutboundCall, after: float) -> None:
    """The caller hangs up `after` seconds into the call (counted from its first application)."""
    while not call.runs and not call.done.is_set():
        await call.changed.wait()
    await anyio.sleep(after)
    if call.state.up:
        call.caller_hangup("NORMAL_CLEARING")


async def one_call(
    fake: FakeFreeSWITCH, port: int, plan: CallPlan, deadline: float
) -> tuple[CallRecord | None, str | None]:
    """Dial the daemon and play one call; (record, None), or (None, why it never connected)."""
    channel = Channel(caller_id_number="+4930123456", destination_number="498912345")
    call = fake.new_call("127.0.0.1", port, caller=plan.caller, channel=channel)
    try:
        with anyio.fail_after(60):
            stream = await anyio.connect_tcp("127.0.0.1", port)
    except (OSError, TimeoutError) as exc:
        fake.calls.pop(call.uuid, None)
        return None, f"could not connect: {exc!r}"
    async with anyio.create_task_group() as tasks:
        if plan.hangup_after is not None:
            tasks.start_soon(_hang_up_later, call, plan.hangup_after)
        record = await call.run(stream, deadline)
        tasks.cancel_scope.cancel()
    fake.records.clear()  # the record is judged and dropped: 20,000 of them would weigh GBs
    return record, None


async def place_calls(
    port: int,
    count: int,
    concurrency: int,
    behaviour: Behaviour,
    rng: random.Random,
    deadline: float,
    tally: Tally,
) -> None:
    """`count` calls, `concurrency` at a time, each judged into `tally`."""
    fake = FakeFreeSWITCH(call_timeout=deadline)
    plans = (plan_call(rng, behaviour) for _ in range(count))

    async def line() -> None:
        for plan in plans:
            record, error = await one_call(fake, port, plan, deadline)
            judge(record, plan, tally, error)

    async with anyio.create_task_group() as lines:
        for _ in range(min(concurrency, count)):
            lines.start_soon(line)
