"""The calls behind the example scenarios, looked at closely: what the fake FreeSWITCH saw.

Each required behaviour has a scenario in `flows/*.test.yaml`; these tests check that the call
really did what the scenario's name says (keys during a prompt, silence, a hangup during a
transfer, a timed-out HTTP service, a holiday), on the simulated clock.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ivrd.scenarios import SuiteRun, run_tests
from ivrd.scenarios.runner import CallOutcome

from .conftest import FIXTURES, FLOWS, result_named


def outcome(examples: tuple[SuiteRun, float], name: str) -> CallOutcome:
    result = result_named(examples[0], name)
    assert result.passed, [str(failure) for failure in result.failures]
    return result.outcome


def test_keys_pressed_during_a_prompt_stop_it(examples: tuple[SuiteRun, float]) -> None:
    call = outcome(examples, "star-zero during the welcome reaches the operator")
    assert call.record is not None
    assert call.trace is not None
    welcome = next(app for app in call.record.apps if app.arg == "ivr/acme/en/welcome.wav")
    assert welcome.started_at is not None
    assert welcome.ended_at is not None
    keys = list(call.record.dtmf)
    assert [key.digit for key in keys] == ["*", "0"]
    assert all(welcome.started_at < key.at <= welcome.ended_at for key in keys)
    assert keys[0].at - welcome.started_at == pytest.approx(0.3)  # `delay: 300ms`
    # The prompt (1 s long) was cut short by the hook, which then went to the operator.
    assert welcome.duration is not None
    assert welcome.duration < 1.0
    assert call.trace.steps[1].outcome == "key *0"
    assert call.trace.steps[1].target == "operator"


def test_silence_lets_the_question_time_out(examples: tuple[SuiteRun, float]) -> None:
    call = outcome(examples, "silence at the language menu means English")
    assert call.record is not None
    assert call.trace is not None
    question = next(app for app in call.record.apps if app.name == "play_and_get_digits")
    # The prompt, then the whole 5 s first-digit timeout (and the neutral 250 ms invalid file)
    # without a key.
    assert question.duration is not None
    assert 6.0 <= question.duration <= 7.5
    assert call.record.dtmf[0].at > (question.ended_at or 0)
    assert call.trace.steps[2].step == "choose_language"
    assert call.trace.steps[2].outcome == "no_input"


def test_hanging_up_mid_transfer(examples: tuple[SuiteRun, float]) -> None:
    call = outcome(examples, "caller hangs up mid-transfer")
    assert call.record is not None
    assert call.trace is not None
    bridge = next(app for app in call.record.apps if app.name == "bridge")
    assert bridge.started_at is not None
    assert call.record.hangup_at is not None
    assert call.record.hangup_by == "caller"
    # Ten seconds into the bridge: the operator rang for 1 s and was talking.
    assert call.record.hangup_at - bridge.started_at == pytest.approx(10.0, abs=0.05)
    assert call.trace.disposition == "caller_hangup"
    # on.hangup still ran: the CRM heard about the call.
    assert [r.answer for r in call.requests if r.method == "POST"] == ["204"]


def test_a_timed_out_http_service_takes_the_error_route(examples: tuple[SuiteRun, float]) -> None:
    call = outcome(examples, "CRM times out, nobody reachable")
    assert call.trace is not None
    lookup = next(step for step in call.trace.steps if step.step == "lookup")
    assert lookup.outcome == "on_error"
    assert lookup.error is not None
    assert "no response within 2s" in lookup.error
    assert lookup.duration == pytest.approx(2.0)  # the service's timeout, not its 10 s delay
    assert [r.answer for r in call.requests if r.method == "GET"] == ["timeout"]


def test_holidays(examples: tuple[SuiteRun, float]) -> None:
    christmas = outcome(examples, "Christmas Day is a holiday")
    assert christmas.trace is not None
    assert christmas.trace.steps[0].outcome == "holiday"
    eve = outcome(examples, "Christmas Eve is closed all day, like a holiday")
    assert eve.trace is not None
    assert eve.trace.steps[0].outcome == "holiday"


def test_the_flows_clock_runs_on_with_the_call() -> None:
    run = run_tests([str(FIXTURES / "clock.scenarios.yaml")])
    assert [result.passed for result in run.results] == [True] * 4
    first = run.results[0].outcome.trace
    assert first is not None
    assert [step.outcome for step in first.steps] == ["open", "next", "closed", "hangup"]
    assert first.steps[2].started == pytest.approx(10.0, abs=0.1)


def test_scenarios_run_concurrently_and_independently() -> None:
    one = run_tests([str(FIXTURES / "clock.scenarios.yaml")], concurrency=1)
    many = run_tests([str(FIXTURES / "clock.scenarios.yaml")] * 2, concurrency=50)
    assert len(many.results) == 4  # a file named twice is run once
    paths = [[r.outcome.trace.path for r in run.results if r.outcome.trace] for run in (one, many)]
    assert paths[0] == paths[1]
    uuids = {r.outcome.record.uuid for r in many.results if r.outcome.record}
    assert len(uuids) == 4


def _queue_step(call: CallOutcome) -> tuple[float, str, dict[str, object]]:
    """The `callcenter` application's duration and the sales step's outcome and result."""
    assert call.record is not None
    assert call.trace is not None
    (queue,) = [app for app in call.record.apps if app.name == "callcenter"]
    assert queue.arg == "sales@default"
    assert queue.duration is not None
    (sales,) = [step for step in call.trace.steps if step.step == "sales"]
    return queue.duration, sales.outcome, dict(call.record.variables)


def test_an_agent_answers_the_sales_queue(examples: tuple[SuiteRun, float]) -> None:
    call = outcome(examples, "an agent of the sales queue answers")
    waited, taken, variables = _queue_step(call)
    assert (taken, variables["cc_cause"]) == ("answered", "answered")
    # `callcenter` ends as the agent answers; ivrd then sends nothing during the 3 min
    # conversation, and the agent hanging up ends the call.
    assert waited == pytest.approx(45.0, abs=0.05)
    assert call.record is not None
    (callcenter,) = [app for app in call.record.apps if app.name == "callcenter"]
    assert callcenter.ended_at is not None
    assert [app.name for app in call.record.apps if app.started_at >= callcenter.ended_at] == []
    assert (call.record.hangup_by, call.record.hangup_cause) == ("switch", "NORMAL_CLEARING")
    assert call.record.hangup_at is not None
    assert call.record.hangup_at - callcenter.ended_at == pytest.approx(180.0, abs=0.1)


@pytest.mark.parametrize(
    ("name", "seconds", "taken", "reason"),
    [
        ("nobody in sales answers before the queue gives up", 300.0, "no_answer", "TIMEOUT"),
        ("the caller leaves the sales queue with a key", 30.0, "no_answer", "EXIT_WITH_KEY"),
        ("no sales agent is logged in", 15.0, "unavailable", "NO_AGENT_TIMEOUT"),
    ],
)
def test_the_caller_leaves_the_sales_queue_without_an_agent(
    examples: tuple[SuiteRun, float], name: str, seconds: float, taken: str, reason: str
) -> None:
    waited, outcome_taken, variables = _queue_step(outcome(examples, name))
    assert waited == pytest.approx(seconds, abs=0.05)
    assert outcome_taken == taken
    assert (variables["cc_cause"], variables["cc_cancel_reason"]) == ("cancel", reason)


def test_queues_not_in_the_scenario_do_not_exist(tmp_path: Path) -> None:
    scenarios = tmp_path / "queues.test.yaml"
    to_sales = "    caller: [{press: '1'}, {press: '1'}]\n"
    to_voicemail = "    expect: {path_contains: [sales, voicemail]}\n"
    scenarios.write_text(
        f"flow: {FLOWS / 'acme-main.yaml'}\n"
        'defaults: {at: "2026-12-22T10:00:00+01:00"}\n'
        "scenarios:\n"
        f"  no queues given:\n{to_sales}{to_voicemail}"
        f"  another queue given:\n{to_sales}{to_voicemail}"
        "    queues: {support@default: answered}\n"
        f"  every other queue answers:\n{to_sales}"
        "    queues: {'*': {result: answered, wait: 1s}}\n"
        "    expect: {path_contains: [sales, goodbye]}\n"
        f"  missing said outright:\n{to_sales}{to_voicemail}"
        "    queues: {'*': answered, sales@default: missing}\n",
        encoding="utf-8",
    )
    run = run_tests([str(scenarios)])
    assert [(r.case.name, r.passed) for r in run.results] == [
        ("no queues given", True),
        ("another queue given", True),
        ("every other queue answers", True),
        ("missing said outright", True),
    ]
    missing = run.results[0].outcome.record
    assert missing is not None
    assert "cc_cause" not in missing.variables
