"""Judging a scenario's call: its expectations against the trace and what the fake saw.

Each broken expectation is one `Failure`, located at the expectation in the scenario file and
carrying the expected and actual values as text. Some things fail a scenario without being
asked for: the call could not be judged (no trace, it ran past `max_duration`), the fake
FreeSWITCH saw something a real one would mishandle (a protocol violation), a caller action
never happened (the script does not fit the flow), or the call ended in `error`, `max_steps` or
`disconnected` when `expect.disposition` does not say so. A command that crossed the caller's
hangup (sent at the same instant) is no violation: ivrd could not have known.

Values are compared as text, the way the scenario file writes them: `true`, `42`, `null`;
an expected mapping checks only the keys it names, a list checks every item.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ivrd.scenarios.loading import ScenarioCase
from ivrd.scenarios.runner import CallOutcome
from ivrd.scenarios.targets import heard_all
from ivrd.testing import CallRecord, Violation

__all__ = ["Failure", "check_outcome", "final_variables", "show_value"]

BAD_DISPOSITIONS = ("error", "max_steps", "disconnected", "stopped")
RACE_WINDOW = 0.001
"""Simulated seconds: no time passes between sending and receiving on the mock clock."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One thing the scenario expected that the call did not show."""

    file: str
    line: int
    column: int
    path: str
    message: str
    expected: str | None = None
    actual: str | None = None

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.path}: {self.message}"
        if self.expected is not None:
            text += f"\n  expected: {self.expected}"
        if self.actual is not None:
            text += f"\n  actual:   {self.actual}"
        return text


def _raced_the_hangup(violation: Violation, record: CallRecord) -> bool:
    """A command that reached FreeSWITCH at the very moment the caller hung up: sent before
    ivrd could know (a real switch answers it with an error too), so not held against it."""
    return (
        violation.kind == "after-hangup"
        and record.hangup_by == "caller"
        and record.hangup_at is not None
        and violation.at - record.hangup_at <= RACE_WINDOW
    )


def show_value(value: Any) -> str:
    """A value as the scenario file would write it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def same(expected: Any, actual: Any) -> bool:
    if expected is None:
        return actual is None
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            same(value, actual.get(key)) for key, value in expected.items()
        )
    if isinstance(expected, list | tuple):
        return (
            isinstance(actual, list | tuple)
            and len(expected) == len(actual)
            and all(same(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return not isinstance(actual, dict | list | tuple) and show_value(actual) == str(expected)


def final_variables(case: ScenarioCase, outcome: CallOutcome) -> dict[str, Any]:
    """The main flow's variables at the end, from its start values and the trace's changes."""
    values: dict[str, Any] = {
        name: template.source
        for name, template in case.flow.variables.items()
        if template.is_constant
    }
    values.update(case.settings.variables)
    if outcome.trace is not None:
        for step in outcome.trace.steps:
            if step.flow == case.flow.name:
                values.update(step.variables)
    return values


def _in_order(wanted: Sequence[str], seen: Sequence[str], match: Callable[[str, str], bool]) -> int:
    """How many of `wanted` appear in `seen` in order (len(wanted) when all do)."""
    found = 0
    for item in seen:
        if found < len(wanted) and match(wanted[found], item):
            found += 1
    return found


def _equal(wanted: str, item: str) -> bool:
    return wanted == item


def _app_matches(wanted: str, app: str) -> bool:
    """`playback` names an application; `set language=de` also checks its argument's start."""
    return app.split(" ", 1)[0] == wanted if " " not in wanted else app.startswith(wanted)


def _first_difference(
    expected: Sequence[str], actual: Sequence[str], match: Callable[[str, str], bool]
) -> str:
    for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
        if not match(want, got):
            return f"; at #{index + 1} expected '{want}', got '{got}'"
    if len(actual) < len(expected):
        return f"; it stops before '{expected[len(actual)]}'"
    return f"; then '{actual[len(expected)]}' too"


class _Judge:
    def __init__(self, case: ScenarioCase, outcome: CallOutcome) -> None:
        self.case = case
        self.outcome = outcome
        self.failures: list[Failure] = []

    def fail(
        self,
        path: tuple[str | int, ...],
        message: str,
        expected: str | None = None,
        actual: str | None = None,
    ) -> None:
        line, column, written = self.case.locate(*path)
        self.failures.append(
            Failure(self.case.file, line, column, written, message, expected, actual)
        )

    def sequence(
        self,
        fields: tuple[str, str],
        what: str,
        actual: list[str],
        *,
        joiner: str = " > ",
        match: Callable[[str, str], bool] = _equal,
        shown: str | None = None,
    ) -> None:
        """`expect.<exact>` (the whole list) and `expect.<contained>` (in order, gaps allowed)."""
        exact_field, contained_field = fields
        exact: tuple[str, ...] | None = getattr(self.case.expect, exact_field)
        contained: tuple[str, ...] | None = getattr(self.case.expect, contained_field)
        shown = shown if shown is not None else joiner.join(actual) or "(none)"
        if exact is not None:
            matched = len(exact) == len(actual) and all(
                match(w, a) for w, a in zip(exact, actual, strict=True)
            )
            if not matched:
                self.fail(
                    ("expect", exact_field),
                    f"{what} differ{_first_difference(exact, actual, match)}",
                    joiner.join(exact) or "(none)",
                    shown,
                )
        if contained is not None:
            found = _in_order(contained, actual, match)
            if found < len(contained):
                after = f" after '{contained[found - 1]}'" if found else ""
                self.fail(
                    ("expect", contained_field, found),
                    f"{what} do not include '{contained[found]}'{after}",
                    joiner.join(contained),
                    shown,
                )

    def judge(self) -> list[Failure]:
        outcome, expect = self.outcome, self.case.expect
        if outcome.problem is not None:
            self.fail((), outcome.problem)
        record, trace = outcome.record, outcome.trace
        if record is not None:
            self.violations(record)
        for action in outcome.actions:
            if not action.done:
                self.fail(("caller", action.number - 1), f"{action.description}: {action.note}")
        if trace is None or record is None:
            return self.failures
        if expect.disposition is not None:
            if trace.disposition != expect.disposition:
                self.fail(
                    ("expect", "disposition"),
                    "the call ended differently",
                    expect.disposition,
                    str(trace.disposition),
                )
        elif trace.disposition in BAD_DISPOSITIONS:
            self.fail((), f"the call ended with disposition '{trace.disposition}'")
        cause = trace.hangup_cause or record.hangup_cause
        if expect.hangup_cause is not None and cause != expect.hangup_cause:
            self.fail(
                ("expect", "hangup_cause"), "another hangup cause", expect.hangup_cause, str(cause)
            )
        self.sequence(("path", "path_contains"), "the steps visited", trace.path)
        apps = [(app.name, app.arg) for app in record.apps if app.started_at is not None]
        self.sequence(
            ("prompts", "prompts_contain"), "the prompts heard", heard_all(apps), joiner=" | "
        )
        self.sequence(
            ("apps", "apps_contain"),
            "the applications run",
            [f"{name} {arg}".rstrip() for name, arg in apps],
            joiner=", ",
            match=_app_matches,
            shown=", ".join(name for name, _ in apps),  # arguments would drown the difference
        )
        self.values("variables", "variable", expect.variables, final_variables(self.case, outcome))
        self.values(
            "channel_variables", "channel variable", expect.channel_variables, record.variables
        )
        return self.failures

    def violations(self, record: CallRecord) -> None:
        for violation in record.violations:
            if _raced_the_hangup(violation, record):
                continue
            if violation.kind == "unknown-application":
                self.fail(
                    (),
                    f"the fake FreeSWITCH cannot run '{violation.detail}': real FreeSWITCH needs"
                    " the module that provides it, and this scenario cannot pass here",
                )
            else:
                self.fail(
                    (), f"FreeSWITCH would mishandle this: {violation.kind}: {violation.detail}"
                )

    def values(
        self, kind: str, what: str, expected: dict[str, Any] | None, actual: dict[str, Any]
    ) -> None:
        for name, value in (expected or {}).items():
            got = actual.get(name)
            if not same(value, got):
                self.fail(
                    ("expect", kind, name), f"{what} '{name}'", show_value(value), show_value(got)
                )


def check_outcome(case: ScenarioCase, outcome: CallOutcome) -> list[Failure]:
    """Every way the call differs from what the scenario expects (empty: it passed)."""
    return _Judge(case, outcome).judge()
