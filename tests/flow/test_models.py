"""The models as the engine sees them: routes, outcomes with fallbacks, input settings, prompts."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import get_args

import pytest
from pydantic import ValidationError

from ivrd.flow import (
    STEP_TYPES,
    AskStep,
    Choice,
    Digits,
    DigitsItem,
    Flow,
    Go,
    HangupAction,
    HttpStep,
    IfBranch,
    MenuStep,
    PlayItem,
    Retry,
    SayItem,
    Step,
    SubflowInput,
    VoicemailStep,
    load_flow_text,
)
from ivrd.flow.routes import route_edges


def flow_from(text: str) -> Flow:
    return load_flow_text(text, "t.yaml").require()


FLOW = """\
ivr: 1
name: models
languages: {default: en, available: [en, de]}
defaults:
  attempts: 4
  first_digit_timeout: 6s
  no_input: {prompt: again}
  invalid: {prompt: again, go: goodbye}
  too_many_attempts: operator
prompts:
  again:
    en: {say: "Once more."}
    de: {say: "Noch einmal."}
  menu:
    en: [{play: en/menu.wav}, {digits: "{{ vars.code }}"}]
    de: {play: de/menu.wav}
  beep: {play: "tone_stream://%(200,0,800)"}
calendars:
  office: {hours: {mon-fri: "08:00-18:00"}}
services:
  crm: {base_url: "https://crm.example"}
variables: {code: "42"}
start: hours
steps:
  hours: {type: check_hours, calendar: office, open: main, closed: operator}
  main:
    type: menu
    prompt: [menu, beep, {say: "or wait"}]
    first_digit_timeout: 2s
    no_input: {prompt: beep}
    options:
      "1": {go: lookup, set: {queue: sales}}
      "2": [{if: "vars.code == '42'", go: lookup}, {else: operator}]
  lookup:
    type: http
    service: crm
    next: operator
  operator:
    type: transfer
    to: user/1000
    answered: goodbye
    unavailable: goodbye
  goodbye: {type: hangup}
on:
  error: goodbye
"""


def test_go_shorthand_and_full_form() -> None:
    assert Go.model_validate("lookup") == Go(go="lookup")
    full = Go.model_validate({"go": "lookup", "set": {"queue": "sales"}})
    assert full.go == "lookup"
    assert full.set_vars["queue"].source == "sales"


def test_choice_resolves_in_order_with_else_last() -> None:
    choice = Choice.model_validate(
        [{"if": "vars.a", "go": "one"}, {"if": "vars.b", "go": "two"}, {"else": "three"}]
    )
    assert [b.go for b in choice.conditions] == ["one", "two"]
    assert choice.otherwise == Go(go="three")

    def holds(values: dict[str, bool]) -> object:
        return lambda branch: branch.condition.evaluate({"vars": values})

    assert choice.resolve(holds({"a": False, "b": True})).go == "two"  # type: ignore[arg-type]
    assert choice.resolve(holds({"a": False, "b": False})).go == "three"  # type: ignore[arg-type]
    assert isinstance(choice.root[0], IfBranch)
    edges = route_edges("next", choice, ("steps", "x", "next"))
    assert [(e.target, e.path, e.condition) for e in edges] == [
        ("one", ("steps", "x", "next", 0, "go"), "vars.a"),
        ("two", ("steps", "x", "next", 1, "go"), "vars.b"),
        ("three", ("steps", "x", "next", 2, "else", "go"), "else"),
    ]


def test_outcome_routes_apply_fallbacks() -> None:
    flow = flow_from(FLOW)
    hours = {o: (p, r) for o, p, r in flow.outcome_routes("hours")}
    assert hours["holiday"] == (("steps", "hours", "closed"), Go(go="operator"))

    main = {o: (p, r) for o, p, r in flow.outcome_routes("main")}
    assert main["too_many_attempts"] == (("defaults", "too_many_attempts"), Go(go="operator"))
    assert main["invalid"] == (("defaults", "invalid", "go"), Go(go="goodbye"))
    assert "no_input" not in main  # silence retries: the step's retry has no route
    assert isinstance(main["2"][1], Choice)

    lookup = {o: (p, r) for o, p, r in flow.outcome_routes("lookup")}
    assert lookup["on_error"] == (("on", "error"), Go(go="goodbye"))

    operator = {o: r for o, _, r in flow.outcome_routes("operator")}
    assert operator["busy"] == operator["no_answer"] == operator["unavailable"] == Go(go="goodbye")
    assert flow.route("operator", "answered") == Go(go="goodbye")
    assert flow.route("main", "no_input") is None
    assert flow.outcome_routes("goodbye") == []


def test_input_settings_merge_defaults() -> None:
    flow = flow_from(FLOW)
    main = flow.steps["main"]
    assert isinstance(main, MenuStep)
    settings = flow.input_settings(main)
    assert settings.attempts == 4
    assert settings.first_digit_timeout == timedelta(seconds=2)
    assert settings.between_digits_timeout == timedelta(seconds=3)
    assert settings.no_input == Retry(prompt="beep")
    assert settings.invalid.prompt == "again"
    assert settings.invalid.go == Go(go="goodbye")
    assert settings.too_many_attempts == Go(go="operator")


def test_prompt_items_per_language_with_default_fallback() -> None:
    flow = flow_from(FLOW)
    main = flow.steps["main"]
    assert isinstance(main, MenuStep)
    english = flow.prompt_items(main.prompt, "en")
    assert [type(i) for i in english] == [PlayItem, DigitsItem, PlayItem, SayItem]
    assert isinstance(english[1], DigitsItem)
    assert english[1].digits.render({"vars": {"code": "42"}}) == "42"
    german = flow.prompt_items(main.prompt, "de")
    assert [type(i) for i in german] == [PlayItem, PlayItem, SayItem]
    # A language the prompt lacks falls back to the flow's default language.
    assert flow.prompt_items("again", "fr") == flow.prompt_items("again", "en")


def test_steps_say_whether_they_need_media() -> None:
    flow = flow_from(FLOW)
    assert [name for name, s in flow.steps.items() if s.needs_media] == ["main"]
    assert {s.type for s in flow.steps.values() if s.waits_for_input} == {"menu"}


def test_step_types_are_the_union_members() -> None:
    union = get_args(get_args(Step)[0])
    literals = {get_args(model.model_fields["type"].annotation)[0] for model in union}
    assert literals == set(STEP_TYPES)
    assert len(STEP_TYPES) == 14


def test_models_are_frozen() -> None:
    flow = flow_from(FLOW)
    with pytest.raises(ValidationError):
        flow.steps["lookup"].description = "changed"  # type: ignore[misc]


def test_a_flow_can_be_built_in_code() -> None:
    flow = Flow.model_validate(
        {
            "ivr": 1,
            "name": "coded",
            "start": "account",
            "steps": {
                "account": AskStep(
                    type="ask",
                    prompt=SayItem.model_validate({"say": "Account?"}),
                    digits=Digits(min=6, max=8),
                    must_match=re.compile(r"^\d+$"),
                    next=Go(go="bye"),
                    too_many_attempts=Go(go="bye"),
                ),
                "bye": {"type": "hangup"},
            },
        }
    )
    account = flow.steps["account"]
    assert isinstance(account, AskStep)
    assert account.end_key == "#"
    assert account.digits.max == 8
    assert flow.source is None
    assert not flow.is_subflow


def test_subflow_input_shorthand() -> None:
    assert SubflowInput.model_validate("digits") == SubflowInput(type="digits")
    assert SubflowInput.model_validate({"type": "number", "required": "false"}).required is False


def test_hangup_action_needs_exactly_one_kind() -> None:
    with pytest.raises(ValidationError) as caught:
        HangupAction.model_validate({})
    assert caught.value.errors()[0]["msg"] == "give exactly one of 'http' or 'set'"
    action = HangupAction.model_validate({"set": {"cdr": {"ivr_result": "done"}}})
    assert action.set_fields is not None


def test_http_step_defaults() -> None:
    flow = flow_from(FLOW)
    lookup = flow.steps["lookup"]
    assert isinstance(lookup, HttpStep)
    assert (lookup.method, lookup.path, lookup.query, lookup.timeout) == ("GET", None, {}, None)
    assert flow.services["crm"].timeout == timedelta(seconds=5)


def test_flow_defaults() -> None:
    flow = flow_from("ivr: 1\nname: tiny\nstart: bye\nsteps:\n  bye: {type: hangup}\n")
    assert flow.timezone.key == "UTC"
    assert flow.languages.codes == ("en",)
    assert flow.defaults.answer == "answer"
    assert flow.defaults.max_steps is None
    assert (flow.tts.engine, flow.tts.voice) == ("flite", "kal")
    assert flow.on.key == {}


def test_name_defaults_to_the_file_stem() -> None:
    result = load_flow_text(
        "ivr: 1\nstart: bye\nsteps:\n  bye: {type: hangup}\n", "lines/help-desk.yaml"
    )
    assert result.require().name == "help-desk"


def test_yaml_traps_stay_what_the_author_wrote() -> None:
    flow = flow_from(
        "ivr: 1\nname: traps\nlanguages: {default: en, available: [en, no]}\n"
        "prompts:\n  hi:\n    en: {say: hi}\n    no: {say: hei}\n"
        "start: menu\nsteps:\n"
        "  menu:\n    type: menu\n    prompt: hi\n"
        "    options: {0: box, 1: box, 01: box2}\n    too_many_attempts: box\n"
        "  box: {type: voicemail, box: 0123, next: bye}\n"
        "  box2: {type: voicemail, box: 017, domain: 10.0.0.1, next: bye}\n"
        "  bye: {type: hangup}\n"
    )
    assert flow.languages.codes == ("en", "no")
    menu = flow.steps["menu"]
    assert isinstance(menu, MenuStep)
    assert list(menu.options) == ["0", "1", "01"]
    box = flow.steps["box"]
    assert isinstance(box, VoicemailStep)
    assert box.box.source == "0123"
    box2 = flow.steps["box2"]
    assert isinstance(box2, VoicemailStep)
    assert box2.box.source == "017"
