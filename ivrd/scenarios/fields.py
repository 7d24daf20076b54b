"""Field types of scenario files: keys, step targets, hangup causes, moments, silences.

Like the flow's field types, each reads the text the positions loader produces (and the typed
values an editor's YAML plugin or a Python caller passes), raises a `PydanticCustomError`
whose message is meant for the scenario's author, and declares its JSON Schema.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from ivrd.flow.durations import DURATION_PATTERN, DurationError, parse_duration

__all__ = [
    "DISPOSITIONS",
    "NEXT_QUESTION",
    "Cause",
    "Disposition",
    "Keys",
    "Moment",
    "Silence",
    "Target",
]

Disposition = Literal["hangup", "caller_hangup", "error", "max_steps", "disconnected", "stopped"]
DISPOSITIONS: tuple[str, ...] = get_args(Disposition)
NEXT_QUESTION = "question"
"""`silence` with no duration: let the next question (menu or ask) time out."""
KEYS_PATTERN = r"^[0-9*#A-D]{1,64}$"
_KEYS = re.compile(KEYS_PATTERN)
_TARGET = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_CAUSE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_DATE_EXAMPLE = "write it like 2026-12-24T10:00:00+01:00, or 2026-12-24 10:00 in the flow's zone"


def _text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise PydanticCustomError("text_type", "must be {what}", {"what": what})


def _keys(value: Any) -> str:
    text = _text(value, 'keys such as "1" or "12345678#"')
    if _KEYS.fullmatch(text.upper()) is None:
        raise PydanticCustomError(
            "keys", "'{value}' is not a key sequence: use 0-9, *, # and A-D", {"value": text}
        )
    return text.upper()


Keys = Annotated[
    str,
    PlainValidator(_keys),
    WithJsonSchema({"type": ["string", "integer"], "pattern": KEYS_PATTERN}),
]
"""Keys the caller presses: `1`, `*0`, `12345678#`."""


def _target(value: Any) -> str:
    text = _text(value, "a step or application name")
    if _TARGET.fullmatch(text) is None:
        raise PydanticCustomError(
            "target", "'{value}' is not a step or application name", {"value": text}
        )
    return text


Target = Annotated[
    str, PlainValidator(_target), WithJsonSchema({"type": "string", "pattern": _TARGET.pattern})
]
"""A step of the flow (its application), an application name, `prompt` or `question`."""


def _cause(value: Any) -> str:
    text = _text(value, "a hangup cause such as NORMAL_CLEARING")
    if _CAUSE.fullmatch(text) is None:
        raise PydanticCustomError(
            "cause", "'{value}' is not a hangup cause such as NORMAL_CLEARING", {"value": text}
        )
    return text


Cause = Annotated[
    str, PlainValidator(_cause), WithJsonSchema({"type": "string", "pattern": _CAUSE.pattern})
]


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    text = _text(value, "a date and time").strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError(
            "moment",
            "'{value}' is not a date and time; {example}",
            {"value": text, "example": _DATE_EXAMPLE},
        ) from None


Moment = Annotated[
    datetime,
    PlainValidator(_moment),
    WithJsonSchema({"type": "string", "examples": ["2026-12-24T10:00:00+01:00"]}),
]
"""A date and time; without an offset it is read in `timezone` (default: the flow's)."""


DURATION_SCHEMA = {"type": "string", "pattern": DURATION_PATTERN}


def parse_silence(value: Any) -> timedelta:
    try:
        return parse_duration(_text(value, "a duration such as 6s"))
    except DurationError as exc:
        raise PydanticCustomError("duration", str(exc)) from None


def _silence(value: Any) -> timedelta | str:
    if isinstance(value, timedelta):
        return value
    if value == NEXT_QUESTION:
        return NEXT_QUESTION
    return parse_silence(value)


Silence = Annotated[
    timedelta | str,
    PlainValidator(_silence),
    WithJsonSchema(
        {"anyOf": [{"type": "null"}, {"const": NEXT_QUESTION}, DURATION_SCHEMA]},
    ),
]
