"""Durations: `500ms`, `5s`, `2m`, `1h`, combined; always with a unit, never negative."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from ivrd.flow.durations import Duration, DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("5s", 5),
        ("2m", 120),
        ("1h", 3600),
        ("1m30s", 90),
        ("1h2m3s4ms", 3723.004),
        ("1.5s", 1.5),
        ("0s", 0),
        (" 3s ", 3),
    ],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5", "'5' has no unit; write a number with a unit: 500ms, 5s, 2m, 1h or 1m30s"),
        (
            "5 secs",
            "'5 secs' is not a duration; write a number with a unit: 500ms, 5s, 2m, 1h or 1m30s",
        ),
        ("-1s", "'-1s' is negative; a duration is at least 0s"),
        ("", "'' is not a duration; write a number with a unit: 500ms, 5s, 2m, 1h or 1m30s"),
        ("5S", "'5S' is not a duration; write a number with a unit: 500ms, 5s, 2m, 1h or 1m30s"),
    ],
)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.5, "500ms"), (90, "1m30s"), (3600, "1h"), (3723.004, "1h2m3s4ms")],
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


@given(st.integers(min_value=0, max_value=10 * 24 * 3600 * 1000))
def test_format_reads_back(millis: int) -> None:
    value = timedelta(milliseconds=millis)
    assert parse_duration(format_duration(value)) == value


ADAPTER: TypeAdapter[timedelta] = TypeAdapter(Duration)


def test_field_type_accepts_text_and_timedelta_and_dumps_text() -> None:
    assert ADAPTER.validate_python("2m") == timedelta(minutes=2)
    assert ADAPTER.validate_python(timedelta(seconds=1)) == timedelta(seconds=1)
    assert ADAPTER.dump_python(timedelta(seconds=90)) == "1m30s"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, "must be a duration; write a number with a unit: 500ms, 5s, 2m, 1h or 1m30s"),
        (timedelta(seconds=-1), "a duration is at least 0s"),
        (
            "2 minutes",
            "'2 minutes' is not a duration; write a number with a unit: 500ms, 5s, 2m, 1h or 1m30s",
        ),
    ],
)
def test_field_type_refuses(value: object, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ADAPTER.validate_python(value)
    assert caught.value.errors()[0]["msg"] == message
