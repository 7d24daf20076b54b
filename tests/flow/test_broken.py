"""The broken-flow corpus: every mistake reported exactly, with file, line, column, path, text.

`tests/flow/broken/NAME.yaml` holds one mistake a person makes (a few hold two or three that go
together); `NAME.expected` holds the whole diagnostic lines `load_flow` must produce, in order.
The JSON Schema is checked against the same files: it must refuse the mistakes an editor can
see (wrong types, unknown fields, missing fields), and accept the files whose only problem is
one the schema cannot express (unknown targets, dead ends, loops, ...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ivrd.flow import Severity, flow_json_schema, load_flow, validate_paths

BROKEN = Path(__file__).parent / "broken"
CASES = sorted(path.stem for path in BROKEN.glob("*.yaml"))

# Mistakes that leave a flow loadable: reported as warnings, which only --strict fails on.
WARNING_ONLY = {"menu-ambiguous-keys", "unreachable-step"}

SCHEMA_REFUSES = {
    "answer-mode-invalid",
    "attempts-in-words",
    "calendar-day-misspelled",
    "calendar-field-misspelled",
    "calendar-hours-invalid",
    "digits-zero",
    "duration-negative",
    "duration-no-unit",
    "duration-words",
    "end-key-two-keys",
    "hangup-cause-misspelled",
    "hooks-misspelled",
    "http-method-lowercase",
    "long-call-without-after",
    "menu-key-invalid",
    "menu-no-options",
    "menu-options-list",
    "play-without-next",
    "prompt-item-misspelled",
    "prompt-plain-file",
    "regex-invalid",
    "step-field-misspelled",
    "step-name-invalid",
    "step-type-missing",
    "step-type-unknown",
    "top-field-misspelled",
    "transfer-to-nobody",
    "variable-name-invalid",
    "version-2",
    "version-missing",
    "yaml-hash-value",
}

SCHEMA_ACCEPTS = {
    "calendar-unknown",
    "dead-end-http",
    "dead-end-menu",
    "dead-end-transfer",
    "end-key-starts-hook",
    "hangup-hook-service-unknown",
    "hook-key-collides",
    "hook-key-prefix",
    "hook-not-during-unknown",
    "loop-without-input",
    "menu-ambiguous-keys",
    "prompt-missing-language",
    "prompt-undeclared-language",
    "prompt-unknown",
    "service-unknown",
    "start-misspelled",
    "subflow-unknown",
    "target-misspelled",
    "template-unset-variable",
    "unreachable-step",
}


def test_the_corpus_is_large_and_complete() -> None:
    assert len(CASES) >= 40
    for name in CASES:
        assert (BROKEN / f"{name}.expected").is_file(), f"{name}.yaml has no .expected file"
    assert set(CASES) >= SCHEMA_REFUSES | SCHEMA_ACCEPTS | WARNING_ONLY


@pytest.mark.parametrize("name", CASES)
def test_broken_flow_messages(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)
    expected = (BROKEN / f"{name}.expected").read_text(encoding="utf-8").splitlines()
    result = load_flow(f"{name}.yaml")
    assert [str(d) for d in result.diagnostics] == expected
    assert expected, "a broken flow must produce at least one diagnostic"


@pytest.mark.parametrize("name", CASES)
def test_broken_flows_do_not_load_unless_only_warned(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(BROKEN)
    result = load_flow(f"{name}.yaml")
    if name in WARNING_ONLY:
        assert result.flow is not None
        assert {d.severity for d in result.diagnostics} == {Severity.WARNING}
    else:
        assert result.flow is None
        assert result.errors


def test_strict_makes_warnings_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)
    report = validate_paths(["unreachable-step.yaml", "menu-ambiguous-keys.yaml"])
    assert not report.failed()
    assert report.failed(strict=True)
    assert len(report.warnings) == 2


def _as_an_editor_reads_it(name: str) -> Any:
    # An editor's YAML plugin parses to JSON: keys become strings, numbers and booleans stay.
    data = yaml.safe_load((BROKEN / f"{name}.yaml").read_text(encoding="utf-8"))
    return json.loads(json.dumps(data, default=str))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        flow_json_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.mark.parametrize("name", sorted(SCHEMA_REFUSES))
def test_schema_refuses_what_an_editor_can_see(
    name: str, validator: jsonschema.Draft202012Validator
) -> None:
    assert list(validator.iter_errors(_as_an_editor_reads_it(name)))


@pytest.mark.parametrize("name", sorted(SCHEMA_ACCEPTS))
def test_schema_accepts_what_only_the_checker_can_see(
    name: str, validator: jsonschema.Draft202012Validator
) -> None:
    errors = [e.message for e in validator.iter_errors(_as_an_editor_reads_it(name))]
    assert errors == []
