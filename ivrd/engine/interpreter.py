"""The interpreter: runs a flow over one call, step by step, to the end.

`run_call` is the one place per call that catches every failure. Whatever happens (the flow
ends with a `hangup` step, the caller hangs up mid-step, FreeSWITCH goes away, a step fails
with no `on.error`, the step limit is reached, or a bug) the call ends with a hangup and a
trace, and `on.hangup` runs exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx

from ivrd.engine import prompts
from ivrd.engine.call import Call, Frame, Interrupted, StepFailed
from ivrd.engine.ending import hang_up, polite_hangup, run_hangup_hooks
from ivrd.engine.input import run_input
from ivrd.engine.session import CallSession
from ivrd.engine.steps import RUNNERS, STEP_ERRORS, StepEnv
from ivrd.engine.trace import Redactor, StepRecord, Trace
from ivrd.engine.transfer import run_queue, run_transfer
from ivrd.esl.errors import CallHangup, CommandError, ConnectionClosed, ESLError, ESLTimeout
from ivrd.esl.latch import Latch
from ivrd.esl.protocol import Event
from ivrd.esl.timeouts import deadline, loop_clock, running_asyncio_loop
from ivrd.flow import Flow
from ivrd.flow.routes import Choice, Route
from ivrd.flow.steps import HangupStep, InputStep, QueueStep, RunStep, TransferStep
from ivrd.logs import call_flow, call_uuid

log = logging.getLogger("ivrd.engine")

DEFAULT_MAX_STEPS = 1000
MAX_ERROR_ROUTES = 3


class CallEnded(Exception):
    """The flow is over without a `hangup` step (a dead end, the step limit, an error)."""

    def __init__(self, disposition: str, message: str) -> None:
        super().__init__(message)
        self.disposition = disposition


class Interpreter:
    def __init__(self, call: Call, env: StepEnv, max_steps: int) -> None:
        self.call = call
        self.env = env
        self.max_steps = max_steps
        self.errors = 0

    async def ensure_media(self, flow: Flow) -> None:
        call = self.call
        if call.answered:
            return
        mode = flow.defaults.answer
        if mode == "answer":
            await call.app("answer")
        elif mode == "early_media":
            await call.app("pre_answer")
        call.answered = mode != "none"

    def resolve(self, route: Route, frame: Frame) -> tuple[str, str]:
        """Where a route leads (setting its variables); and the branch taken, for the trace."""
        branch = ""
        if isinstance(route, Choice):
            go = route.resolve(lambda b: self.call.holds(b.condition, frame))
            branch = next(
                (
                    b.condition.source
                    for b in route.conditions
                    if b.go == go.go and b.set_vars == go.set_vars
                ),
                "else",
            )
        else:
            go = route
        for name, template in go.set_vars.items():
            frame.vars[name] = self.call.value(template, frame)
            self.call.trace.changed(name, frame.vars[name], sensitive=name in frame.sensitive)
        return go.go, branch

    async def run_frame(self, frame: Frame, *, root: bool) -> str | None:
        """Run `frame`'s flow from its start: the return taken (a subflow), or None (hung up)."""
        call, flow = self.call, frame.flow
        name = flow.start
        while True:
            call.steps_taken += 1
            if call.steps_taken > self.max_steps:
                raise CallEnded("max_steps", f"the call took more than {self.max_steps} steps")
            step = flow.steps[name]
            call.interrupts.enter(name)
            record = call.trace.enter(name, step.type, flow.name)
            try:
                if step.needs_media:
                    await self.ensure_media(flow)
                outcome, route = await self.run_step(frame, name, step)
                call.interrupts.raise_pending()
            except Interrupted as interruption:
                if not root:
                    call.trace.leave(record, interruption.reason, None)
                    raise
                outcome, route = interruption.reason, interruption.route
            except STEP_ERRORS as exc:
                outcome, route = "error", self.error_route(record, exc, root=root)
            except BaseException as exc:
                # The call ended mid-step (hangup, lost socket, cancelled): the trace still
                # says how and when.
                if record.outcome is None:
                    call.trace.leave(record, _ended_by(call, exc), None)
                raise
            if isinstance(step, HangupStep | RunStep) and outcome == "hangup" and route is None:
                # A `hangup` step ended the call (here or in the subflow this step ran).
                call.trace.leave(record, outcome, None)
                return None
            if route is None:
                call.trace.leave(record, outcome, None)
                raise CallEnded("error", f"step {name}: outcome '{outcome}' leads nowhere")
            while True:
                try:
                    target, branch = self.resolve(route, frame)
                    break
                except STEP_ERRORS as exc:
                    # A condition or a variable of the route failed: a failure of the step.
                    if outcome == "error":
                        call.trace.leave(record, "error", None)
                        message = call.trace.redact(str(exc))
                        raise CallEnded("error", f"step {name}: on.error: {message}") from None
                    outcome, route = "error", self.error_route(record, exc, root=root)
            call.trace.leave(record, f"{outcome} ({branch})" if branch else outcome, target)
            if flow.is_subflow and target in flow.returns:
                return target
            name = target

    def error_route(self, record: StepRecord, exc: Exception, *, root: bool) -> Route:
        """Where a failed step goes (`on.error`); raises when the call cannot go on here."""
        call = self.call
        message = record.error = call.trace.redact(str(exc))
        if not root:
            # The `run` step in the calling flow fails in turn.
            call.trace.leave(record, "error", None)
            raise exc
        log.warning("step %s failed: %s", record.step, message, extra={"step": record.step})
        self.errors += 1
        route = call.flow.on.error
        if route is None or self.errors > MAX_ERROR_ROUTES:
            call.trace.leave(record, "error", None)
            raise CallEnded("error", f"step {record.step} failed: {message}") from None
        return route

    async def run_step(self, frame: Frame, name: str, step: Any) -> tuple[str, Route | None]:
        if isinstance(step, InputStep):
            return await run_input(self.call, frame, step, name)
        if isinstance(step, TransferStep):
            return await run_transfer(self.call, frame, name, step)
        if isinstance(step, QueueStep):
            return await run_queue(self.call, frame, name, step)
        if isinstance(step, RunStep):
            return await self.run_subflow(frame, name, step)
        if isinstance(step, HangupStep):
            await prompts.play(self.call, frame, step.prompt)
            await hang_up(self.call, step.cause)
            return "hangup", None
        return await RUNNERS[step.type](self.call, frame, name, step, self.env)

    async def run_subflow(self, frame: Frame, name: str, step: RunStep) -> tuple[str, Route | None]:
        call = self.call
        subflow = frame.flow.subflow(step.subflow)
        child = Frame(subflow, {})
        for variable, template in subflow.variables.items():
            child.vars[variable] = call.value(template, child)
        for variable, spec in subflow.inputs.items():
            given = step.inputs.get(variable)
            if given is not None:
                raw: str | None = call.value(given, frame)
            elif spec.default is not None:
                raw = call.value(spec.default, child)
            else:
                raw = None
            if raw is None:
                raise StepFailed(f"subflow {step.subflow} needs the input '{variable}'")
            child.vars[variable] = convert_input(raw, spec.type, variable)
        returned = await self.run_frame(child, root=False)
        if returned is None:
            return "hangup", None
        if step.save_as:
            outputs = {key: child.vars.get(key) for key in subflow.outputs}
            frame.vars[step.save_as] = outputs
            call.trace.changed(step.save_as, outputs)
        frame.result = {"returned": returned}
        return returned, frame.flow.route(name, returned)


def _ended_by(call: Call, exc: BaseException) -> str:
    if isinstance(exc, CallHangup | anyio.get_cancelled_exc_class()):
        if call.hanging_up:
            return "hangup"
        if isinstance(exc, CallHangup) or call.hangup_cause is not None:
            return "caller_hangup"
        return "stopped"
    if isinstance(exc, ConnectionClosed):
        return "disconnected"
    return "error"


def convert_input(raw: str, kind: str, name: str) -> Any:
    if kind == "number":
        try:
            return int(raw) if raw.lstrip("-").isdigit() else float(raw)
        except ValueError:
            raise StepFailed(f"input '{name}' must be a number, got {raw!r}") from None
    if kind == "boolean":
        return raw.strip().lower() in ("true", "yes", "on", "1")
    if kind == "digits" and not all(ch in "0123456789*#" for ch in raw):
        raise StepFailed(f"input '{name}' must be digits, got {raw!r}")
    return raw


async def run_call(
    session: CallSession,
    flow: Flow,
    *,
    secrets: Mapping[str, str] | None = None,
    http_client: httpx.AsyncClient | None = None,
    now: Callable[[], datetime] | None = None,
    max_steps: int | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Trace:
    """Run `flow` over the call on `session` until the call ends; its trace."""
    secrets = dict(secrets or {})
    clock = now or (lambda: datetime.now(UTC))
    uuid_token, flow_token = call_uuid.set(session.uuid), call_flow.set(flow.name)
    try:
        # Found once per call, and read often (see ivrd.esl.timeouts.current_clock).
        loop = running_asyncio_loop()
        trace = Trace(session.uuid, flow.name, Redactor(secrets.values()), clock=loop_clock(loop))
        call = Call(session, flow, trace, secrets=secrets, now=clock())
        limit = max_steps or flow.defaults.max_steps or DEFAULT_MAX_STEPS
        interpreter = Interpreter(call, StepEnv(http_client, clock), limit)
        await _run(call, interpreter, flow, dict(variables or {}), loop)
        return trace
    finally:
        call_uuid.reset(uuid_token)
        call_flow.reset(flow_token)


HANGUP_EVENT_WAIT = 5.0
"""Seconds to wait, after the flow ended, for FreeSWITCH to report the call gone."""


async def _run(
    call: Call,
    interpreter: Interpreter,
    flow: Flow,
    variables: dict[str, Any],
    loop: asyncio.AbstractEventLoop | None,
) -> None:
    trace, session = call.trace, call.session
    hung_up = Latch()
    flow_scope = anyio.CancelScope()
    flow_ended = False

    # In the session's reader, in order, as FreeSWITCH sends the events: no task per event.
    def on_hangup(event: Event) -> None:
        call.hangup_cause = event.get("Hangup-Cause") or call.hangup_cause

    def on_hangup_complete(event: Event) -> None:
        on_hangup(event)
        hung_up.set()
        # Whatever the flow waits for, the call is gone. On asyncio at the loop's next turn:
        # the hangup (which comes first) has already woken the flow, which usually ends then
        # by itself (the hangup step completed, or CallHangup), with no cancellation to
        # unwind; a flow still waiting for something else is cancelled right after.
        if loop is None:
            flow_scope.cancel()
        else:
            loop.call_soon(cancel_flow)

    def cancel_flow() -> None:
        if not flow_ended:  # (anyio's cancel costs as much for a scope already left)
            flow_scope.cancel()

    removers = [
        session.listen(call.interrupts.on_dtmf, "DTMF"),
        session.listen(on_hangup, "CHANNEL_HANGUP"),
        session.listen(on_hangup_complete, "CHANNEL_HANGUP_COMPLETE"),
    ]
    if log.isEnabledFor(logging.DEBUG):
        log.debug("call started", extra={"caller": call.namespace.get("caller_id_number")})

    async def run_flow() -> None:
        nonlocal flow_ended
        with flow_scope:
            trace.disposition = await _run_flow(call, interpreter, flow, variables)
        flow_ended = True
        if flow_scope.cancelled_caught:
            trace.disposition = "hangup" if call.hanging_up else "caller_hangup"
        if trace.disposition != "disconnected" and not hung_up.is_set():
            # on.hangup runs once the call is gone (CHANNEL_HANGUP_COMPLETE), as promised.
            await hung_up.wait(deadline(HANGUP_EVENT_WAIT, trace.clock))

    try:
        if not (flow.on.key or flow.on.call_longer_than):
            await run_flow()  # nothing can start work beside the flow: no task group needed
        else:
            # A key hook breaks the running prompt, the long-call timer waits: beside the flow.
            async with anyio.create_task_group() as tasks:
                call.background.tasks = tasks
                if flow.on.call_longer_than is not None:
                    hook = flow.on.call_longer_than

                    async def long_call_timer() -> None:
                        await anyio.sleep(hook.after.total_seconds())
                        call.interrupts.fire("call_longer_than", hook)

                    call.background.start_soon(long_call_timer)
                await run_flow()
                call.background.tasks = None
                if call.background.running:
                    tasks.cancel_scope.cancel()
    finally:
        call.background.tasks = None
        for remove in removers:
            remove()
        # Also when the daemon cancels the call (shutdown): on.hangup still runs, once.
        if trace.disposition is None:
            trace.disposition = "stopped"
        trace.hangup_cause = call.hangup_cause
        await run_hangup_hooks(call, interpreter.env.http_client)
        log.debug(
            "call ended: %s",
            trace.disposition,
            extra={"steps": len(trace.steps), "hangup_cause": trace.hangup_cause},
        )


async def _run_flow(
    call: Call, interpreter: Interpreter, flow: Flow, variables: dict[str, Any]
) -> str:
    frame = call.root = Frame(flow, {})
    try:
        for name, template in flow.variables.items():
            frame.vars[name] = call.value(template, frame)
        frame.vars.update(variables)
        if not flow.on.key:
            # Keys matter only to key hooks (input is play_and_get_digits' own): without
            # any, the call's DTMF events, each with the channel data, are not needed.
            call.session.stop_events("DTMF")
        # ivrd decides about keys itself: FreeSWITCH would end a playback on `*` on its own.
        call.settings(
            "multiset",
            f"^^|playback_terminators=none|tts_engine={flow.tts.engine}|tts_voice={flow.tts.voice}",
        )
        await interpreter.run_frame(frame, root=True)
        return "hangup"
    except CallHangup as exc:
        call.hangup_cause = call.hangup_cause or exc.cause
        return "caller_hangup"
    except ConnectionClosed:
        call.trace.esl_error = "connection_closed"
        return "disconnected"
    except CallEnded as exc:
        log.error("%s", call.trace.redact(str(exc)), extra={"disposition": exc.disposition})
        await polite_hangup(call)
        return exc.disposition
    except (ESLError, *STEP_ERRORS) as exc:
        if isinstance(exc, ESLError):
            call.trace.esl_error = _esl_error_kind(exc)
        log.error("call failed: %s", call.trace.redact(str(exc)))
        await polite_hangup(call)
        return "error"
    except Exception:
        # The one place a call catches everything: a bug must cost this call, not the daemon.
        log.exception("unexpected error in the flow interpreter")
        await polite_hangup(call)
        return "error"


def _esl_error_kind(exc: ESLError) -> str:
    if isinstance(exc, ESLTimeout):
        return "timeout"
    if isinstance(exc, CommandError):
        return "command_error"
    return "other"
