"""Calendars: opening hours across daylight saving, holidays, special days, and their errors."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import jsonschema  # type: ignore[import-untyped]
import pytest
from pydantic import ValidationError

from ivrd.flow import calendar as calendar_module
from ivrd.flow.calendar import (
    Calendar,
    CalendarAnswer,
    CalendarStatus,
    PublicHolidays,
    parse_timezone,
)

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
OPEN, CLOSED, HOLIDAY = CalendarStatus.OPEN, CalendarStatus.CLOSED, CalendarStatus.HOLIDAY

# As the flow loader hands it over: every scalar a string.
OFFICE: dict[str, Any] = {
    "hours": {"mon-fri": "08:00-18:00", "sat": "09:00-12:00"},
    "public_holidays": {"country": "DE", "region": "BY"},
    "closed": ["2026-12-24", "2026-12-27..2026-12-31"],
    "special_hours": {"2026-12-23": "08:00-13:00", "2026-12-30": "closed"},
}


def calendar(**changes: Any) -> Calendar:
    return Calendar.model_validate(OFFICE | changes)


def at(text: str, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def check(cal: Calendar, text: str, tz: ZoneInfo = BERLIN) -> CalendarAnswer:
    return cal.check(at(text, tz), BERLIN)


def errors(data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        Calendar.model_validate(data)
    return [(tuple(error["loc"]), error["msg"]) for error in caught.value.errors()]


# --- weekly hours and daylight saving --------------------------------------------------------


def test_weekly_hours_open_and_closed() -> None:
    cal = calendar()
    assert check(cal, "2026-01-14 08:00") == CalendarAnswer(OPEN, "weekly hours wed 08:00-18:00")
    assert check(cal, "2026-01-14 17:59") == CalendarAnswer(OPEN, "weekly hours wed 08:00-18:00")
    assert check(cal, "2026-01-14 18:00") == CalendarAnswer(CLOSED, "outside weekly hours")
    assert check(cal, "2026-01-14 07:59") == CalendarAnswer(CLOSED, "outside weekly hours")
    assert check(cal, "2026-01-17 11:00") == CalendarAnswer(OPEN, "weekly hours sat 09:00-12:00")
    assert check(cal, "2026-01-18 11:00") == CalendarAnswer(CLOSED, "outside weekly hours")


@pytest.mark.parametrize("day", ["2026-03-29", "2026-10-25"])
def test_opening_time_on_the_days_the_clocks_change(day: str) -> None:
    cal = calendar(hours={"mon-sun": "08:00-18:00"})
    assert check(cal, f"{day} 07:59").status is CLOSED
    assert check(cal, f"{day} 08:00").status is OPEN
    assert check(cal, f"{day} 17:59").status is OPEN
    assert check(cal, f"{day} 18:00").status is CLOSED


def test_the_same_utc_time_is_open_in_summer_and_closed_in_winter() -> None:
    cal = calendar()
    # 06:30 UTC is 08:30 CEST but 07:30 CET.
    assert check(cal, "2026-07-01 06:30", UTC).status is OPEN
    assert check(cal, "2026-01-14 06:30", UTC).status is CLOSED
    # The Friday before and the Monday after the clocks go forward ...
    assert check(cal, "2026-03-27 06:30", UTC).status is CLOSED
    assert check(cal, "2026-03-30 06:30", UTC).status is OPEN
    # ... and back.
    assert check(cal, "2026-10-23 06:30", UTC).status is OPEN
    assert check(cal, "2026-10-26 06:30", UTC).status is CLOSED


def test_hours_are_wall_clock_time_even_in_the_repeated_hour() -> None:
    cal = calendar(hours={"sun": "02:00-02:30"})
    # 02:15 happens twice on 2026-10-25: 00:15 UTC (CEST) and 01:15 UTC (CET).
    assert check(cal, "2026-10-25 00:15", UTC).status is OPEN
    assert check(cal, "2026-10-25 01:15", UTC).status is OPEN
    assert check(cal, "2026-10-25 01:45", UTC).status is CLOSED


def test_instants_from_any_zone_are_read_in_the_calendars_zone() -> None:
    cal = calendar()
    new_york = ZoneInfo("America/New_York")
    assert check(cal, "2026-01-14 02:30", new_york).status is OPEN  # 08:30 in Berlin
    assert check(cal, "2026-01-14 12:30", new_york).status is CLOSED  # 18:30 in Berlin


def test_own_timezone_wins_over_the_flows() -> None:
    cal = calendar(timezone="America/New_York")
    assert cal.timezone == "America/New_York"
    assert check(cal, "2026-01-14 14:30").status is OPEN  # 08:30 in New York
    assert check(cal, "2026-01-14 10:00").status is CLOSED  # 04:00 in New York


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a timezone-aware datetime") as caught:
        calendar().check(datetime(2026, 1, 14, 10, 0), BERLIN)
    assert str(caught.value) == (
        "Calendar.check needs a timezone-aware datetime, got datetime.datetime(2026, 1, 14, 10, 0)"
    )


# --- ranges past midnight, several ranges, whole days -----------------------------------------


def test_range_past_midnight_belongs_to_the_day_it_starts() -> None:
    cal = calendar(hours={"mon-thu": "08:00-18:00", "fri": "08:00-18:00, 22:00-02:00"})
    late = CalendarAnswer(OPEN, "weekly hours fri 22:00-02:00")
    assert check(cal, "2026-01-16 21:59") == CalendarAnswer(CLOSED, "outside weekly hours")
    assert check(cal, "2026-01-16 23:00") == late
    assert check(cal, "2026-01-17 01:00") == late  # Saturday
    assert check(cal, "2026-01-17 01:59") == late
    assert check(cal, "2026-01-17 02:00") == CalendarAnswer(CLOSED, "outside weekly hours")
    assert check(cal, "2026-01-16 12:00") == CalendarAnswer(OPEN, "weekly hours fri 08:00-18:00")


def test_night_after_a_closed_day_stays_closed() -> None:
    cal = calendar(hours={"fri": "22:00-02:00"}, closed=["2026-01-16"])
    assert check(cal, "2026-01-17 01:00") == CalendarAnswer(CLOSED, "outside weekly hours")
    assert check(cal, "2026-01-24 01:00") == CalendarAnswer(OPEN, "weekly hours fri 22:00-02:00")


def test_special_late_night_runs_into_a_holiday() -> None:
    cal = calendar(special_hours={"2026-12-31": "20:00-02:00"})
    new_year = CalendarAnswer(OPEN, "special hours 2026-12-31 20:00-02:00")
    assert check(cal, "2027-01-01 01:00") == new_year
    assert check(cal, "2027-01-01 02:00") == CalendarAnswer(
        HOLIDAY, "public holiday: New Year's Day"
    )


def test_range_to_midnight_and_whole_days() -> None:
    cal = calendar(hours={"sat": "20:00-24:00", "sun": "00:00-24:00", "mon-fri": "closed"})
    assert cal.hours[5] == ((20 * 60, 24 * 60),)
    assert check(cal, "2026-01-17 23:59").status is OPEN
    assert check(cal, "2026-01-18 00:00") == CalendarAnswer(OPEN, "weekly hours sun 00:00-24:00")
    assert check(cal, "2026-01-19 00:00").status is CLOSED


def test_days_wrap_and_lists_and_several_ranges() -> None:
    cal = calendar(hours={"FRI - Mon": "10:00-11:00", " tue,thu ": "13:00-14:00, 08:00-12:00"})
    ten_to_eleven = ((600, 660),)
    assert cal.hours == (
        ten_to_eleven,
        ((480, 720), (780, 840)),
        (),
        ((480, 720), (780, 840)),
        ten_to_eleven,
        ten_to_eleven,
        ten_to_eleven,
    )
    assert check(cal, "2026-01-15 12:30").status is CLOSED
    assert check(cal, "2026-01-15 13:30") == CalendarAnswer(OPEN, "weekly hours thu 13:00-14:00")


# --- holidays, closed dates, special days ----------------------------------------------------


def test_epiphany_is_a_holiday_in_bavaria_but_not_in_berlin() -> None:
    bavaria = calendar()
    berlin = calendar(public_holidays={"country": "DE", "region": "BE"})
    assert check(bavaria, "2026-01-06 10:00") == CalendarAnswer(HOLIDAY, "public holiday: Epiphany")
    assert check(berlin, "2026-01-06 10:00") == CalendarAnswer(OPEN, "weekly hours tue 08:00-18:00")
    # A holiday is a holiday all day, not only in opening hours.
    assert check(bavaria, "2026-01-06 23:00").status is HOLIDAY


def test_assumption_day_in_bavaria_comes_with_the_catholic_category() -> None:
    # The holidays package lists it for Bavaria's Catholic-majority municipalities only.
    plain = calendar()
    catholic = calendar(
        public_holidays={"country": "DE", "region": "BY", "categories": ["public", "catholic"]}
    )
    assert check(plain, "2026-08-15 10:00") == CalendarAnswer(OPEN, "weekly hours sat 09:00-12:00")
    assert check(catholic, "2026-08-15 10:00") == CalendarAnswer(
        HOLIDAY, "public holiday: Assumption Day"
    )


def test_holiday_names_do_not_depend_on_the_hosts_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    calendar_module._holidays_for.cache_clear()
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.setenv(variable, "de_DE.UTF-8")
    answer = check(calendar(), "2026-12-25 10:00")
    calendar_module._holidays_for.cache_clear()
    assert answer == CalendarAnswer(HOLIDAY, "public holiday: Christmas Day")


def test_observed_holidays_can_be_left_out() -> None:
    us = {"hours": {"mon-fri": "09:00-17:00"}, "timezone": "America/New_York"}
    observed = Calendar.model_validate(us | {"public_holidays": {"country": "US"}})
    actual = Calendar.model_validate(
        us | {"public_holidays": {"country": "us", "observed": "false"}}
    )
    # Christmas 2027 is a Saturday; the Friday before is the day off.
    assert check(observed, "2027-12-24 18:00") == CalendarAnswer(
        HOLIDAY, "public holiday: Christmas Day (observed)"
    )
    assert check(actual, "2027-12-24 18:00") == CalendarAnswer(OPEN, "weekly hours fri 09:00-17:00")


def test_closed_dates_are_holidays() -> None:
    cal = calendar()
    assert check(cal, "2026-12-24 10:00") == CalendarAnswer(HOLIDAY, "closed date 2026-12-24")
    assert check(cal, "2026-12-28 10:00") == CalendarAnswer(
        HOLIDAY, "closed dates 2026-12-27..2026-12-31"
    )
    assert check(cal, "2027-01-04 10:00").status is OPEN


def test_special_half_day() -> None:
    cal = calendar()
    assert check(cal, "2026-12-23 12:59") == CalendarAnswer(
        OPEN, "special hours 2026-12-23 08:00-13:00"
    )
    assert check(cal, "2026-12-23 13:00") == CalendarAnswer(
        CLOSED, "outside special hours 2026-12-23 08:00-13:00"
    )


def test_special_days_win_over_closed_dates_and_holidays() -> None:
    cal = calendar(special_hours={"2026-12-25": "10:00-12:00", "2026-12-30": "closed"})
    # Christmas Day with an emergency line, and a day in a closed span that is merely closed.
    assert check(cal, "2026-12-25 11:00") == CalendarAnswer(
        OPEN, "special hours 2026-12-25 10:00-12:00"
    )
    assert check(cal, "2026-12-30 10:00") == CalendarAnswer(
        CLOSED, "special hours 2026-12-30 closed"
    )
    assert check(cal, "2026-12-29 10:00").status is HOLIDAY


def test_holiday_lists_are_built_once_per_year(monkeypatch: pytest.MonkeyPatch) -> None:
    cal = calendar()
    builds: list[tuple[str, int]] = []
    build = holidays.country_holidays

    def counting(country: str, **options: Any) -> Any:
        builds.append((country, options["years"]))
        return build(country, **options)

    calendar_module._holidays_for.cache_clear()
    monkeypatch.setattr(holidays, "country_holidays", counting)
    for hour in range(24):
        check(cal, f"2026-05-04 {hour:02d}:00")
        check(cal, f"2026-05-05 {hour:02d}:30")
    assert builds == [("DE", 2026)]
    check(cal, "2027-01-01 00:30")  # looks at 2027, and at 2026-12-31 for its late ranges
    assert builds == [("DE", 2026), ("DE", 2027)]
    calendar_module._holidays_for.cache_clear()


# --- what a Python caller may pass -----------------------------------------------------------


def test_native_values_are_accepted() -> None:
    cal = Calendar(
        hours={"mon": [(time(8), time(12)), "13:00-18:00"]},
        public_holidays=PublicHolidays(country="DE", region="BY", observed=True),
        closed=[date(2026, 12, 24), (date(2026, 12, 27), date(2026, 12, 31))],
        special_hours={date(2026, 12, 23): "08:00-13:00"},
        timezone=ZoneInfo("Europe/Berlin"),
    )
    assert cal == calendar(
        hours={"mon": "08:00-12:00, 13:00-18:00"},
        special_hours={"2026-12-23": "08:00-13:00"},
        timezone="Europe/Berlin",
    )
    assert Calendar.model_validate(OFFICE | {"closed": "2026-12-24"}).closed == (
        (date(2026, 12, 24), date(2026, 12, 24)),
    )


def test_dump_reads_back_and_the_model_is_frozen() -> None:
    cal = calendar(timezone="Europe/Berlin")
    dumped = cal.model_dump(mode="json")
    assert dumped == {
        "hours": {
            "mon": "08:00-18:00",
            "tue": "08:00-18:00",
            "wed": "08:00-18:00",
            "thu": "08:00-18:00",
            "fri": "08:00-18:00",
            "sat": "09:00-12:00",
            "sun": "closed",
        },
        "public_holidays": {
            "country": "DE",
            "region": "BY",
            "observed": True,
            "categories": ["public"],
        },
        "closed": ["2026-12-24", "2026-12-27..2026-12-31"],
        "special_hours": {"2026-12-23": "08:00-13:00", "2026-12-30": "closed"},
        "timezone": "Europe/Berlin",
    }
    assert Calendar.model_validate(dumped) == cal
    assert hash(Calendar.model_validate(dumped)) == hash(cal)
    with pytest.raises(ValidationError):
        cal.timezone = "UTC"  # type: ignore[misc]


def test_json_schema_accepts_what_people_write() -> None:
    schema = Calendar.model_json_schema()
    jsonschema.validate(OFFICE, schema)
    jsonschema.validate({"hours": {"Mon-Fri": "8:00-12:00 , 13:00-17:00"}}, schema)
    jsonschema.validate({"hours": {"sat, sun": "Closed"}, "closed": "2026-12-24"}, schema)
    for wrong in (
        {"hours": {"mnd": "08:00-18:00"}},
        {"hours": {"mon": "8-18"}},
        {"hours": {}, "x": 1},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, schema)


# --- errors, in full --------------------------------------------------------------------------

_NOT_A_TIME = "is not a time of day (HH:MM, 00:00 to 24:00)"
_DAYS = "(days are mon, tue, wed, thu, fri, sat, sun)"
_RANGES = '(HH:MM-HH:MM, several separated by ", ", or closed)'
_DE_REGIONS = "BB, BE, BW, BY, HB, HE, HH, MV, NI, NW, RP, SH, SL, SN, ST, TH, Augsburg"


@pytest.mark.parametrize(
    ("hours", "loc", "message"),
    [
        ({"mnd": "08:00-18:00"}, ("mnd", "[key]"), f"unknown day 'mnd' {_DAYS}"),
        ({"mon-frei": "08:00-18:00"}, ("mon-frei", "[key]"), f"unknown day 'frei' {_DAYS}"),
        ({"": "08:00-18:00"}, ("", "[key]"), f"unknown day '' {_DAYS}"),
        (
            {"mon-fri,wed": "closed"},
            ("mon-fri,wed", "[key]"),
            "day 'wed' appears twice in 'mon-fri,wed'",
        ),
        ({"mon-fri": "08:00-25:00"}, ("mon-fri",), f"'25:00' {_NOT_A_TIME}"),
        ({"mon": "08:60-09:00"}, ("mon",), f"'08:60' {_NOT_A_TIME}"),
        ({"mon": "24:30-09:00"}, ("mon",), f"'24:30' {_NOT_A_TIME}"),
        ({"mon": "8-18"}, ("mon",), f"'8' {_NOT_A_TIME}"),
        ({"mon": "0800"}, ("mon",), f"'0800' is not a time range {_RANGES}"),
        ({"mon": "24:00-02:00"}, ("mon",), "'24:00' can only end a range, not start one"),
        ({"mon": "08:00-08:00"}, ("mon",), "'08:00-08:00' is an empty range"),
        ({"mon": "08:00-12:00, 11:00-14:00"}, ("mon",), "'08:00-12:00' and '11:00-14:00' overlap"),
        ({"mon": 8}, ("mon",), f"expected opening hours as text {_RANGES}, not int"),
        (
            {"mon-fri": "08:00-18:00", "wed": "closed"},
            (),
            "'mon-fri' and 'wed' both set the hours of wed",
        ),
        (
            {"mon-wed": "closed", "tue-thu": "closed"},
            (),
            "'mon-wed' and 'tue-thu' both set the hours of tue, wed",
        ),
    ],
)
def test_hours_errors(hours: dict[str, Any], loc: tuple[str, ...], message: str) -> None:
    assert errors({"hours": hours}) == [(("hours", *loc), message)]


@pytest.mark.parametrize(
    ("field", "value", "loc", "message"),
    [
        ("closed", ["2026-12-24", "2026-13-01"], (1,), "'2026-13-01' is not a date (YYYY-MM-DD)"),
        ("closed", ["24.12.2026"], (0,), "'24.12.2026' is not a date (YYYY-MM-DD)"),
        (
            "closed",
            ["2026-12-31..2026-12-27"],
            (0,),
            "'2026-12-31..2026-12-27' ends before it starts",
        ),
        (
            "closed",
            [datetime(2026, 12, 24, 9, 0)],
            (0,),
            "expected a date, not a date and time (2026-12-24T09:00:00)",
        ),
        ("closed", 5, (), "Input should be a valid list"),
        (
            "special_hours",
            {"2026-02-30": "closed"},
            ("2026-02-30", "[key]"),
            "'2026-02-30' is not a date (YYYY-MM-DD)",
        ),
        ("special_hours", {"2026-12-23": "08:00-13"}, ("2026-12-23",), f"'13' {_NOT_A_TIME}"),
        (
            "timezone",
            "Europe/Berln",
            (),
            "timezone 'Europe/Berln' is not known (did you mean 'Europe/Berlin'?)",
        ),
        (
            "timezone",
            "europe/berlin",
            (),
            "timezone 'europe/berlin' is not known (did you mean 'Europe/Berlin'?)",
        ),
        (
            "timezone",
            "Mars/Olympus",
            (),
            "timezone 'Mars/Olympus' is not known (use a name such as 'Europe/Berlin')",
        ),
        ("opening", "9-5", (), "Extra inputs are not permitted"),
    ],
)
def test_field_errors(field: str, value: Any, loc: tuple[Any, ...], message: str) -> None:
    assert errors(OFFICE | {field: value}) == [((field, *loc), message)]


@pytest.mark.parametrize(
    ("public_holidays", "field", "message"),
    [
        ({"country": "XX"}, "country", "country 'XX' is not known to the holidays package"),
        (
            {"country": "DE", "region": "ZZ"},
            "region",
            f"region 'ZZ' is not a subdivision of DE (known: {_DE_REGIONS})",
        ),
        (
            {"country": "IS", "region": "ZZ"},
            "region",
            "region 'ZZ' is not a subdivision of IS (it has none)",
        ),
        (
            {"country": "DE", "categories": ["public", "catolic"]},
            "categories",
            "category 'catolic' is not known for DE (known: catholic, public, school)",
        ),
        (
            {"country": "DE", "categories": []},
            "categories",
            "expected a list of holiday categories, such as [public]",
        ),
        ({"country": "DE", "observed": "yes"}, "observed", "must be true or false, not 'yes'"),
        ({"country": "DE", "subdivision": "BY"}, "subdivision", "Extra inputs are not permitted"),
    ],
)
def test_public_holiday_errors(public_holidays: dict[str, Any], field: str, message: str) -> None:
    data = OFFICE | {"public_holidays": public_holidays}
    assert errors(data) == [(("public_holidays", field), message)]


def test_missing_hours_and_all_errors_at_once() -> None:
    assert errors({}) == [(("hours",), "Field required")]
    found = errors({"hours": {"mnd": "x"}, "closed": ["x"], "timezone": "Nowhere"})
    assert [loc for loc, _ in found] == [
        ("hours", "mnd", "[key]"),
        ("hours", "mnd"),
        ("closed", 0),
        ("timezone",),
    ]


def test_region_names_and_aliases_are_normalised() -> None:
    assert PublicHolidays.model_validate({"country": "de", "region": "by"}).region == "BY"
    assert PublicHolidays.model_validate({"country": "GB", "region": "England"}).region == "ENG"
    categories = PublicHolidays.model_validate({"country": "DE", "categories": "Public, catholic"})
    assert categories.categories == ("public", "catholic")


def test_parse_timezone() -> None:
    assert parse_timezone(" Europe/Berlin ") == BERLIN
    with pytest.raises(ValueError, match="did you mean 'America/New_York'") as caught:
        parse_timezone("America/NewYork")
    assert str(caught.value) == (
        "timezone 'America/NewYork' is not known (did you mean 'America/New_York'?)"
    )
    with pytest.raises(ValueError, match="is not known"):
        parse_timezone("../../etc/passwd")
