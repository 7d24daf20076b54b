"""The calls in progress: admitting a call (limits, routing), running its flow, ending it.

`CallDesk.handle` is the outbound server's handler, one task per call. It reads the daemon's
current `Snapshot` once, so a call runs with the configuration and flow version of the moment
it arrived, whatever a reload does meanwhile. Every path ends the call: run_call hangs up
itself; a call that is refused or has no flow is hung up here; after the handler returns, the
session sends `exit` (and hangs up on its own if we could not).

`limits.call_timeout` is kept by one task for all calls (`enforce_call_timeouts`, run by the
daemon), not a timer task per call: the deadlines of the calls in progress sit in a dict, and
the task sleeps until the earliest, so calls that end in time cost an insertion and a removal.

Refusing: past `limits.max_calls`, and while draining, a call is refused at once.
`limits.when_full: hangup` hangs it up with NORMAL_TEMPORARY_FAILURE (SIP 503, which tells the
caller's network to try another route); `resume` sends `resume` and `exit` instead, so
FreeSWITCH goes on with the next dialplan action, typically a `socket` to another ivrd.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import anyio
import httpx

from ivrd.daemon.config import Config
from ivrd.daemon.registry import FlowRegistry
from ivrd.daemon.routing import route_call
from ivrd.engine import Trace, run_call
from ivrd.esl import ESLError, OutboundSession
from ivrd.esl.protocol import commands
from ivrd.flow import Flow
from ivrd.flow.durations import format_duration
from ivrd.observability import Metrics

__all__ = ["FULL_CAUSE", "SHUTDOWN_CAUSE", "TIMEOUT_CAUSE", "CallDesk", "Snapshot"]

log = logging.getLogger("ivrd.daemon")

FULL_CAUSE = "NORMAL_TEMPORARY_FAILURE"
SHUTDOWN_CAUSE = "SYSTEM_SHUTDOWN"
TIMEOUT_CAUSE = "ALLOTTED_TIMEOUT"
COMMAND_DEADLINE = 10.0
"""Seconds a hangup or resume we send may take before we give up on it (the session's own
teardown still hangs up and closes)."""
PATH_SHOWN = 30
"""Steps of a call's path in its summary line; the full trace is logged at debug level."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a call needs from the daemon, replaced whole on reload."""

    config: Config
    registry: FlowRegistry
    secrets: Mapping[str, str] = field(default_factory=dict)


class CallDesk:
    """Admits, runs and, on a drain, ends the daemon's calls."""

    def __init__(self, snapshot: Callable[[], Snapshot], metrics: Metrics | None = None) -> None:
        self._snapshot = snapshot
        self.metrics = metrics
        self.http_client: httpx.AsyncClient | None = None
        self.accepting = True
        self._active: set[OutboundSession] = set()
        self._idle: anyio.Event | None = None
        self._deadlines: dict[OutboundSession, tuple[float, timedelta]] = {}
        self._next_deadline = math.inf
        self._deadline_added: anyio.Event | None = None
        self.total_calls = 0
        self.refused_calls = 0

    @property
    def active_calls(self) -> int:
        return len(self._active)

    @property
    def timed_calls(self) -> int:
        """Calls whose `limits.call_timeout` is being watched (the running ones)."""
        return len(self._deadlines)

    async def wait_idle(self) -> None:
        """Return once no call is running (at once if none is)."""
        while self._active:
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()

    async def handle(self, session: OutboundSession) -> None:
        """The outbound server's handler: one call, start to end."""
        snapshot = self._snapshot()
        limits = snapshot.config.limits
        if not self.accepting:
            await self._refuse(session, snapshot, "draining", "ivrd is shutting down")
            return
        if len(self._active) >= limits.max_calls:
            why = f"{limits.max_calls} calls are running (limits.max_calls)"
            await self._refuse(session, snapshot, "max_calls", why)
            return
        routing = snapshot.config.routing
        decision = route_call(
            routing,
            snapshot.registry,
            variable=session.variable(routing.variable) if routing.variable else None,
            destination=session.channel_data.get("Caller-Destination-Number"),
        )
        if decision.flow is None:
            if self.metrics is not None:
                self.metrics.call_refused("no_flow")
            cause = decision.cause or FULL_CAUSE
            log.warning(
                "no flow for this call: %s; hanging up (%s)",
                decision.reason,
                cause,
                extra={"call_uuid": session.uuid},
            )
            await _hang_up(session, cause)
            return
        flow = decision.flow
        self._active.add(session)
        self.total_calls += 1
        self._add_deadline(session, limits.call_timeout)
        trace: Trace | None = None
        try:
            trace = await self._run(session, flow, decision.reason, snapshot)
        finally:
            self._active.discard(session)
            self._deadlines.pop(session, None)
            if not self._active and self._idle is not None:
                self._idle.set()
                self._idle = None
            if self.metrics is not None:
                _count(self.metrics, flow.name, trace)
        _log_summary(trace)

    async def _run(self, session: OutboundSession, flow: Flow, why: str, snap: Snapshot) -> Trace:
        limits = snap.config.limits
        max_steps = min(limits.max_steps, flow.defaults.max_steps or limits.max_steps)
        log.info(
            "running flow %s (%s)",
            flow.name,
            why,
            extra={"call_uuid": session.uuid, "flow": flow.name},
        )
        if self.metrics is not None:
            self.metrics.call_started(flow.name)
        return await run_call(
            session,
            flow,
            secrets=snap.secrets,
            http_client=self.http_client,
            max_steps=max_steps,
        )

    def _add_deadline(self, session: OutboundSession, limit: timedelta) -> None:
        deadline = anyio.current_time() + limit.total_seconds()
        self._deadlines[session] = (deadline, limit)
        if deadline < self._next_deadline and self._deadline_added is not None:
            self._deadline_added.set()  # earlier than the watch sleeps for (a reload shortened it)

    async def enforce_call_timeouts(self) -> None:
        """Hang up each call that runs longer than `limits.call_timeout` (as it was when the
        call came in). Runs until cancelled; one task for all calls."""
        async with anyio.create_task_group() as hangups:
            while True:
                now = anyio.current_time()
                expired = [s for s, (deadline, _) in self._deadlines.items() if deadline <= now]
                for session in expired:
                    _, limit = self._deadlines.pop(session)
                    hangups.start_soon(_time_limit_passed, session, limit)
                self._next_deadline = min(
                    (deadline for deadline, _ in self._deadlines.values()), default=math.inf
                )
                self._deadline_added = added = anyio.Event()
                with anyio.CancelScope(deadline=self._next_deadline):
                    await added.wait()

    async def _refuse(
        self, session: OutboundSession, snapshot: Snapshot, reason: str, why: str
    ) -> None:
        self.refused_calls += 1
        if self.metrics is not None:
            self.metrics.call_refused(reason)
        if snapshot.config.limits.when_full == "resume":
            log.warning(
                "refused a call: %s; handing it back to the dialplan (resume)",
                why,
                extra={"call_uuid": session.uuid},
            )
            with anyio.move_on_after(COMMAND_DEADLINE):
                try:
                    await session.command(commands.resume())
                except ESLError as exc:
                    log.info(
                        "could not resume the call: %s", exc, extra={"call_uuid": session.uuid}
                    )
            return
        log.warning(
            "refused a call: %s; hanging up (%s)",
            why,
            FULL_CAUSE,
            extra={"call_uuid": session.uuid},
        )
        await _hang_up(session, FULL_CAUSE)

    async def hang_up_all(self, cause: str) -> None:
        """Hang every running call up now; each flow then ends as if the caller hung up."""
        async with anyio.create_task_group() as tasks:
            for session in list(self._active):
                tasks.start_soon(send_hangup, session, cause)


async def _time_limit_passed(session: OutboundSession, limit: timedelta) -> None:
    log.warning(
        "the call is longer than limits.call_timeout (%s); hanging up",
        format_duration(limit),
        extra={"call_uuid": session.uuid},
    )
    await send_hangup(session, TIMEOUT_CAUSE)


async def _hang_up(session: OutboundSession, cause: str) -> None:
    """Hang up with the `hangup` application; returns when FreeSWITCH confirms (bounded)."""
    with anyio.move_on_after(COMMAND_DEADLINE):
        try:
            await session.hangup(cause)
        except ESLError as exc:
            log.info("could not hang up: %s", exc, extra={"call_uuid": session.uuid})


async def send_hangup(session: OutboundSession, cause: str) -> None:
    """Hang a call up now, while its flow may be running an application.

    `api uuid_kill`, not `sendmsg` with `call-command: hangup`: FreeSWITCH reads a queued
    message only between applications sent with `event-lock`, so a hangup message would wait
    for the running prompt (hold music: forever). The flow then sees CHANNEL_HANGUP and ends
    as if the caller had hung up.
    """
    if session.hangup_cause is not None or session.closed:
        return
    with anyio.move_on_after(COMMAND_DEADLINE):
        try:
            await session.api(f"uuid_kill {session.uuid} {cause}")
        except ESLError as exc:
            log.info("could not hang up: %s", exc, extra={"call_uuid": session.uuid})


def _log_summary(trace: Trace) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    path = trace.path
    shown = " > ".join(path[:PATH_SHOWN]) + (" > ..." if len(path) > PATH_SHOWN else "")
    extra = {
        "call_uuid": trace.uuid,
        "flow": trace.flow,
        "disposition": trace.disposition,
        "steps": len(trace.steps),
        "duration": round(trace.elapsed(), 3),
        "hangup_cause": trace.hangup_cause,
        "path": shown,
    }
    log.info("call finished: %s", trace.disposition, extra=extra)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("call trace", extra={"call_uuid": trace.uuid, "trace": trace.as_dict()})


def _count(metrics: Metrics, flow: str, trace: Trace | None) -> None:
    if trace is None:  # cancelled (a forced stop): no trace to count
        metrics.call_ended(flow, "cancelled", 0.0)
        return
    for step in trace.steps:
        # An outcome may carry the branch taken, `next (result.status == 200)`: count the word.
        outcome = (step.outcome or "none").split(" (", 1)[0]
        metrics.step_finished(flow, step.type, outcome, step.duration)
    if trace.esl_error is not None:
        metrics.esl_error(trace.esl_error)
    metrics.call_ended(flow, trace.disposition or "unknown", trace.elapsed())
