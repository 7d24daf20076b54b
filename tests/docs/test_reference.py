"""`ivrd.flow.reference`: the flow reference and the settings reference, generated from models."""

from __future__ import annotations

import re
from typing import get_args

import pytest
from pydantic import BaseModel

from ivrd.daemon.config import SECTIONS, RouteRule
from ivrd.daemon.loading import env_variable
from ivrd.flow import STEP_TYPES, Flow, MenuStep, TransferStep, load_flow_text
from ivrd.flow.reference import (
    FIELD_NOTES,
    SETTING_NOTES,
    MarkersMissing,
    Outcome,
    documented_models,
    embed,
    field_description,
    field_type,
    flow_reference,
    flows_page,
    settings_reference,
    step_models,
    step_outcomes,
)
from ivrd.flow.stepbase import StepBase


def section(document: str, heading: str) -> str:
    """The text under `heading` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    text = "\n" + document
    start = text.index(f"\n{heading}\n") + 1
    following = re.compile(rf"^#{{1,{len(level)}}} ", re.MULTILINE)
    found = following.search(text, start + len(heading))
    return text[start : found.start() if found else len(text)]


def rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table body row in `text` (header and rule lines skipped)."""
    lines = text.splitlines()
    table = []
    for index, line in enumerate(lines):
        header = index + 1 < len(lines) and lines[index + 1].startswith("|---")
        if line.startswith("| ") and not header:
            table.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return table


REFERENCE = flow_reference()


def test_every_step_type_has_its_section_with_every_field() -> None:
    types = [get_args(model.model_fields["type"].annotation)[0] for model in step_models()]
    assert types == list(STEP_TYPES)
    for name, model in zip(STEP_TYPES, step_models(), strict=True):
        text = section(REFERENCE, f"### `{name}`")
        fields = [row[0] for row in rows(text) if len(row) == 4]
        written = [f"`{info.alias or field}`" for field, info in model.model_fields.items()]
        assert sorted(fields) == sorted(written), name
        assert fields[:2] == ["`type`", "`description`"], name


def test_every_part_of_a_flow_has_a_table_with_every_field() -> None:
    for model in documented_models():
        if issubclass(model, StepBase) or model.__name__ == "Choice":
            continue
        heading = "## The flow file" if model is Flow else f"### {model.__name__}"
        fields = [row[0] for row in rows(section(REFERENCE, heading)) if len(row) == 4]
        written = [f"`{info.alias or name}`" for name, info in model.model_fields.items()]
        assert sorted(fields) == sorted(written), model.__name__


def test_a_field_row_has_type_default_and_the_docstring() -> None:
    menu = {row[0]: row for row in rows(section(REFERENCE, "### `menu`")) if len(row) == 4}
    assert menu["`attempts`"] == [
        "`attempts`",
        "integer, at least 1, at most 20",
        "not set",
        "Failures (silence or wrong entries) allowed before `too_many_attempts`; defaults to "
        "`defaults.attempts`.",
    ]
    assert menu["`first_digit_timeout`"][1:3] == ["[duration](#value-types)", "not set"]
    assert menu["`first_digit_timeout`"][3] == (
        "Waiting for the first key, counted from the end of the prompt."
    )
    assert menu["`options`"][1:3] == [
        "map of [key](#value-types) to [route](#value-types), not empty",
        "**required**",
    ]
    flow = {row[0]: row for row in rows(section(REFERENCE, "## The flow file")) if len(row) == 4}
    assert flow["`name`"][2] == "the file's name"
    assert flow["`timezone`"][2] == "`UTC`"
    assert flow["`steps`"][1] == "map of [name](#value-types) to [step](#steps), not empty"


def test_outcomes_come_from_the_steps_and_the_flows_fallbacks() -> None:
    assert step_outcomes(TransferStep) == [
        Outcome("`answered`", "`answered`", "required"),
        Outcome("`busy`", "`busy`", "goes where `unavailable` goes"),
        Outcome("`no_answer`", "`no_answer`", "goes where `unavailable` goes"),
        Outcome("`unavailable`", "`unavailable`", "a dead end, which `ivrd validate` reports"),
    ]
    assert step_outcomes(MenuStep) == [
        Outcome("each key of `options`", "`options.KEY`", "required"),
        Outcome(
            "`no_input`",
            "`no_input.go`",
            "the flow's `defaults.no_input.go` if set, else another attempt",
        ),
        Outcome(
            "`invalid`",
            "`invalid.go`",
            "the flow's `defaults.invalid.go` if set, else another attempt",
        ),
        Outcome(
            "`too_many_attempts`",
            "`too_many_attempts`",
            "the flow's `defaults.too_many_attempts` if set, else a dead end, which "
            "`ivrd validate` reports",
        ),
    ]
    by_type = dict(zip(STEP_TYPES, step_models(), strict=True))
    assert step_outcomes(by_type["check_hours"])[2] == Outcome(
        "`holiday`", "`holiday`", "goes where `closed` goes"
    )
    assert step_outcomes(by_type["http"])[1].otherwise == (
        "the flow's `on.error` if set, else a dead end, which `ivrd validate` reports"
    )
    assert step_outcomes(by_type["run"]) == [
        Outcome("each key of `returns`", "`returns.KEY`", "required")
    ]
    assert step_outcomes(by_type["hangup"]) == []
    assert "Outcomes: none; the call ends here." in section(REFERENCE, "### `hangup`")


def test_every_value_type_used_is_explained() -> None:
    linked = set(re.findall(r"\[([^\]]+)\]\(#value-types\)", REFERENCE)) - {"Value types"}
    explained = {row[0] for row in rows(section(REFERENCE, "## Value types"))}
    assert linked <= explained
    anchors = set(re.findall(r"\]\(#([a-z0-9_-]+)\)", REFERENCE))
    headings = {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in REFERENCE.splitlines()
        if line.startswith("#")
    }
    assert anchors <= headings, anchors - headings


def test_notes_only_fill_in_for_missing_docstrings() -> None:
    """A note for a documented field would hide its docstring; a note for no field is stale.
    When a model gains a docstring, delete its note here."""
    steps = step_models()
    for (model, name), _ in FIELD_NOTES.items():
        owners: list[type[BaseModel]] = list(steps) if model is StepBase else [model]
        fields = [
            info for m in owners for f, info in m.model_fields.items() if (info.alias or f) == name
        ]
        assert fields, f"FIELD_NOTES has a note for {model.__name__}.{name}, no such field"
        assert any(not info.description for info in fields), (
            f"{model.__name__}.{name} has a docstring now: delete its note in FIELD_NOTES"
        )
    settings: dict[str, type[BaseModel]] = {**SECTIONS, "RouteRule": RouteRule}
    for owner, name in SETTING_NOTES:
        info = settings[owner].model_fields[name]
        assert not info.description, f"{owner}.{name} has a docstring now: delete its note"


def test_a_field_without_docstring_or_note_is_an_error() -> None:
    class Bare(BaseModel):
        mystery: int = 1

    with pytest.raises(LookupError, match=r"Bare\.mystery has no docstring and no note"):
        field_description(Bare, "mystery")


def test_a_type_without_words_is_an_error() -> None:
    class Odd(BaseModel):
        when: complex = 1j

    with pytest.raises(TypeError, match="the reference has no words for the type"):
        field_type(Odd.model_fields["when"])


def test_the_settings_reference_lists_every_key_with_its_variable_and_default() -> None:
    text = settings_reference(SECTIONS, env_variable)
    for name, model in SECTIONS.items():
        part = section(text, f"### `{name}`")
        keys = {row[0]: row for row in rows(part) if len(row) == 5}
        assert sorted(keys) == sorted(f"`{key}`" for key in model.model_fields), name
        for key in model.model_fields:
            assert keys[f"`{key}`"][3] == f"`{env_variable(name, key)}`"
    limits = {row[0]: row for row in rows(section(text, "### `limits`"))}
    assert limits["`drain_timeout`"][1:4] == ["duration", "`30s`", "`IVRD_LIMITS_DRAIN_TIMEOUT`"]
    routing = section(text, "### `routing`")
    assert "#### RouteRule" in routing
    assert "](#" not in text


def test_embed_replaces_the_generated_part_only() -> None:
    document = "# Ops\n\nbefore\n<!-- generated: x -->\nold\n<!-- end: x -->\nafter\n"
    assert embed(document, "x", "new\n") == (
        "# Ops\n\nbefore\n<!-- generated: x -->\n\nnew\n\n<!-- end: x -->\nafter\n"
    )
    with pytest.raises(MarkersMissing, match="put <!-- generated: y --> and <!-- end: y -->"):
        embed(document, "y", "new")


def test_the_flows_page_draws_each_flow() -> None:
    flow = load_flow_text(
        "ivr: 1\nname: tiny\ndescription: Says hi.\nstart: bye\nsteps:\n  bye: {type: hangup}\n",
        "tiny.yaml",
    ).flow
    assert flow is not None
    page = flows_page([("flows/tiny.yaml", flow)])
    assert "## tiny\n\nA flow: Says hi. File: `flows/tiny.yaml`.\n" in page
    assert '```mermaid\nflowchart TD\n    start(("start"))\n' in page
