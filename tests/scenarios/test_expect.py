"""Deliberately failing scenarios: each failure located, with what was expected and seen."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivrd.scenarios import SuiteRun, run_tests
from ivrd.scenarios.expect import same, show_value

from .conftest import FIXTURES, result_named

FAILING = FIXTURES / "failing.scenarios.yaml"


@pytest.fixture(scope="module")
def failing() -> SuiteRun:
    return run_tests([str(FAILING)])


def failures(run: SuiteRun, name: str) -> list[str]:
    result = result_named(run, name)
    assert not result.passed
    shown = str(FAILING)
    return [str(failure).replace(shown, "F") for failure in result.failures]


def test_every_failing_scenario_fails(failing: SuiteRun) -> None:
    assert failing.passed == []
    assert len(failing.failed) == 7
    assert failing.exit_code == 1


def test_a_wrong_path(failing: SuiteRun) -> None:
    assert failures(failing, "wrong path") == [
        "F:6:7: scenarios.wrong path.expect.path: the steps visited differ; then 'goodbye' too"
        "\n  expected: hello\n  actual:   hello > goodbye"
    ]


def test_a_wrong_prompt(failing: SuiteRun) -> None:
    assert failures(failing, "wrong prompt") == [
        "F:9:7: scenarios.wrong prompt.expect.prompts: the prompts heard differ; at #1 expected"
        " 'Hello!', got 'Hello, and thank you for calling. Goodbye!'"
        "\n  expected: Hello!\n  actual:   Hello, and thank you for calling. Goodbye!"
    ]


def test_a_wrong_disposition_and_cause(failing: SuiteRun) -> None:
    assert failures(failing, "wrong disposition and cause") == [
        "F:12:20: scenarios.wrong disposition and cause.expect.disposition: the call ended"
        " differently\n  expected: caller_hangup\n  actual:   hangup",
        "F:13:21: scenarios.wrong disposition and cause.expect.hangup_cause: another hangup"
        " cause\n  expected: USER_BUSY\n  actual:   NORMAL_CLEARING",
    ]


def test_wrong_applications(failing: SuiteRun) -> None:
    assert failures(failing, "wrong applications") == [
        "F:16:7: scenarios.wrong applications.expect.apps: the applications run differ; at #3"
        " expected 'playback', got 'speak flite|kal|Hello, and thank you for calling. Goodbye!'"
        "\n  expected: multiset, answer, playback, hangup"
        "\n  actual:   multiset, answer, speak, hangup",
        "F:17:30: scenarios.wrong applications.expect.apps_contain.1: the applications run do"
        " not include 'bridge' after 'answer'"
        "\n  expected: answer, bridge\n  actual:   multiset, answer, speak, hangup",
    ]


def test_a_caller_action_that_never_happens(failing: SuiteRun) -> None:
    assert failures(failing, "a key nobody asks for") == [
        "F:20:9: scenarios.a key nobody asks for.caller.0: press 1: not reached: the call"
        " ended first"
    ]


def test_a_call_that_runs_too_long(failing: SuiteRun) -> None:
    assert failures(failing, "too long") == [
        "F:21:3: scenarios.too long: the call did not end within 1s (max_duration)",
        "F:21:3: scenarios.too long: the call ended with disposition 'disconnected'",
    ]


def test_wrong_variables(failing: SuiteRun) -> None:
    assert failures(failing, "wrong variables") == [
        "F:28:34: scenarios.wrong variables.expect.path_contains.1: the steps visited do not"
        " include 'account' after 'main_menu'"
        "\n  expected: main_menu > account > lookup"
        "\n  actual:   hours > welcome > choose_language > english > main_menu",
        "F:29:26: scenarios.wrong variables.expect.variables.queue: variable 'queue'"
        "\n  expected: support\n  actual:   null",
        "F:29:45: scenarios.wrong variables.expect.variables.language: variable 'language'"
        "\n  expected: de\n  actual:   null",
        "F:30:41: scenarios.wrong variables.expect.channel_variables.ivr_language: channel"
        " variable 'ivr_language'\n  expected: de\n  actual:   en",
        "F:30:66: scenarios.wrong variables.expect.channel_variables.hangup_after_bridge:"
        " channel variable 'hangup_after_bridge'\n  expected: false\n  actual:   null",
    ]


def test_values_compare_as_the_file_writes_them() -> None:
    assert same("true", True)
    assert same("42", 42)
    assert same("1.5", 1.5)
    assert same(None, None)
    assert not same("True", True)
    assert not same("x", None)
    assert not same(None, "")
    assert same({"vip": "true"}, {"vip": True, "name": "Ada"})  # only the keys named
    assert not same({"vip": "true"}, {"vip": False})
    assert same(["1", "2"], [1, 2])
    assert not same(["1"], [1, 2])
    assert not same("1", [1])
    assert show_value({"b": 1, "a": True}) == '{"a": true, "b": 1}'
    assert show_value(None) == "null"
    assert show_value(False) == "false"


def test_an_unexpected_error_ending_fails_the_scenario(tmp_path: Path) -> None:
    flow = tmp_path / "broken-step.yaml"
    flow.write_text(
        "ivr: 1\nname: broken-step\nstart: greet\nsteps:\n"
        "  greet:\n    type: app\n    name: no_such_app\n    next: bye\n"
        "  bye:\n    type: hangup\n",
        encoding="utf-8",
    )
    scenarios = tmp_path / "broken-step.test.yaml"
    scenarios.write_text(
        "flow: broken-step.yaml\nscenarios:\n  plain: {}\n"
        "  expected: {expect: {disposition: caller_hangup}}\n",
        encoding="utf-8",
    )
    run = run_tests([str(scenarios)])
    plain, expected = run.results
    # The fake FreeSWITCH refuses the unknown application and hangs up.
    assert [f.message for f in plain.failures] == [
        "the fake FreeSWITCH cannot run 'no_such_app': real FreeSWITCH needs the module that"
        " provides it, and this scenario cannot pass here"
    ]
    assert [f.message for f in expected.failures] == [plain.failures[0].message]
