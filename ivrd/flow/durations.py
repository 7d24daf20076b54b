"""Durations as people write them: `500ms`, `5s`, `2m`, `1h`, or combined, `1m30s`.

A duration always carries a unit: a bare `5` could mean seconds or milliseconds, and guessing is
how a 5-second timeout becomes 5 milliseconds. Values are `datetime.timedelta` everywhere in the
models; the engine converts to what FreeSWITCH wants (milliseconds for play_and_get_digits).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = ["DURATION_PATTERN", "Duration", "DurationError", "format_duration", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h))+$"
_WHOLE = re.compile(DURATION_PATTERN)
_EXAMPLES = "write a number with a unit: 500ms, 5s, 2m, 1h or 1m30s"


class DurationError(ValueError):
    """A duration that cannot be read; the message says what was wrong and what to write."""


def parse_duration(text: str) -> timedelta:
    """`"1m30s"` -> 90 seconds. Raises DurationError with a message for people."""
    value = text.strip()
    if value.startswith("-"):
        raise DurationError(f"'{text}' is negative; a duration is at least 0s")
    if _WHOLE.fullmatch(value) is None:
        if re.fullmatch(r"\d+(\.\d+)?", value):
            raise DurationError(f"'{text}' has no unit; {_EXAMPLES}")
        raise DurationError(f"'{text}' is not a duration; {_EXAMPLES}")
    seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(value))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest spelling `parse_duration` reads back: 90s -> `1m30s`, 0.5s -> `500ms`."""
    millis = round(value.total_seconds() * 1000)
    if millis == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _validate(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise PydanticCustomError("duration", "a duration is at least 0s")
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("duration", "must be a duration; " + _EXAMPLES)
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise PydanticCustomError("duration", str(exc)) from None


Duration = Annotated[
    timedelta,
    BeforeValidator(_validate),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["5s", "500ms"]}),
]
"""A `timedelta` field read from `500ms`/`5s`/`2m`/`1h`."""
