"""The person on the line, scripted: what they press and when, when they hang up, and how
the rest of the world (transfer targets, sound files) behaves during the call.

A script is a list of steps run one after another. Each step waits for its trigger, then for
`delay` seconds, then acts:

- `during="play_and_get_digits"`: an application of that name (or one of a tuple of names;
  `PROMPTS` is every prompt application) that is running now or starts later, and that an
  earlier step did not already use. `nth=3` picks the third such application of the call.
- `after="bridge"`: the next completion of such an application.
- `at=2.5`: 2.5 seconds after the server got the `connect` reply.
- no trigger: right after the previous step.

`Press("12#")` sends DTMF (`interval` seconds apart), `HangUp()` hangs up, `Silence(...)`
consumes a trigger and does nothing (a prompt the caller lets time out). After the last step
the caller stays on the line, silent, until the server hangs up.

    Caller(
        script=[
            Silence(during="play_and_get_digits"),          # first attempt: no input
            Press("1", during="play_and_get_digits", delay=0.5),
            HangUp(after="bridge"),
        ],
        bridge={"user/2001": Busy(), "user/2002": Answered(talk=30)},
        files={"ivr/welcome.wav": 3.2},
    )
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Protocol

import anyio

from ivrd.testing._signal import Signal
from ivrd.testing.faults import Fault

PROMPTS = ("playback", "play_and_get_digits", "read", "speak", "say", "phrase")


@dataclass(frozen=True, kw_only=True)
class _Step:
    during: str | tuple[str, ...] | None = None
    after: str | tuple[str, ...] | None = None
    at: float | None = None
    nth: int | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Press(_Step):
    """Press `digits` (DTMF), `interval` seconds apart."""

    digits: str
    _: KW_ONLY
    interval: float = 0.02
    source: str = "APP"
    duration_ms: int = 2000


@dataclass(frozen=True)
class HangUp(_Step):
    """Hang up (the caller's side), with `cause` as the channel's Hangup-Cause."""

    _: KW_ONLY
    cause: str = "NORMAL_CLEARING"


@dataclass(frozen=True)
class Silence(_Step):
    """Use up a trigger without doing anything: the caller lets that prompt time out."""


Step = Press | HangUp | Silence


@dataclass(frozen=True)
class Answered:
    """The transfer target rings for `ring` s, answers, talks `talk` s, then hangs up."""

    talk: float = 10.0
    ring: float = 1.0


@dataclass(frozen=True)
class Busy:
    """The target is busy (USER_BUSY) after ringing `ring` seconds."""

    ring: float = 0.5


@dataclass(frozen=True)
class NoAnswer:
    """The target rings until `leg_timeout` (ALLOTTED_TIMEOUT) or the originate timeout."""


@dataclass(frozen=True)
class Failed:
    """The target cannot be reached: `cause` after `ring` seconds."""

    cause: str = "NO_ROUTE_DESTINATION"
    ring: float = 0.0


BridgeOutcome = Answered | Busy | NoAnswer | Failed


@dataclass(frozen=True)
class AgentAnswers:
    """An agent of the queue takes the call `wait` s after the caller joined (mod_callcenter
    bridges them), talks `talk` s, then hangs up."""

    wait: float = 10.0
    talk: float = 10.0
    agent: str = "1000@default"


@dataclass(frozen=True)
class QueueTimeout:
    """Nobody takes the call: the caller leaves at the queue's `max-wait-time`, `wait` s
    (`cc_cancel_reason=TIMEOUT`); `math.inf` waits until the caller hangs up or breaks out."""

    wait: float = 60.0


@dataclass(frozen=True)
class NoAgent:
    """No agent is logged in to the queue: the caller leaves after `max-wait-time-with-no-agent`
    and its grace time, `wait` s in all (`cc_cancel_reason=NO_AGENT_TIMEOUT`)."""

    wait: float = 15.0


@dataclass(frozen=True)
class NoSuchQueue:
    """callcenter.conf has no such queue: `callcenter` logs a warning and returns at once,
    setting no variable (what a FreeSWITCH without that queue does)."""


QueueOutcome = AgentAnswers | QueueTimeout | NoAgent | NoSuchQueue

_APP_SECONDS = {
    "say": 1.5,
    "phrase": 1.5,
    "gentones": 0.5,
    "record": 5.0,
    "voicemail": 10.0,
    "send_dtmf": 0.2,
    "att_xfer": 10.0,
    "transfer": 5.0,
}
_TONE = re.compile(r"%\((\d+),(\d+)")


@dataclass(frozen=True)
class Caller:
    """The scripted caller, and the behaviour of transfer targets and sound files.

    `files` maps a file to its playback length in seconds (None: the file does not exist);
    other files last `file_seconds`, `silence_stream://N` and `tone_stream://%(on,off,f)`
    last what they say. `durations` sets how long other applications take (speak, say,
    record: how long the caller talks, voicemail: how long the caller stays in it...).
    `bridge` gives each transfer target's outcome; `bridge_default` the rest. `queues` gives
    what each mod_callcenter queue does with the caller (by the name `callcenter` is given, e.g.
    `support@default`); `queue_default` the rest. A caller breaks out of a queue with a key in
    the channel's `cc_exit_keys` (a `Press` during `callcenter`), or by hanging up.
    `fault`: a fault to inject during the call (`ivrd.testing.faults`).
    """

    script: Sequence[Step] = ()
    bridge: Mapping[str, BridgeOutcome] = field(default_factory=dict)
    bridge_default: BridgeOutcome = Answered()
    files: Mapping[str, float | None] = field(default_factory=dict)
    file_seconds: float = 1.0
    durations: Mapping[str, float] = field(default_factory=dict)
    hangup_after_voicemail: bool = True
    queues: Mapping[str, QueueOutcome] = field(default_factory=dict)
    queue_default: QueueOutcome = NoSuchQueue()
    fault: Fault | None = None

    def file_duration(self, path: str) -> float | None:
        """Seconds `path` plays for (inf: until interrupted), or None if it does not exist."""
        if path in self.files:
            return self.files[path]
        if path.startswith("silence_stream://"):
            spec = path[len("silence_stream://") :].split(",")[0]
            try:
                ms = int(spec)
            except ValueError:
                return self.file_seconds
            return math.inf if ms < 0 else ms / 1000
        if path.startswith("tone_stream://"):
            spec = path[len("tone_stream://") :]
            total = sum(int(on) + int(off) for on, off in _TONE.findall(spec))
            loops = re.search(r"(?:loops=|L=)(-?\d+)", spec)
            count = int(loops.group(1)) if loops else 1
            if count < 0:
                return math.inf
            return total * count / 1000 if total else self.file_seconds
        return self.file_seconds

    def app_seconds(self, app: str, arg: str = "") -> float:
        if app in self.durations:
            return self.durations[app]
        if app == "speak":
            text = arg.split("|")[-1]
            return max(0.5, 0.06 * len(text))
        return _APP_SECONDS.get(app, 0.0)

    def outcome(self, target: str) -> BridgeOutcome:
        return self.bridge.get(target, self.bridge_default)

    def queue(self, name: str) -> QueueOutcome:
        return self.queues.get(name, self.queue_default)


@dataclass
class AppRun:
    """One application as the caller sees it: when it started and whether it ended."""

    index: int
    name: str
    ended: bool = False


class CallControl(Protocol):
    """What a script needs from the call it plays in."""

    runs: list[AppRun]
    changed: Signal

    @property
    def up(self) -> bool: ...

    @property
    def connected_at(self) -> float | None: ...

    def press(self, digit: str, *, source: str, duration_ms: int) -> None: ...

    def caller_hangup(self, cause: str) -> None: ...

    def note(self, text: str) -> None: ...


def _matches(name: str, wanted: str | tuple[str, ...]) -> bool:
    if isinstance(wanted, str):
        return wanted in ("*", name)
    return name in wanted


def _over(call: CallControl) -> bool:
    return not call.up


async def run_script(script: Sequence[Step], call: CallControl) -> None:
    """Play `script` against `call`; returns when it is done or the call is over."""
    cursor = -1
    for number, step in enumerate(script, 1):
        found = await _trigger(step, call, cursor)
        if _over(call):
            return
        if found is None:
            call.note(f"script step {number} ({step!r}) skipped: its application already ended")
            continue
        cursor = max(cursor, found)
        if step.delay > 0:
            await anyio.sleep(step.delay)
        if _over(call):
            return
        if isinstance(step, Press):
            for position, digit in enumerate(step.digits):
                if position and step.interval > 0:
                    await anyio.sleep(step.interval)
                if _over(call):
                    return
                call.press(digit, source=step.source, duration_ms=step.duration_ms)
        elif isinstance(step, HangUp):
            call.caller_hangup(step.cause)
            return


async def _trigger(step: _Step, call: CallControl, cursor: int) -> int | None:
    """Wait for `step`'s trigger; the index of the application it used (-1: none)."""
    if step.at is not None:
        while call.connected_at is None and call.up:
            await call.changed.wait()
        if call.connected_at is not None:
            remaining = call.connected_at + step.at - anyio.current_time()
            if remaining > 0:
                await anyio.sleep(remaining)
        return cursor
    wanted = step.during if step.during is not None else step.after
    if wanted is None:
        return cursor
    ending = step.during is None
    while call.up:
        candidates = [run for run in call.runs if _matches(run.name, wanted)]
        if step.nth is not None:
            if len(candidates) >= step.nth:
                run = candidates[step.nth - 1]
                if not ending and not run.ended:
                    return run.index
                if ending and run.ended:
                    return run.index
                if not ending:
                    return None
        else:
            for run in candidates:
                if run.index > cursor and (run.ended if ending else not run.ended):
                    return run.index
        await call.changed.wait()
    return None
