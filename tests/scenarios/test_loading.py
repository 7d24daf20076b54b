"""Loading scenario files: the broken corpus reported exactly, defaults merged, bodies typed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivrd.scenarios import find_scenario_files, load_scenario_file
from ivrd.scenarios.loading import used_secrets
from ivrd.scenarios.runner import queue_outcome
from ivrd.scenarios.typedyaml import load_typed
from ivrd.testing import AgentAnswers, NoAgent, QueueTimeout

from .conftest import BROKEN, FIXTURES, FLOWS

CASES = sorted(path.stem for path in BROKEN.glob("*.yaml"))


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 20
    assert all((BROKEN / f"{name}.expected").is_file() for name in CASES)


@pytest.mark.parametrize("name", CASES)
def test_each_mistake_is_reported_exactly(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)
    loaded = load_scenario_file(f"{name}.yaml")
    expected = (BROKEN / f"{name}.expected").read_text(encoding="utf-8")
    assert "".join(f"{d}\n" for d in loaded.diagnostics) == expected
    assert loaded.cases == []


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_defaults_are_merged_into_each_scenario(tmp_path: Path) -> None:
    file = write(
        tmp_path,
        "acme.test.yaml",
        f"""\
flow: {FLOWS / "acme-main.yaml"}
defaults:
  at: "2026-12-22 10:00"
  caller_id: "100"
  channel: {{a: "1", b: "2"}}
  http:
    crm: {{method: POST, status: 204}}
  transfers: {{user/1000: busy}}
scenarios:
  own settings win:
    caller_id: "200"
    channel: {{b: "3"}}
    http:
      crm: {{method: GET, status: 404}}
    transfers: {{user/2001: no_answer}}
  defaults only: {{}}
""",
    )
    loaded = load_scenario_file(file)
    assert loaded.diagnostics == []
    own, plain = loaded.cases
    assert own.settings.caller_id == "200"
    assert plain.settings.caller_id == "100"
    assert own.settings.channel == {"a": "1", "b": "3"}
    assert [r.status for r in own.settings.http["crm"]] == [404, 204]  # the scenario's first
    assert [r.status for r in plain.settings.http["crm"]] == [204]
    assert set(own.settings.transfers) == {"user/1000", "user/2001"}
    # Without an offset `at` is read in the flow's zone.
    assert own.start == datetime(2026, 12, 22, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert own.id == f"{file}::own settings win"


def test_queue_results_merge_and_take_their_shorthand(tmp_path: Path) -> None:
    file = write(
        tmp_path,
        "queues.test.yaml",
        f"""\
flow: {FLOWS / "acme-main.yaml"}
defaults:
  queues: {{"*": no_agent, sales@default: {{result: timeout, wait: 2m}}}}
scenarios:
  answered:
    queues:
      sales@default: {{result: answered, wait: 45s, talk: 3m, agent: anna@default}}
  defaults only: {{}}
""",
    )
    answered, plain = load_scenario_file(file).cases
    queues = answered.settings.queues
    assert sorted(queues) == ["*", "sales@default"]
    assert queues["*"].result == "no_agent"
    assert queues["*"].wait is None  # the fake's own default
    sales = queues["sales@default"]
    assert (sales.result, sales.wait, sales.talk, sales.agent) == (
        "answered",
        timedelta(seconds=45),
        timedelta(minutes=3),
        "anna@default",
    )
    assert plain.settings.queues["sales@default"].wait == timedelta(minutes=2)
    outcomes = {name: queue_outcome(result) for name, result in queues.items()}
    assert outcomes == {
        "*": NoAgent(),
        "sales@default": AgentAnswers(wait=45, talk=180, agent="anna@default"),
    }
    assert queue_outcome(plain.settings.queues["sales@default"]) == QueueTimeout(wait=120)


def test_json_bodies_keep_their_types_and_the_rest_is_text(tmp_path: Path) -> None:
    file = write(
        tmp_path,
        "typed.test.yaml",
        f"""\
flow: {FLOWS / "acme-main.yaml"}
scenarios:
  typed:
    http:
      crm:
        json: {{vip: true, id: "0042", count: 0123, ratio: 1.5, none: null, word: yes}}
    variables: {{vip: true}}
""",
    )
    (case,) = load_scenario_file(file).cases
    (reply,) = case.settings.http["crm"]
    assert reply.json_body == {
        "vip": True,
        "id": "0042",
        "count": 123,
        "ratio": 1.5,
        "none": None,
        "word": "yes",
    }
    assert case.settings.variables == {"vip": "true"}


def test_the_core_schema_reader_keeps_yaml_1_1_surprises_as_text() -> None:
    assert load_typed("a: [no, off, 12:30, 0o17, ~, TRUE]\nb: &x {c: 1}\nd: {<<: *x}\n") == {
        "a": ["no", "off", "12:30", "0o17", None, True],
        "b": {"c": 1},
        "d": {"c": 1},
    }
    assert load_typed("a: [") is None


def test_secrets_the_flow_reads_get_placeholders(tmp_path: Path) -> None:
    acme = load_scenario_file(str(FLOWS / "acme-main.test.yaml")).cases[0]
    assert used_secrets(acme.flow) == {"CRM_TOKEN"}
    assert acme.secrets == {"CRM_TOKEN": "test-CRM_TOKEN"}
    pin = load_scenario_file(str(FLOWS / "pin-check.test.yaml")).cases[0]
    assert pin.secrets == {"BANK_API_KEY": "scenario-key"}  # the scenario's own value


def test_caller_actions_are_read_in_every_form(tmp_path: Path) -> None:
    file = write(
        tmp_path,
        "forms.test.yaml",
        f"""\
flow: {FLOWS / "acme-main.yaml"}
scenarios:
  forms:
    caller:
      - press: 1
      - press: "*0"
        during: welcome
        delay: 300ms
      - silence
      - silence: 6s
      - silence:
        during: account
      - hangup: {{during: support, delay: 5s, cause: USER_BUSY}}
      - hangup
""",
    )
    (case,) = load_scenario_file(file).cases
    described = [planned.action.describe() for planned in case.caller]
    assert described == [
        "press 1",
        "press *0 during welcome +0.3s",
        "silence",
        "silence 6s",
        "silence during account",
        "hangup (USER_BUSY) during support +5s",
        "hangup",
    ]
    targets = [planned.target.label if planned.target else None for planned in case.caller]
    assert targets[1] == "step welcome (playback)"
    assert targets[4] == "step account (play_and_get_digits)"
    assert targets[5] == "step support (bridge)"
    assert case.caller[5].action.delay == timedelta(seconds=5)


def test_scenario_files_are_found_in_directories(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("a.test.yaml", "sub/b.test.yml", ".hidden/c.test.yaml", "flow.yaml", "x.yaml"):
        (tmp_path / name).write_text("", encoding="utf-8")
    files, problems = find_scenario_files([str(tmp_path), str(FIXTURES / "clock.scenarios.yaml")])
    assert files == [
        str(tmp_path / "a.test.yaml"),
        str(tmp_path / "sub" / "b.test.yml"),
        str(FIXTURES / "clock.scenarios.yaml"),  # named: used whatever its name
    ]
    assert problems == []
    _, problems = find_scenario_files(["no/such/place"])
    assert [str(p) for p in problems] == ["no/such/place:1:1: no such file or directory"]


def test_an_unreadable_file_is_a_diagnostic(tmp_path: Path) -> None:
    missing = str(tmp_path / "gone.test.yaml")
    (problem,) = load_scenario_file(missing).diagnostics
    assert str(problem) == f"{missing}:1:1: cannot read the file: No such file or directory"
    listed = write(tmp_path, "list.test.yaml", "- a\n- b\n")
    (problem,) = load_scenario_file(listed).diagnostics
    assert problem.message.startswith("a scenario file is a mapping")
