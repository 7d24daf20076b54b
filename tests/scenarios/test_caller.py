"""Caller actions and their triggers: during, after, at, nth, silence, and what fails."""

from __future__ import annotations

import pytest

from ivrd.scenarios import SuiteRun, run_tests

from .conftest import FIXTURES, result_named

CALLER = FIXTURES / "caller.scenarios.yaml"


@pytest.fixture(scope="module")
def run() -> SuiteRun:
    return run_tests([str(CALLER)])


def test_the_triggers_fit_the_flow(run: SuiteRun) -> None:
    assert [r.case.name for r in run.passed] == [
        "hang up once the first transfer ended",
        "hang up at a time",
        "the second question by number",
        "silence during a named step, then keys",
    ]


def test_after_acts_once_the_application_ended(run: SuiteRun) -> None:
    call = result_named(run, "hang up once the first transfer ended").outcome
    assert call.record is not None
    first, second = [app for app in call.record.apps if app.name == "bridge"]
    assert first.ended_at is not None  # user/2001 was busy
    assert second.started_at is not None
    assert call.record.hangup_at == pytest.approx(first.ended_at + 0.1)
    assert second.started_at < call.record.hangup_at  # while user/2002 rang


def test_at_counts_from_the_connection(run: SuiteRun) -> None:
    call = result_named(run, "hang up at a time").outcome
    assert call.record is not None
    assert call.record.connected_at is not None
    assert call.record.hangup_at is not None
    assert call.record.hangup_at - call.record.connected_at == pytest.approx(1.5)
    assert call.record.hangup_by == "caller"


def test_nth_picks_an_application_of_the_whole_call(run: SuiteRun) -> None:
    call = result_named(run, "the second question by number").outcome
    assert call.record is not None
    questions = [app for app in call.record.apps if app.name == "play_and_get_digits"]
    (key,) = call.record.dtmf
    assert key.digit == "5"
    assert questions[1].started_at is not None
    assert questions[1].started_at <= key.at <= (questions[1].ended_at or 0)


def test_an_action_whose_application_is_over_fails_the_scenario(run: SuiteRun) -> None:
    result = result_named(run, "an application that already ended")
    assert [str(f).replace(str(CALLER), "F") for f in result.failures] == [
        "F:47:9: scenarios.an application that already ended.caller.1: press 2 during welcome"
        " (#1): skipped: step welcome (playback) #1 had already ended"
    ]
    shown = [str(action) for action in result.outcome.actions]
    assert shown[1] == (
        "2. press 2 during welcome (#1): skipped: step welcome (playback) #1 had already ended"
    )
    assert shown[2].startswith("3. hangup: at 1.")
