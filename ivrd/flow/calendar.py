"""Business hours and holidays: the calendars that `check_hours` steps ask "are we open?".

A flow declares calendars under `calendars:`; each is a `Calendar`. The YAML loader hands every
scalar over as a string, so the validators here read `"mon-fri"`, `"08:00-18:00, 19:00-22:00"`,
`"closed"` and `"2026-12-24"` (and the native `date`/`time` values a Python caller may pass) and
keep a compact form: per weekday a tuple of (start, end) minutes after local midnight, closed
date spans and special days.

`Calendar.check` answers for one instant, in the calendar's own time zone (else the flow's). For
the local date of that instant, the first rule that applies decides:

1. `special_hours` for that date (a special half day wins even over a holiday; "closed" there
   means CLOSED, it is a decision about that day, not a holiday);
2. `closed` dates: HOLIDAY;
3. a public holiday from the `holidays` package: HOLIDAY;
4. the weekly `hours`: OPEN inside a range, else CLOSED.

A range whose end is before its start runs past midnight and belongs to the day it starts: fri
"22:00-02:00" is open on Saturday at 01:00 exactly when Friday's own rules open that range, so
the night after a holiday is closed and the night of a special late opening is open, whatever
the rules for the next day say. Times are wall-clock minutes, so across a daylight-saving change
"08:00" is still 08:00 local time.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, NamedTuple
from zoneinfo import ZoneInfo, available_timezones

import holidays
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetPydanticSchema,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError, core_schema

from ivrd.flow.errors import did_you_mean

__all__ = [
    "DAYS",
    "Calendar",
    "CalendarAnswer",
    "CalendarStatus",
    "PublicHolidays",
    "parse_timezone",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MINUTES_PER_DAY = 24 * 60
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RANGE_HELP = '(HH:MM-HH:MM, several separated by ", ", or closed)'
_TIME_PATTERN = r"\s*([01]?\d|2[0-4]):[0-5]\d\s*"
_DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"

TimeRange = tuple[int, int]
"""Minutes after local midnight; an end past 1440 runs into the next day."""
DayRanges = tuple[TimeRange, ...]
WeeklyHours = tuple[DayRanges, ...]
"""Seven entries, Monday first."""
DateSpan = tuple[date, date]
"""First and last day, both included."""


def _error(message: str) -> PydanticCustomError:
    # The message travels as context so that braces in a user's text are never read as fields.
    return PydanticCustomError("calendar", "{message}", {"message": message})


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value.strip()
    raise _error(f"expected {what} as text, not {_kind(value)}")


# --- days, times and dates ------------------------------------------------------------------


def _day_index(word: str) -> int:
    try:
        return DAYS.index(word.strip().lower())
    except ValueError:
        raise _error(f"unknown day '{word.strip()}' (days are {', '.join(DAYS)})") from None


def _parse_days(value: Any) -> tuple[str, tuple[int, ...]]:
    """`"mon-fri"`, `"fri-mon"` (wraps), `"mon,wed"` -> the key as written and its weekdays."""
    key = _text(value, "days")
    days: list[int] = []
    for part in key.split(","):
        first, dash, last = part.partition("-")
        start = _day_index(first)
        count = (_day_index(last) - start) % 7 + 1 if dash else 1
        for offset in range(count):
            day = (start + offset) % 7
            if day in days:
                raise _error(f"day '{DAYS[day]}' appears twice in '{key}'")
            days.append(day)
    return key, tuple(days)


def _minutes(value: Any) -> int:
    if isinstance(value, time) and not (value.second or value.microsecond):
        return value.hour * 60 + value.minute
    text = value.isoformat() if isinstance(value, time) else _text(value, "a time of day")
    match = _TIME.fullmatch(text)
    if match and int(match[2]) < 60 and int(match[1]) * 60 + int(match[2]) <= _MINUTES_PER_DAY:
        return int(match[1]) * 60 + int(match[2])
    raise _error(f"'{text}' is not a time of day (HH:MM, 00:00 to 24:00)")


def _format_time(minutes: int) -> str:
    if minutes != _MINUTES_PER_DAY:
        minutes %= _MINUTES_PER_DAY
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _format_range(span: TimeRange) -> str:
    return f"{_format_time(span[0])}-{_format_time(span[1])}"


def _format_ranges(ranges: DayRanges) -> str:
    return ", ".join(_format_range(span) for span in ranges) or "closed"


def _parse_range(value: Any) -> TimeRange:
    if isinstance(value, tuple | list) and len(value) == 2:
        start_value, end_value = value
    else:
        text = _text(value, "a time range")
        start_value, dash, end_value = text.partition("-")
        if not dash:
            raise _error(f"'{text}' is not a time range {_RANGE_HELP}")
    start, end = _minutes(start_value), _minutes(end_value)
    if start == _MINUTES_PER_DAY:
        raise _error("'24:00' can only end a range, not start one")
    if end == start:
        raise _error(f"'{_format_range((start, end))}' is an empty range")
    # An end before the start is past midnight: the range belongs to the day it starts on.
    return (start, end if end > start else end + _MINUTES_PER_DAY)


def _parse_ranges(value: Any) -> DayRanges:
    """`"08:00-12:00, 13:00-18:00"` or `"closed"` (or a list of ranges) -> sorted minute ranges."""
    if isinstance(value, str) and value.strip().lower() == "closed":
        return ()
    if isinstance(value, str):
        parts: Iterable[Any] = value.split(",")
    elif isinstance(value, tuple | list):
        parts = value
    else:
        raise _error(f"expected opening hours as text {_RANGE_HELP}, not {_kind(value)}")
    ranges = sorted(_parse_range(part) for part in parts)
    for earlier, later in itertools.pairwise(ranges):
        if later[0] < earlier[1]:
            raise _error(f"'{_format_range(earlier)}' and '{_format_range(later)}' overlap")
    return tuple(ranges)


def _parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        raise _error(f"expected a date, not a date and time ({value.isoformat()})")
    if isinstance(value, date):
        return value
    text = _text(value, "a date")
    if _DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise _error(f"'{text}' is not a date (YYYY-MM-DD)")


def _parse_span(value: Any) -> DateSpan:
    """`"2026-12-24"` or `"2026-12-27..2026-12-31"` (inclusive) -> (first, last)."""
    if isinstance(value, tuple | list) and len(value) == 2:
        first, last = _parse_date(value[0]), _parse_date(value[1])
    elif isinstance(value, str) and ".." in value:
        first_text, _, last_text = value.partition("..")
        first, last = _parse_date(first_text), _parse_date(last_text)
    else:
        first = last = _parse_date(value)
    if last < first:
        raise _error(f"'{_format_span((first, last))}' ends before it starts")
    return (first, last)


def _format_span(span: DateSpan) -> str:
    first, last = span
    return first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"


# --- field schemas: validate the written form, keep the compact one --------------------------


def _combine_week(by_key: Mapping[tuple[str, tuple[int, ...]], DayRanges]) -> WeeklyHours:
    week: list[DayRanges] = [()] * 7
    owner: dict[int, str] = {}
    for (key, days), ranges in by_key.items():
        for other in dict.fromkeys(owner[day] for day in days if day in owner):
            shared = ", ".join(DAYS[day] for day in days if owner.get(day) == other)
            raise _error(f"'{other}' and '{key}' both set the hours of {shared}")
        for day in days:
            owner[day] = key
            week[day] = ranges
    return tuple(week)


def _plain(parse: Callable[[Any], Any]) -> core_schema.CoreSchema:
    return core_schema.no_info_plain_validator_function(parse)


def _field(
    written: core_schema.CoreSchema, keep: Callable[[Any], Any], write: Callable[[Any], Any]
) -> GetPydanticSchema:
    """Validate the written form, `keep` the compact one, and `write` it back when dumped."""
    serialization = core_schema.plain_serializer_function_ser_schema(write)
    return GetPydanticSchema(
        lambda _source, _handler: core_schema.no_info_after_validator_function(
            keep, written, serialization=serialization
        )
    )


def _any_case(word: str) -> str:
    # JSON Schema patterns have no flags; the validators ignore case, so the schema must too.
    return "".join(f"[{char}{char.upper()}]" for char in word)


_DAY_PATTERN = f"({'|'.join(_any_case(day) for day in DAYS)})"
_DAY_ITEM = rf"\s*{_DAY_PATTERN}(\s*-\s*{_DAY_PATTERN})?\s*"


def _ranges_json(names: str) -> dict[str, Any]:
    ranges = f"{_TIME_PATTERN}-{_TIME_PATTERN}"
    return {
        "type": "object",
        "propertyNames": {"pattern": names},
        "additionalProperties": {
            "type": "string",
            "pattern": rf"^\s*({_any_case('closed')}|{ranges}(,{ranges})*)\s*$",
        },
    }


Hours = Annotated[
    WeeklyHours,
    _field(
        core_schema.dict_schema(_plain(_parse_days), _plain(_parse_ranges)),
        _combine_week,
        lambda week: {DAYS[day]: _format_ranges(ranges) for day, ranges in enumerate(week)},
    ),
    WithJsonSchema(_ranges_json(rf"^{_DAY_ITEM}(,{_DAY_ITEM})*$")),
]
SpecialHours = Annotated[
    tuple[tuple[date, DayRanges], ...],
    _field(
        core_schema.dict_schema(_plain(_parse_date), _plain(_parse_ranges)),
        lambda by_date: tuple(sorted(by_date.items())),
        lambda days: {day.isoformat(): _format_ranges(ranges) for day, ranges in days},
    ),
    WithJsonSchema(_ranges_json(f"^{_DATE_PATTERN}$")),
]
_CLOSED_ITEM = {"type": "string", "pattern": rf"^{_DATE_PATTERN}(\.\.{_DATE_PATTERN})?$"}
ClosedDates = Annotated[
    tuple[DateSpan, ...],
    _field(
        core_schema.list_schema(_plain(_parse_span)),
        lambda spans: tuple(sorted(spans)),
        lambda spans: [_format_span(span) for span in spans],
    ),
    # One date written without a list is what a person means by `closed: 2026-12-24`.
    BeforeValidator(lambda value: [value] if isinstance(value, str | date) else value),
    WithJsonSchema({"anyOf": [{"type": "array", "items": _CLOSED_ITEM}, _CLOSED_ITEM]}),
]


# --- time zones and public holidays ----------------------------------------------------------


@lru_cache(maxsize=1)
def _timezone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def parse_timezone(name: str) -> ZoneInfo:
    """An IANA zone by name; unknown names raise a ValueError with a did-you-mean.

    The error is a `PydanticCustomError` (a ValueError), so validators can let it through and
    pydantic reports the message as written.
    """
    text = name.strip()
    if text in _timezone_names():
        return ZoneInfo(text)
    hint = did_you_mean(text, _timezone_names()).removeprefix("; ")
    hint = hint or "use a name such as 'Europe/Berlin'"
    raise _error(f"timezone '{text}' is not known ({hint})")


@lru_cache(maxsize=1)
def _supported_countries() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries(include_aliases=True))


@lru_cache(maxsize=64)
def _country_rules(country: str) -> Any:
    """The country's holiday class: its subdivisions, aliases, categories and languages."""
    return type(holidays.country_holidays(country))


@lru_cache(maxsize=256)
def _holidays_for(
    country: str, region: str | None, observed: bool, categories: tuple[str, ...], year: int
) -> Any:
    # Building a year of holidays runs the country's rules; a call checks the same year over and
    # over, and `expand=False` keeps the cached object from growing when asked about other years.
    # Names are English where the package has them, else the country's language, but never
    # taken from the host's locale, so traces read the same on every machine.
    rules = _country_rules(country)
    english = "en_US" in rules.supported_languages
    return holidays.country_holidays(
        country,
        subdiv=region,
        years=year,
        observed=observed,
        categories=categories,
        expand=False,
        language="en_US" if english else rules.default_language,
    )


def _true_or_false(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, bool):
        return value
    raise _error(f"must be true or false, not '{value}'")


class PublicHolidays(BaseModel):
    """Public holidays of a country (an ISO code such as `DE`) and optionally one `region` in it.

    `region` is the `holidays` package's subdivision (`BY` for Bavaria); `categories` picks which
    of the package's lists count (`public` by default; e.g. `catholic` adds Assumption Day in
    Bavaria); `observed` includes days a holiday is moved to when it falls on a weekend.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    country: str
    region: str | None = None
    observed: Annotated[bool, BeforeValidator(_true_or_false)] = True
    categories: tuple[str, ...] = ("public",)

    @field_validator("country", mode="before")
    @classmethod
    def _known_country(cls, value: Any) -> str:
        code = _text(value, "a country code").upper()
        if code not in _supported_countries():
            raise _error(f"country '{code}' is not known to the holidays package")
        return code

    @field_validator("region", mode="before")
    @classmethod
    def _known_region(cls, value: Any, info: ValidationInfo) -> str | None:
        country = info.data.get("country")
        if value is None or country is None:
            return None
        text = _text(value, "a region code")
        rules = _country_rules(country)
        by_lower: dict[str, str] = {code.lower(): code for code in rules.subdivisions}
        by_lower |= {alias.lower(): code for alias, code in rules.subdivisions_aliases.items()}
        if text.lower() in by_lower:
            return by_lower[text.lower()]
        if not rules.subdivisions:
            raise _error(f"region '{text}' is not a subdivision of {country} (it has none)")
        more = ", ..." if len(rules.subdivisions) > 40 else ""
        known = ", ".join(rules.subdivisions[:40]) + more
        raise _error(f"region '{text}' is not a subdivision of {country} (known: {known})")

    @field_validator("categories", mode="before")
    @classmethod
    def _known_categories(cls, value: Any, info: ValidationInfo) -> Any:
        names = value.split(",") if isinstance(value, str) else value
        if not isinstance(names, list | tuple) or not names:
            raise _error("expected a list of holiday categories, such as [public]")
        wanted = tuple(_text(name, "a category").lower() for name in names)
        country = info.data.get("country")
        known = _country_rules(country).supported_categories if country else wanted
        for name in wanted:
            if name not in known:
                raise _error(
                    f"category '{name}' is not known for {country} (known: {', '.join(known)})"
                )
        return wanted

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name on `day`, or None; holiday lists are built once per year."""
        name: str | None = _holidays_for(
            self.country, self.region, self.observed, self.categories, day.year
        ).get(day)
        return name


# --- the calendar ----------------------------------------------------------------------------


class CalendarStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    HOLIDAY = "holiday"


@dataclass(frozen=True)
class CalendarAnswer:
    """What `Calendar.check` decided, and why, in words for the call trace."""

    status: CalendarStatus
    reason: str


class _DayRules(NamedTuple):
    ranges: DayRanges
    label: str
    status_outside: CalendarStatus
    reason_outside: str


class Calendar(BaseModel):
    """Weekly opening hours with holidays, closed dates and special days; see the module doc."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hours: Hours
    public_holidays: PublicHolidays | None = None
    closed: ClosedDates = Field(default=(), json_schema_extra={"default": []})
    special_hours: SpecialHours = Field(default=(), json_schema_extra={"default": {}})
    timezone: str | None = None

    @field_validator("timezone", mode="before")
    @classmethod
    def _known_timezone(cls, value: Any) -> str | None:
        if value is None or isinstance(value, ZoneInfo):
            return None if value is None else value.key
        return parse_timezone(_text(value, "a time zone")).key

    def check(self, when: datetime, default_tz: ZoneInfo) -> CalendarAnswer:
        """Open, closed or holiday at the instant `when` (which must carry a time zone)."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"Calendar.check needs a timezone-aware datetime, got {when!r}")
        local = when.astimezone(ZoneInfo(self.timezone) if self.timezone else default_tz)
        minute = local.hour * 60 + local.minute
        yesterday = self._rules_for(local.date() - timedelta(days=1))
        for start, end in yesterday.ranges:
            if start <= minute + _MINUTES_PER_DAY < end:
                return CalendarAnswer(
                    CalendarStatus.OPEN, f"{yesterday.label} {_format_range((start, end))}"
                )
        today = self._rules_for(local.date())
        for start, end in today.ranges:
            if start <= minute < end:
                return CalendarAnswer(
                    CalendarStatus.OPEN, f"{today.label} {_format_range((start, end))}"
                )
        return CalendarAnswer(today.status_outside, today.reason_outside)

    def _rules_for(self, day: date) -> _DayRules:
        for special_day, ranges in self.special_hours:
            if special_day == day:
                label = f"special hours {day.isoformat()}"
                outside = f"outside {label} {_format_ranges(ranges)}"
                if not ranges:
                    outside = f"{label} closed"
                return _DayRules(ranges, label, CalendarStatus.CLOSED, outside)
        for span in self.closed:
            if span[0] <= day <= span[1]:
                word = "date" if span[0] == span[1] else "dates"
                reason = f"closed {word} {_format_span(span)}"
                return _DayRules((), reason, CalendarStatus.HOLIDAY, reason)
        name = self.public_holidays.holiday_name(day) if self.public_holidays else None
        if name is not None:
            reason = f"public holiday: {name}"
            return _DayRules((), reason, CalendarStatus.HOLIDAY, reason)
        weekday = day.weekday()
        label = f"weekly hours {DAYS[weekday]}"
        return _DayRules(self.hours[weekday], label, CalendarStatus.CLOSED, "outside weekly hours")
