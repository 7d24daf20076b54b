"""The per-call trace: every step entered, its outcome and duration, the variables it changed
and the FreeSWITCH applications it ran, with sensitive values and secrets masked.

A `Redactor` knows every value that must not be shown (secrets, sensitive entries) and
replaces them wherever they appear, so a PIN that later ends up in an HTTP path is masked
there too, percent-encoded or not (`tok%2Fen` in a query string is `tok/en`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MASK = "****"


def _hex_digit(nibble: int) -> str:
    digit = f"{nibble:X}"
    return digit if digit.isdigit() else f"[{digit}{digit.lower()}]"


def _url_spelling(value: str) -> re.Pattern[str]:
    """`value` with any of its characters percent-encoded (either case), a space also as `+`:
    how it reads in a URL's path or query, whichever encoder wrote it."""
    parts = []
    for char in value:
        encoded = char.encode("utf-8", "surrogatepass")
        escaped = "".join(f"%{_hex_digit(byte >> 4)}{_hex_digit(byte & 15)}" for byte in encoded)
        plus = r"|\+" if char == " " else ""
        parts.append(f"(?:{re.escape(char)}|{escaped}{plus})")
    return re.compile("".join(parts))


class Redactor:
    """Replaces secret and sensitive values in any text meant for people."""

    def __init__(self, secrets: Any = ()) -> None:
        self._values: set[str] = {str(value) for value in secrets if str(value)}
        self._ordered: list[tuple[str, re.Pattern[str]]] | None = None

    def add(self, value: object) -> None:
        text = str(value)
        if text and text not in self._values:
            self._values.add(text)
            self._ordered = None

    def __call__(self, text: str) -> str:
        ordered = self._ordered
        if ordered is None:
            # Longest first, so a secret containing another secret is masked whole.
            values = sorted(self._values, key=len, reverse=True)
            ordered = self._ordered = [(value, _url_spelling(value)) for value in values]
        encoded = "%" in text or "+" in text
        for value, spelled in ordered:
            if value in text:
                text = text.replace(value, MASK)
            if encoded:
                text = spelled.sub(MASK, text)
        return text

    def value(self, value: Any) -> Any:
        """Mask inside strings, lists and dicts (e.g. an HTTP body saved in a variable)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value


@dataclass
class StepRecord:
    """One step of the call as it happened."""

    step: str
    type: str
    flow: str
    started: float
    """Seconds since the call started."""
    duration: float = 0.0
    outcome: str | None = None
    target: str | None = None
    """The step taken next, or None when the call ended here."""
    variables: dict[str, Any] = field(default_factory=dict)
    """Flow variables this step changed, after masking."""
    commands: list[str] = field(default_factory=list)
    """The applications run, as `app arg`, after masking."""
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "type": self.type,
            "flow": self.flow,
            "started": round(self.started, 3),
            "duration": round(self.duration, 3),
            "outcome": self.outcome,
            "target": self.target,
            "variables": self.variables,
            "commands": self.commands,
            "error": self.error,
        }


@dataclass
class Trace:
    """Everything a call did, in order; `as_dict` is what logs and `ivrd test` print."""

    uuid: str
    flow: str
    redact: Redactor
    steps: list[StepRecord] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    """Applications run outside any step (answering, setting up, hangup hooks)."""
    disposition: str | None = None
    """How the call ended: `hangup` (a hangup step), `caller_hangup`, `error`, `max_steps`,
    `disconnected`, `stopped`."""
    hangup_cause: str | None = None
    esl_error: str | None = None
    """What went wrong with the event socket, when that ended the call: `connection_closed`,
    `timeout`, `command_error` or `other` (for the ESL error metric)."""
    clock: Callable[[], float] = time.monotonic
    """The engine passes anyio's clock, so a test's mock clock shows in durations."""
    _start: float | None = None
    _open: list[StepRecord] = field(default_factory=list)
    """Steps entered and not left, innermost last: a `run` step stays open while its
    subflow's steps run, and what happens after they return is the `run` step's."""

    def elapsed(self) -> float:
        now = self.clock()
        if self._start is None:
            self._start = now
        return now - self._start

    def enter(self, step: str, type: str, flow: str) -> StepRecord:
        record = StepRecord(step=step, type=type, flow=flow, started=self.elapsed())
        self.steps.append(record)
        self._open.append(record)
        return record

    def leave(self, record: StepRecord, outcome: str | None, target: str | None) -> None:
        record.outcome = outcome
        record.target = target
        record.duration = self.elapsed() - record.started
        self._open = [step for step in self._open if step is not record]

    @property
    def current(self) -> StepRecord | None:
        """The innermost step running now."""
        return self._open[-1] if self._open else None

    def command(self, app: str, arg: str) -> None:
        text = self.redact(f"{app} {arg}".rstrip())
        if self._open:
            self._open[-1].commands.append(text)
        else:
            self.commands.append(text)

    def changed(self, name: str, value: Any, *, sensitive: bool = False) -> None:
        if not self._open:
            return
        shown = MASK if sensitive else self.redact.value(value)
        self._open[-1].variables[name] = shown

    @property
    def path(self) -> list[str]:
        """The steps visited, in order."""
        return [record.step for record in self.steps]

    def as_dict(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            "flow": self.flow,
            "disposition": self.disposition,
            "hangup_cause": self.hangup_cause,
            "duration": round(self.elapsed(), 3),
            "steps": [record.as_dict() for record in self.steps],
            "commands": self.commands,
        }
