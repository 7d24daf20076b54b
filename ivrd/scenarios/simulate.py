"""`ivrd simulate`: a call in the terminal, through the same server, interpreter and fake.

The person is the caller. What the call does is narrated as it happens, from what the fake
FreeSWITCH runs: prompts as text (file names, TTS sentences), questions, transfers ringing and
how they ended, queues, the hangup; each line is prefixed with the seconds into the call and,
where an application tells which step runs it, the step (`[main_menu]`; the same inference as
scenarios' `during:`). Steps that run no application (check_hours, set, http, choose) show in
the trace printed at the end, which the interpreter itself records.

Input, one line at a time: keys (`1`, `12345678#`, `*0`) go to the question being asked, or
the next one (a whole entry on one line); `/now KEYS` presses at once, whatever plays (for key
hooks such as `*0` during a prompt); `/silence` lets the current or next question time out;
`/wait 2s` does nothing for a while; `/hangup` hangs up. At the end of input the caller stays
silent until the flow ends.

In real time (the default) prompts and timeouts take as long as they say. `fast` runs on the
simulated clock instead: the input must then be known up front (piped), and keys go to the
questions in order, as in a scenario.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio

from ivrd.flow import DurationError, Flow, parse_duration
from ivrd.flow.yamlpos import SourceMap
from ivrd.scenarios.caller import (
    QUESTION,
    ActedAction,
    app_ended,
    call_over,
    wait_for_app,
)
from ivrd.scenarios.loading import ScenarioCase, used_secrets
from ivrd.scenarios.mockhttp import SeenRequest
from ivrd.scenarios.models import Expect, ScenarioSettings
from ivrd.scenarios.report import format_trace
from ivrd.scenarios.runner import CallOutcome, collecting_logs, run_case, run_in_mock_time
from ivrd.scenarios.targets import (
    AppTarget,
    TargetError,
    all_steps,
    heard,
    start_variables,
    step_targets,
)
from ivrd.testing import OutboundCall

__all__ = ["HELP", "format_ending", "simulate"]

HELP = (
    "type keys (0-9 * #) and Enter for the question asked; /now KEYS presses at once; "
    "/silence lets a question time out; /wait 2s waits; /hangup hangs up"
)
KEY_INTERVAL = 0.1
_QUIET = frozenset({"set", "multiset", "export", "unset", "record_session", "log"})

ReadLine = Callable[[], Awaitable[str | None]]
"""The next line typed (without its newline), or None at the end of input."""
Emit = Callable[[str], None]


@dataclass(slots=True)
class _Narrator:
    """Tells what the fake call does, once per application start and end."""

    call: OutboundCall
    emit: Emit
    targets: list[tuple[str, AppTarget]]
    started: int = 0
    ended: set[int] = field(default_factory=set)
    step: str | None = None
    hung_up: bool = False

    def say(self, text: str, step: str | None = None) -> None:
        seconds = anyio.current_time() - (self.call.connected_at or self.call.record.started_at)
        label = ""
        if step is not None and step != self.step:
            self.step = step
            label = f"[{step}] "
        self.emit(f"{seconds:7.2f}s  {label}{text}")

    def _step_of(self, name: str, arg: str) -> str | None:
        return next((step for step, target in self.targets if target.matches(name, arg)), None)

    def update(self) -> None:
        apps = self.call.record.apps
        while self.started < len(apps) and apps[self.started].started_at is not None:
            app = apps[self.started]
            self._started(app.name, app.arg)
            self.started += 1
        for index in range(self.started):
            if index not in self.ended and apps[index].ended_at is not None:
                self.ended.add(index)
                variables = self.call.state.variables
                if apps[index].name == "bridge":
                    self.say(f"transfer ended: {variables.get('originate_disposition', '?')}")
                elif apps[index].name == "callcenter":
                    self.say(f"queue ended: {_queue_ending(variables)}")
        record = self.call.record
        if record.hangup_at is not None and not self.hung_up:
            self.hung_up = True
            self.say(f"call hung up by the {record.hangup_by}: {record.hangup_cause}")

    def _started(self, name: str, arg: str) -> None:
        step = self._step_of(name, arg)
        texts = heard(name, arg)
        if name in ("play_and_get_digits", "read"):
            self.say("asks: " + " | ".join(texts) + "   (your keys?)", step)
        elif texts:
            for text in texts:
                self.say(f"plays: {text}", step)
        elif name == "bridge":
            targets = arg.rsplit("}", 1)[-1]  # the dial string without its {variables}
            self.say(f"transfer: ringing {targets}", step)
        elif name == "callcenter":
            self.say(f"queue: waiting in {arg}", step)
        elif name == "answer":
            self.say("answers the call")
        elif name == "hangup":
            self.say(f"hangs up ({arg or 'NORMAL_CLEARING'})", step)
        elif name not in _QUIET:
            self.say(f"runs {name} {arg}".rstrip(), step)

    async def run(self) -> None:
        while True:
            self.update()
            if self.call.done.is_set():
                return
            await self.call.changed.wait()


def _queue_ending(variables: Mapping[str, str]) -> str:
    """How mod_callcenter let the caller go, from the variables it sets."""
    cause = variables.get("cc_cause")
    if cause == "answered":
        return "an agent answered"
    if cause == "cancel":
        return f"left without an agent ({variables.get('cc_cancel_reason', '?')})"
    return "no such queue"


async def _press(call: OutboundCall, keys: str) -> None:
    for position, key in enumerate(keys):
        if position:
            await anyio.sleep(KEY_INTERVAL)
        if call_over(call):
            return
        call.press(key)


def _seconds(text: str) -> float | None:
    try:
        return parse_duration(text.strip()).total_seconds()
    except DurationError:
        return None


def _keys(text: str) -> str | None:
    keys = text.replace(" ", "").upper()
    valid = keys and all(key in "0123456789*#ABCD" for key in keys)
    return keys if valid else None


async def _type(call: OutboundCall, read_line: ReadLine, narrator: _Narrator) -> None:
    """Act on each line typed, in order; returns at the end of input."""
    cursor = -1
    while not call_over(call):
        line = await read_line()
        if line is None:
            return
        text = line.strip()
        keys = _keys(text.removeprefix("/now"))
        if not text:
            continue
        narrator.update()  # what happened so far is told before what the caller does
        if text == "/hangup":
            narrator.say("you hang up")
            call.caller_hangup("NORMAL_CLEARING")
            return
        if text.startswith("/wait"):
            seconds = _seconds(text.removeprefix("/wait"))
            if seconds is None:
                narrator.say(f"? '{text}': write /wait 2s")
                continue
            narrator.say(f"you wait {seconds:g}s")
            await anyio.sleep(seconds)
        elif text.startswith("/now") and keys is not None:
            narrator.say(f"you press {keys}")
            await _press(call, keys)
        elif text == "/silence" or (keys is not None and not text.startswith("/")):
            question = await wait_for_app(call, QUESTION, cursor, None, ended=False)
            if question is None:
                narrator.update()
                narrator.say(f"your '{text}' was not used: no question came")
                return
            cursor = question
            narrator.update()
            if keys is None:
                narrator.say("you stay silent")
                while not call_over(call) and not app_ended(call, question):
                    await call.changed.wait()
            else:
                narrator.say(f"you press {keys}")
                await _press(call, keys)
        else:
            narrator.say(f"? '{text}': {HELP}")


def _targets(flow: Flow, variables: Mapping[str, str]) -> list[tuple[str, AppTarget]]:
    """Steps by the application they run; those whose argument is known first."""
    found: list[tuple[str, AppTarget]] = []
    for owner, name in all_steps(flow):
        try:
            found.append((name, step_targets(owner, name, start_variables(owner, variables))))
        except TargetError:
            continue  # a step without an application of its own: shown in the trace
    return sorted(found, key=lambda item: not item[1].markers)


def simulate(
    flow_file: str,
    flow: Flow,
    settings: ScenarioSettings,
    *,
    read_line: ReadLine,
    emit: Emit,
    fast: bool = False,
) -> CallOutcome:
    """Run one call of `flow`, the caller typing through `read_line`; narrate through `emit`."""
    start = settings.at
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=settings.timezone or flow.timezone)
    secrets = {secret: f"test-{secret}" for secret in sorted(used_secrets(flow))}
    secrets.update(settings.secrets)
    case = ScenarioCase(
        file=flow_file,
        name="simulate",
        flow_file=flow_file,
        flow=flow,
        settings=settings,
        caller=(),
        expect=Expect(),
        source=SourceMap(flow_file, []),
        secrets=secrets,
        start=start,
    )
    results: list[CallOutcome] = []
    targets = _targets(flow, settings.variables)
    narrators: list[_Narrator] = []

    def on_request(request: SeenRequest) -> None:
        if narrators:
            narrators[0].say(f"http {request}")

    async def act(call: OutboundCall, acted: list[ActedAction]) -> None:
        narrator = _Narrator(call, emit, targets)
        narrators.append(narrator)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(narrator.run)
            await _type(call, read_line, narrator)

    async def main() -> None:
        with collecting_logs() as logs:
            result = await run_case(case, datetime.now(UTC), act=act, on_request=on_request)
        for narrator in narrators:
            narrator.update()
        if result.record is not None:
            result.logs = logs.by_call.get(result.record.uuid, [])
        results.append(result)

    if fast:
        run_in_mock_time(main)
    else:
        anyio.run(main, backend="trio")
    return results[0]


def format_ending(outcome: CallOutcome) -> str:
    """What `ivrd simulate` prints once the call is over: the trace and the path taken."""
    lines = [""]
    if outcome.trace is not None:
        lines += format_trace(outcome.trace, outcome.simulated)
    lines += [f"log: {line}" for line in outcome.logs]
    if outcome.problem is not None:
        lines.append(f"problem: {outcome.problem}")
    if outcome.trace is not None:
        lines.append("path: " + " > ".join(outcome.trace.path))
    return "\n".join(lines) + "\n"
