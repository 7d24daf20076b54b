"""What the fake saw and did during a call, for assertions and for the benchmarks.

Times are `anyio.current_time()` values (the event loop's monotonic clock, MockClock included).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ivrd.esl.protocol import Command
from ivrd.testing.faults import FaultRecord

HangupBy = Literal["caller", "server", "switch", "timeout"]


@dataclass(frozen=True)
class ReceivedCommand:
    """A command the client sent, parsed, with the time it arrived."""

    at: float
    command: Command


@dataclass
class AppRecord:
    """One application the channel ran (or was asked to run)."""

    name: str
    arg: str
    event_uuid: str | None
    event_lock: bool
    received_at: float
    started_at: float | None = None
    ended_at: float | None = None
    response: str | None = None
    nested: bool = False

    @property
    def duration(self) -> float | None:
        """Seconds from CHANNEL_EXECUTE to CHANNEL_EXECUTE_COMPLETE (None if it did not run)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


@dataclass(frozen=True)
class SentDtmf:
    at: float
    digit: str


@dataclass(frozen=True)
class Speech:
    """A text handed to a text-to-speech engine (switch_ivr_speak_text), as FreeSWITCH would
    hand it: by `speak`, or by a `say:` prompt of playback, play_and_get_digits or read.
    `text` is what the engine speaks, `params` what a leading `{name=value,...}` block of the
    text set (ivrd.testing.speech.feed_tts)."""

    at: float
    engine: str
    voice: str | None
    text: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Violation:
    """Something the client did that a real FreeSWITCH would mishandle or that breaks a rule."""

    at: float
    kind: str
    detail: str


@dataclass
class CallRecord:
    """Everything about one call, filled in as it runs; complete when `call()` returns."""

    uuid: str
    started_at: float
    connected_at: float | None = None
    ended_at: float | None = None
    commands: list[ReceivedCommand] = field(default_factory=list)
    apps: list[AppRecord] = field(default_factory=list)
    dtmf: list[SentDtmf] = field(default_factory=list)
    spoken: list[Speech] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    hangup_cause: str | None = None
    hangup_by: HangupBy | None = None
    hangup_at: float | None = None
    exit_at: float | None = None
    client_closed: bool = False
    closed_at: float | None = None
    timed_out: bool = False
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    turnarounds: list[float] = field(default_factory=list)
    events_sent: int = 0
    bytes_sent: int = 0
    fault: FaultRecord | None = None
    """The fault the Caller asked for (`ivrd.testing.faults`): when it fired, what it did."""

    @property
    def exit_sent(self) -> bool:
        return self.exit_at is not None

    @property
    def exit_after_hangup(self) -> float | None:
        """Seconds between the hangup and the client's `exit` (None if either is missing)."""
        if self.exit_at is None or self.hangup_at is None:
            return None
        return self.exit_at - self.hangup_at

    @property
    def close_after_hangup(self) -> float | None:
        if self.closed_at is None or self.hangup_at is None:
            return None
        return self.closed_at - self.hangup_at

    def app_names(self) -> list[str]:
        return [app.name for app in self.apps if app.started_at is not None]

    def command_lines(self) -> list[str]:
        return [received.command.line for received in self.commands]
