"""Running scenarios: the real outbound server and interpreter, the fake FreeSWITCH dialling in.

Each scenario gets its own `OutboundServer` on a loopback port whose handler runs the flow with
`run_call` (HTTP through `MockServices`, the clock at the scenario's `at`), and its own
`FakeFreeSWITCH`, which dials in with the scenario's channel data, transfer and queue outcomes
while `play_caller` acts as the caller. Nothing is mocked between the two: what passes here is the
byte stream FreeSWITCH would see.

`run_cases` runs scenarios concurrently (a task group, a capacity limiter) inside one trio run
on `MockClock(autojump_threshold=0)`: whenever every task waits, the clock jumps to the next
deadline, so silences, digit timeouts, ring and talk times cost no real time. The flow's `now`
is the scenario's `at` plus the simulated time since its call began. Warnings the engine logs
for a call are kept with that call's result.
"""

from __future__ import annotations

import logging
import time
import uuid as uuidlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
from trio.testing import MockClock

from ivrd.engine import Trace, run_call
from ivrd.esl import OutboundServer, OutboundSession
from ivrd.logs import call_uuid
from ivrd.scenarios.caller import ActedAction, play_caller
from ivrd.scenarios.loading import ScenarioCase
from ivrd.scenarios.mockhttp import MockServices, SeenRequest
from ivrd.scenarios.models import QueueResult, TransferResult
from ivrd.testing import (
    AgentAnswers,
    Answered,
    BridgeOutcome,
    Busy,
    Caller,
    CallRecord,
    Channel,
    Failed,
    FakeFreeSWITCH,
    NoAgent,
    NoAnswer,
    NoSuchQueue,
    OutboundCall,
    QueueOutcome,
    QueueTimeout,
)

__all__ = [
    "CallLogs",
    "CallOutcome",
    "bridge_outcome",
    "collecting_logs",
    "queue_outcome",
    "run_case",
    "run_cases",
    "run_in_mock_time",
]

DEFAULT_MAX_DURATION = 3600.0
"""Simulated seconds a scenario's call may last unless it sets `max_duration`."""
CONNECT_TIMEOUT = 10.0
HANDLER_GRACE = 60.0
"""Simulated seconds the flow may take to finish after the fake's socket closed."""
DEFAULT_CONCURRENCY = 8


@dataclass(slots=True)
class CallOutcome:
    """What happened in one scenario's call."""

    record: CallRecord | None = None
    trace: Trace | None = None
    actions: list[ActedAction] = field(default_factory=list)
    requests: list[SeenRequest] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    problem: str | None = None
    """Why the call could not be judged (no trace, a crash); None when it ran."""
    seconds: float = 0.0
    """Real seconds the scenario took."""
    simulated: float = 0.0
    """Simulated seconds from the call's start to the end of its flow."""


def bridge_outcome(result: TransferResult) -> BridgeOutcome:
    """The fake's outcome for a scenario's transfer result."""
    ring = result.ring.total_seconds() if result.ring is not None else None
    if result.result == "answered":
        talk = result.talk.total_seconds()
        return Answered(talk=talk) if ring is None else Answered(talk=talk, ring=ring)
    if result.result == "busy":
        return Busy() if ring is None else Busy(ring=ring)
    if result.result == "failed":
        return Failed(result.cause) if ring is None else Failed(result.cause, ring=ring)
    return NoAnswer()


def queue_outcome(result: QueueResult) -> QueueOutcome:
    """The fake's outcome for a scenario's queue result (its own defaults where none given)."""
    wait = {} if result.wait is None else {"wait": result.wait.total_seconds()}
    if result.result == "answered":
        return AgentAnswers(**wait, talk=result.talk.total_seconds(), agent=result.agent)
    if result.result == "timeout":
        return QueueTimeout(**wait)
    if result.result == "no_agent":
        return NoAgent(**wait)
    return NoSuchQueue()


def _fake_caller(case: ScenarioCase) -> Caller:
    settings = case.settings
    bridge = {
        target: bridge_outcome(result)
        for target, result in settings.transfers.items()
        if target != "*"
    }
    default = settings.transfers.get("*")
    queues = settings.queues
    return Caller(
        bridge=bridge,
        bridge_default=bridge_outcome(default) if default is not None else Answered(),
        files={path: length.total_seconds() for path, length in settings.files.items()},
        durations={app: length.total_seconds() for app, length in settings.durations.items()},
        hangup_after_voicemail=settings.hangup_after_voicemail is not False,
        queues={name: queue_outcome(result) for name, result in queues.items() if name != "*"},
        queue_default=queue_outcome(queues["*"]) if "*" in queues else NoSuchQueue(),
    )


def _channel(case: ScenarioCase, uuid: str) -> Channel:
    settings = case.settings
    defaults = Channel()
    return Channel(
        uuid=uuid,
        caller_id_number=settings.caller_id or defaults.caller_id_number,
        caller_id_name=settings.caller_name or defaults.caller_id_name,
        destination_number=settings.destination or defaults.destination_number,
        variables=dict(settings.channel),
    )


Act = Callable[[OutboundCall, list[ActedAction]], Coroutine[Any, Any, None]]
"""The caller's side of a call: acts on the live fake call (the scenario's `play_caller`, or a
person typing in `ivrd simulate`); cancelled when the call is over."""


async def run_case(
    case: ScenarioCase,
    started: datetime,
    *,
    act: Act | None = None,
    on_request: Callable[[SeenRequest], None] | None = None,
) -> CallOutcome:
    """One scenario's call, start to end; `started` is "now" for scenarios without `at`."""
    outcome = CallOutcome()
    uuid = str(uuidlib.uuid4())
    began = anyio.current_time()
    start = case.start or started
    settings = case.settings
    services = MockServices(case.flow, settings.http, case.secrets, on_request=on_request)
    finished = anyio.Event()

    def now() -> datetime:
        return start + timedelta(seconds=anyio.current_time() - began)

    async def handler(session: OutboundSession) -> None:
        try:
            async with httpx.AsyncClient(transport=services) as client:
                outcome.trace = await run_call(
                    session,
                    case.flow,
                    secrets=case.secrets,
                    http_client=client,
                    now=now,
                    variables=dict(settings.variables),
                )
        finally:
            finished.set()

    server = OutboundServer(handler, "127.0.0.1", 0)
    fake = FakeFreeSWITCH()
    limit = (
        settings.max_duration.total_seconds()
        if settings.max_duration is not None
        else DEFAULT_MAX_DURATION
    )
    async with anyio.create_task_group() as tasks:
        port = await tasks.start(server.serve)
        call = fake.new_call(
            "127.0.0.1", port, caller=_fake_caller(case), channel=_channel(case, uuid)
        )
        if act is None:
            tasks.start_soon(play_caller, call, case.caller, outcome.actions)
        else:
            tasks.start_soon(act, call, outcome.actions)
        with anyio.fail_after(CONNECT_TIMEOUT):
            stream = await anyio.connect_tcp("127.0.0.1", port)
        record = outcome.record = await call.run(stream, limit)
        with anyio.move_on_after(HANDLER_GRACE):
            await finished.wait()
        outcome.simulated = anyio.current_time() - began
        tasks.cancel_scope.cancel()
    outcome.requests = list(services.seen)
    if record.timed_out:
        outcome.problem = f"the call did not end within {limit:g}s (max_duration)"
    elif outcome.trace is None:
        outcome.problem = "the flow did not finish: the interpreter returned no trace"
    return outcome


class CallLogs(logging.Handler):
    """Keeps the warnings ivrd logs, by call uuid."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.by_call: dict[str, list[str]] = defaultdict(list)

    def emit(self, record: logging.LogRecord) -> None:
        uuid = getattr(record, "call_uuid", None) or call_uuid.get()
        if uuid:
            self.by_call[uuid].append(f"{record.levelname.lower()}: {record.getMessage()}")


@contextmanager
def collecting_logs() -> Iterator[CallLogs]:
    """Keep ivrd's warnings by call while the block runs (instead of printing them)."""
    handler = CallLogs()
    logger = logging.getLogger("ivrd")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def _run_all(
    cases: Sequence[ScenarioCase],
    concurrency: int,
    done: Callable[[ScenarioCase, CallOutcome], None] | None,
) -> list[CallOutcome]:
    results: list[CallOutcome] = [CallOutcome() for _ in cases]
    limiter = anyio.CapacityLimiter(max(1, concurrency))
    started = datetime.now(UTC)

    async def one(index: int, case: ScenarioCase) -> None:
        async with limiter:
            clock = time.perf_counter()
            try:
                result = await run_case(case, started)
            except Exception as exc:  # a scenario must never take the others down
                result = CallOutcome(problem=f"the scenario crashed: {exc!r}")
            result.seconds = time.perf_counter() - clock
            results[index] = result
            if done is not None:
                done(case, result)

    with collecting_logs() as logs:
        async with anyio.create_task_group() as tasks:
            for index, case in enumerate(cases):
                tasks.start_soon(one, index, case)
    for result in results:
        if result.record is not None:
            result.logs = logs.by_call.get(result.record.uuid, [])
    return results


def run_in_mock_time(function: Callable[[], Awaitable[None]]) -> None:
    """Run an async function on trio with a MockClock that jumps whenever all tasks wait."""
    anyio.run(
        function,
        backend="trio",
        backend_options={"clock": MockClock(autojump_threshold=0)},
    )


def run_cases(
    cases: Sequence[ScenarioCase],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    done: Callable[[ScenarioCase, CallOutcome], None] | None = None,
) -> list[CallOutcome]:
    """Run every case concurrently on simulated time; their outcomes, in the same order.

    `done(case, outcome)` is called as each finishes (for progress output).
    """
    outcomes: list[CallOutcome] = []

    async def main() -> None:
        outcomes.extend(await _run_all(cases, concurrency, done))

    run_in_mock_time(main)
    return outcomes
