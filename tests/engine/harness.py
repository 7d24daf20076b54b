"""One call end to end: the fake FreeSWITCH dials an OutboundServer whose handler runs a flow
with `run_call`; HTTP services are an httpx MockTransport. `run()` returns what the fake saw
(the CallRecord: every sendmsg, in order) and what the engine says happened (the Trace)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ivrd.engine import Trace, run_call
from ivrd.esl import OutboundServer, OutboundSession
from ivrd.flow import Flow, load_flow, load_flow_text
from ivrd.testing import Caller, CallRecord, Channel, FakeFreeSWITCH, OutboundCall

FLOWS = Path(__file__).resolve().parents[2] / "flows"
SECRETS = {"CRM_TOKEN": "crm-secret-token", "BANK_API_KEY": "bank-secret-key"}
# Wednesday 11 March 2026, 10:00 in Berlin: Acme's office is open.
OPEN = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)
# The same day at 20:00 in Berlin: closed.
CLOSED = datetime(2026, 3, 11, 19, 0, tzinfo=UTC)
# Epiphany, a public holiday in Bavaria.
HOLIDAY = datetime(2026, 1, 6, 9, 0, tzinfo=UTC)
CALLER_NUMBER = "+4930111222"
MASK = "****"

both_backends = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"], indirect=True)
"""Run on asyncio (real time: keep media short and press keys at once) and trio (mock time)."""

Reply = httpx.Response | Callable[[httpx.Request], Awaitable[httpx.Response]]


@cache
def example(name: str) -> Flow:
    return load_flow(FLOWS / name).require()


def flow_text(text: str) -> Flow:
    return load_flow_text(text).require()


def fast_caller(**options: Any) -> Caller:
    """A caller whose prompts and transfers take a few milliseconds (for asyncio)."""
    options.setdefault("file_seconds", 0.01)
    options.setdefault("durations", {"speak": 0.01, "say": 0.01, "phrase": 0.01, "record": 0.01})
    return Caller(**options)


@dataclass
class Web:
    """The HTTP services: `routes` maps `METHOD /path` to a response or an async handler;
    every request is kept in `requests` (unknown paths get a 404)."""

    routes: dict[str, Reply] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.routes.get(f"{request.method} {request.url.path}")
        if reply is None:
            return httpx.Response(404, json={"error": "not found"})
        if isinstance(reply, httpx.Response):
            return reply
        return await reply(request)

    def seen(self) -> list[str]:
        return [f"{r.method} {r.url}" for r in self.requests]

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


def refused(request: httpx.Request) -> Awaitable[httpx.Response]:
    async def fail() -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    return fail()


def slow(seconds: float, response: httpx.Response) -> Reply:
    async def reply(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(seconds)
        return response

    return reply


@dataclass
class Ran:
    record: CallRecord
    trace: Trace
    web: Web

    @property
    def apps(self) -> list[tuple[str, str]]:
        """Every application FreeSWITCH was asked to run, in order: (name, argument)."""
        return [(app.name, app.arg) for app in self.record.apps]

    @property
    def outcomes(self) -> list[tuple[str, str | None, str | None]]:
        """(step, outcome, next step) for every step of the trace."""
        return [(s.step, s.outcome, s.target) for s in self.trace.steps]

    def step(self, name: str, nth: int = 1) -> Any:
        found = [s for s in self.trace.steps if s.step == name]
        return found[nth - 1]

    def assert_clean(self) -> None:
        """The session behaved (no protocol violations, applications one at a time, `exit` at
        the end) and the trace tells the truth: its commands, in order, are the applications
        FreeSWITCH received (masked as the trace masks them)."""
        assert self.record.violations == [], self.record.violations
        assert all(app.event_lock and not app.nested for app in self.record.apps)
        assert self.record.exit_sent
        assert self.traced_apps() == [
            self.trace.redact(f"{name} {arg}".rstrip()) for name, arg in self.apps
        ]

    def traced_apps(self) -> list[str]:
        """The applications in the trace: the set-up, each step's, what came after the steps."""
        trace = self.trace
        commands = [
            *trace.commands[:1],
            *(command for step in trace.steps for command in step.commands),
            *trace.commands[1:],
        ]
        return [c for c in commands if not c.startswith(("http ", "uuid_setvar "))]


async def run(
    flow: Flow,
    caller: Caller | None = None,
    *,
    web: Web | None = None,
    channel: Channel | None = None,
    now: datetime = OPEN,
    secrets: Mapping[str, str] = SECRETS,
    max_steps: int | None = None,
    variables: Mapping[str, Any] | None = None,
    fake: FakeFreeSWITCH | None = None,
    during: Callable[[OutboundCall], Coroutine[Any, Any, None]] | None = None,
    limit: float = 4 * 3600,
) -> Ran:
    """One call through the whole stack; fails the test after `limit` (mock) seconds.

    `during(call)` runs beside the call with the fake's live call, to act on it (drop the
    socket, hang up from an HTTP handler...).
    """
    web = web or Web()
    fake = fake or FakeFreeSWITCH()
    traces: list[Trace] = []

    async def handler(session: OutboundSession) -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(web.handle)) as client:
            trace = await run_call(
                session,
                flow,
                secrets=secrets,
                http_client=client,
                now=lambda: now,
                max_steps=max_steps,
                variables=variables,
            )
            traces.append(trace)

    server = OutboundServer(handler, "127.0.0.1", 0)
    channel = channel or Channel(caller_id_number=CALLER_NUMBER, destination_number="100")
    async with anyio.create_task_group() as tasks:
        port = await tasks.start(server.serve)
        call = fake.new_call("127.0.0.1", port, caller=caller or Caller(), channel=channel)
        if during is not None:
            tasks.start_soon(during, call)
        with anyio.fail_after(limit):
            stream = await anyio.connect_tcp("127.0.0.1", port)
            record = await call.run(stream, limit)
        tasks.cancel_scope.cancel()
    assert len(traces) == 1, "run_call did not return"
    return Ran(record, traces[0], web)


async def app_running(call: OutboundCall, name: str, nth: int = 1) -> None:
    """Until the `nth` application called `name` runs on the fake's channel."""
    while sum(1 for run in call.runs if run.name == name) < nth:
        await call.changed.wait()
