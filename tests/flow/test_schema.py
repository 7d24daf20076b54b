"""The JSON Schema: valid itself, checks the example flows as an editor reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ivrd.flow import flow_json_schema

FLOWS = Path(__file__).resolve().parents[2] / "flows"
EXAMPLES = sorted(p for p in FLOWS.rglob("*.yaml") if not p.name.endswith(".test.yaml"))


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return flow_json_schema()


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def editor_view(text: str) -> Any:
    # yaml.safe_load as an editor would, then JSON: keys become strings, numbers stay numbers.
    return json.loads(json.dumps(yaml.safe_load(text), default=str))


def test_the_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "ivrd flow"
    assert set(schema["required"]) == {"ivr", "name", "start", "steps"}


def test_the_schema_is_json(schema: dict[str, Any]) -> None:
    assert json.loads(json.dumps(schema)) == schema


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(path: Path, validator: jsonschema.Draft202012Validator) -> None:
    errors = [e.message for e in validator.iter_errors(editor_view(path.read_text("utf-8")))]
    assert errors == []


MINIMAL = "ivr: 1\nname: t\nstart: a\nsteps:\n  a: {type: hangup}\n"


@pytest.mark.parametrize(
    "extra",
    [
        "defaults: {attempts: 3}\n",
        "steps2: {}\n",
    ],
)
def test_unknown_top_level_fields_are_refused_and_native_ints_accepted(
    extra: str, validator: jsonschema.Draft202012Validator
) -> None:
    errors = list(validator.iter_errors(editor_view(MINIMAL + extra)))
    assert bool(errors) == extra.startswith("steps2")


def test_native_scalars_where_people_write_them_unquoted(
    validator: jsonschema.Draft202012Validator,
) -> None:
    text = (
        "ivr: 1\nname: t\nstart: a\n"
        "steps:\n"
        "  a:\n    type: menu\n    prompt: {number: 42}\n    attempts: 3\n    sensitive: true\n"
        "    options: {1: b, 0: b, '#': b}\n    too_many_attempts: b\n"
        "  b: {type: voicemail, box: 100, next: c}\n"
        "  c: {type: ask, prompt: {say: x}, digits: {min: 4, max: 8}, end_key: 0, next: d}\n"
        "  d: {type: set, vars: {count: 0, flag: false}, next: e}\n"
        "  e: {type: hangup}\n"
    )
    assert [e.message for e in validator.iter_errors(editor_view(text))] == []


def test_hooks_under_on_read_as_true_by_yaml_1_1(
    validator: jsonschema.Draft202012Validator,
) -> None:
    text = MINIMAL + "on:\n  error: a\n"
    assert list(editor_view(text)) == ["ivr", "name", "start", "steps", "true"]
    assert list(validator.iter_errors(editor_view(text))) == []
    assert list(validator.iter_errors(editor_view(MINIMAL + "on:\n  eror: a\n")))


def test_field_docstrings_become_descriptions(schema: dict[str, Any]) -> None:
    ask = schema["$defs"]["AskStep"]
    assert "ends the entry early" in ask["properties"]["end_key"]["description"].lower()
    assert schema["description"] == "One call flow: a state machine of named steps."
