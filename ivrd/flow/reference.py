"""The flow language reference, generated from the models: what `docs/flow-reference.md` says.

Pure: Markdown text built from the pydantic models, nothing read or written. Every field of
every model a flow can contain is listed with its type, default and description; the
descriptions are the field docstrings (pydantic's `use_attribute_docstrings`), the model
docstrings introduce each part, and each step's outcomes are found by asking the step itself
(`routes()`) and the flow (`outcome_routes()`), so where an outcome is written and what it falls
back to come from the same code the checker and the engine use. A field a model leaves
undocumented takes its text from `FIELD_NOTES` (in `reference_text`, with the other words of
the reference); a test makes sure no note hides a docstring.

The same table renderer documents the daemon's settings (`settings_reference`), and
`flows_page` draws the example flows as Mermaid diagrams.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Annotated, Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo

import annotated_types as at
from pydantic import BaseModel, RootModel, SecretStr
from pydantic.fields import FieldInfo

from ivrd.flow.durations import format_duration
from ivrd.flow.graph import render_mermaid
from ivrd.flow.models import Defaults, Flow, Hooks
from ivrd.flow.reference_text import (
    FIELD_NOTES,
    INTRO,
    LOADER_DEFAULTS,
    MODEL_NOTES,
    PARTS,
    SETTING_NOTES,
    STEPS_INTRO,
    VALUE_TYPES,
)
from ivrd.flow.routes import Choice, Go
from ivrd.flow.stepbase import StepBase
from ivrd.flow.steps import STEP_TYPES, Retry, Step

__all__ = [
    "FIELD_NOTES",
    "SETTING_NOTES",
    "VALUE_TYPES",
    "MarkersMissing",
    "Outcome",
    "documented_models",
    "embed",
    "field_description",
    "field_type",
    "flow_reference",
    "flows_page",
    "settings_reference",
    "step_models",
    "step_outcomes",
]

# --- types, defaults, descriptions ---------------------------------------------------------------


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", title.lower())
    return text.replace(" ", "-")


def _known(tp: Any) -> str | None:
    for alias, name, _ in VALUE_TYPES:
        if tp == alias:
            return f"[{name}](#value-types)" if not name.startswith("`") else name
    return None


def _type_text(tp: Any) -> str:
    """A field type in words, linking to the value types and the parts of a flow."""
    known = _known(tp)
    if known is not None:
        return known
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is Annotated:
        return _type_text(args[0])
    if origin in (typing.Union, types.UnionType) and all(
        isinstance(arg, type) and issubclass(arg, StepBase) for arg in args
    ):
        return "[step](#steps)"
    if origin in (typing.Union, types.UnionType):
        parts = [_type_text(arg) for arg in args if arg is not type(None)]
        return " or ".join(dict.fromkeys(parts))
    if origin is Literal:
        return " \\| ".join(f"`{value}`" for value in args)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return f"list of {_type_text(args[0])}"
    if origin is dict:
        return f"map of {_type_text(args[0])} to {_type_text(args[1])}"
    if isinstance(tp, type) and issubclass(tp, RootModel) and tp is Choice:
        return "[conditions](#routes)"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"[{tp.__name__}](#{_anchor(tp.__name__)})"
    simple = {str: "text", int: "integer", bool: "true/false", float: "number"}
    if tp in simple:
        return simple[tp]
    if tp is SecretStr:
        return "text (secret)"
    raise TypeError(f"the reference has no words for the type {tp!r}: add it to VALUE_TYPES")


def _constraint_text(metadata: Sequence[Any]) -> str:
    def shown(value: Any) -> str:
        return format_duration(value) if isinstance(value, timedelta) else str(value)

    words: list[str] = []
    for item in metadata:
        if isinstance(item, at.Ge):
            words.append(f"at least {shown(item.ge)}")
        elif isinstance(item, at.Gt):
            words.append(f"more than {shown(item.gt)}")
        elif isinstance(item, at.Le):
            words.append(f"at most {shown(item.le)}")
        elif isinstance(item, at.Lt):
            words.append(f"less than {shown(item.lt)}")
        elif isinstance(item, at.MinLen) and item.min_length == 1:
            words.append("not empty")
        elif isinstance(item, at.MinLen):
            words.append(f"at least {item.min_length} entries")
    return ", ".join(words)


def field_type(info: FieldInfo) -> str:
    """The field's type in words, with its limits (`integer, at least 1, at most 20`)."""
    annotation: Any = info.annotation
    metadata = list(info.metadata)
    for alias, _, _ in VALUE_TYPES:
        origin: Any = get_origin(alias)
        if origin is not Annotated:
            continue
        base, *extra = get_args(alias)
        if annotation == base and all(item in metadata for item in extra):
            annotation = alias
            metadata = [item for item in metadata if item not in extra]
            break
    text = _type_text(annotation)
    limits = _constraint_text(metadata)
    return f"{text}, {limits}" if limits else text


def _default_text(model: type[BaseModel], name: str, info: FieldInfo) -> str:
    if (model, name) in LOADER_DEFAULTS:
        return LOADER_DEFAULTS[(model, name)]
    if info.is_required():
        return "**required**"
    extra = info.json_schema_extra
    if isinstance(extra, dict) and "default" in extra:
        value: Any = extra["default"]
    else:
        value = info.get_default(call_default_factory=True)
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if isinstance(value, timedelta):
        return f"`{format_duration(value)}`"
    if isinstance(value, SecretStr):
        return f"`{value.get_secret_value()}`"
    if isinstance(value, ZoneInfo):
        return f"`{value.key}`"
    if isinstance(value, BaseModel):
        return "its own defaults"
    if isinstance(value, tuple | list):
        return "`[]`" if not value else "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    return f"`{value}`"


def _note(model: type[BaseModel], name: str) -> str | None:
    note = FIELD_NOTES.get((model, name))
    if note is None and issubclass(model, StepBase):
        note = FIELD_NOTES.get((StepBase, name))
    return note


def field_description(model: type[BaseModel], name: str) -> str:
    """The field's docstring, else its note, else (for `type`) what it must say."""
    info = model.model_fields[name]
    if info.description:
        return " ".join(info.description.split())
    written = info.alias or name
    note = _note(model, written)
    if note is not None:
        return note
    if name == "type" and get_origin(info.annotation) is Literal:
        return "Says which step this is."
    raise LookupError(f"{model.__name__}.{written} has no docstring and no note in FIELD_NOTES")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fields_table(
    model: type[BaseModel],
    extra_column: Callable[[str], str] | None = None,
    describe: Callable[[type[BaseModel], str], str] = field_description,
) -> str:
    header = "| field | type | default | description |"
    rule = "|---|---|---|---|"
    if extra_column is not None:
        header = "| key | type | default | environment | description |"
        rule = "|---|---|---|---|---|"
    rows = [header, rule]
    first = ("type", "description")
    fields = sorted(model.model_fields.items(), key=lambda item: item[0] not in first)
    for name, info in fields:
        written = info.alias or name
        cells = [f"`{written}`", field_type(info), _default_text(model, name, info)]
        if extra_column is not None:
            cells.append(f"`{extra_column(written)}`")
        cells.append(_cell(describe(model, name)))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def _doc(model: type[BaseModel]) -> str:
    text = " ".join((model.__doc__ or "").split()).replace("; see the module doc.", ".")
    note = MODEL_NOTES.get(model)
    return f"{text} {note}" if note else text


# --- steps and their outcomes --------------------------------------------------------------------


def step_models() -> list[type[StepBase]]:
    """Every step type's model, in the order of `STEP_TYPES`."""
    union = get_args(Step)[0]
    by_type: dict[str, type[StepBase]] = {}
    for model in get_args(union):
        (literal,) = get_args(model.model_fields["type"].annotation)
        by_type[literal] = model
    return [by_type[name] for name in STEP_TYPES]


class Outcome(typing.NamedTuple):
    """One outcome of a step: its name, where it is written, and what happens without it."""

    name: str
    written: str
    otherwise: str


_PLACEHOLDER = "_each_"


def _route_kind(info: FieldInfo) -> str | None:
    """`route`, `routes` (a map of them), `retry` or None, for a step field."""
    text = repr(info.annotation)
    if info.annotation is Choice:
        return "route"
    if "ivrd.flow.steps.Retry" in text:
        return "retry"
    if "ivrd.flow.routes.Go" not in text:
        return None
    return "routes" if get_origin(info.annotation) is dict else "route"


def _constructed(model: type[StepBase], *, optional: bool) -> StepBase:
    """The step with every route filled in (`optional` ones too, or left out)."""
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        kind = _route_kind(info)
        if kind == "routes":
            values[name] = {_PLACEHOLDER: Go(go="x")}
        elif kind == "retry":
            values[name] = Retry(go=Go(go="x")) if optional else None
        elif kind == "route":
            values[name] = Go(go="x") if optional or info.is_required() else None
    return model.model_construct(**values)


def _fallback_flow(step: StepBase) -> Flow:
    """A flow around `step` whose flow-level fallbacks are all set."""
    defaults = Defaults.model_construct(
        no_input=Retry(go=Go(go="x")),
        invalid=Retry(go=Go(go="x")),
        too_many_attempts=Go(go="x"),
    )
    hooks = Hooks.model_construct(error=Go(go="x"))
    steps: dict[str, Any] = {"s": step}
    return Flow.model_construct(
        ivr=1, name="f", start="s", steps=steps, defaults=defaults, on=hooks
    )


def _written(path: tuple[str | int, ...]) -> str:
    return ".".join("KEY" if part == _PLACEHOLDER else str(part) for part in path)


def step_outcomes(model: type[StepBase]) -> list[Outcome]:
    """The step's outcomes, where each is written, and what happens when it is not."""
    full = _constructed(model, optional=True).routes()
    flow = _fallback_flow(_constructed(model, optional=False))
    bare = {name: path for name, path, _ in flow.outcome_routes("s")}
    outcomes: list[Outcome] = []
    for name, path, _ in full:
        shown = f"each key of `{path[0]}`" if name == _PLACEHOLDER else f"`{name}`"
        info = model.model_fields.get(str(path[0]))
        fallback = bare.get(name, ())
        retry = name in ("no_input", "invalid")
        last_resort = "another attempt" if retry else "a dead end, which `ivrd validate` reports"
        if info is not None and info.is_required():
            otherwise = "required"
        elif fallback[:2] == ("steps", "s") and fallback[2:] != path:
            otherwise = f"goes where `{_written(fallback[2:])}` goes"
        elif fallback[:1] in (("defaults",), ("on",)):
            otherwise = f"the flow's `{_written(fallback)}` if set, else {last_resort}"
        else:
            otherwise = last_resort
        outcomes.append(Outcome(shown, f"`{_written(path)}`", otherwise))
    return outcomes


def _outcomes_table(model: type[StepBase]) -> str:
    found = step_outcomes(model)
    if not found:
        return "Outcomes: none; the call ends here.\n"
    rows = ["| outcome | written at | when not written |", "|---|---|---|"]
    rows += [f"| {o.name} | {o.written} | {o.otherwise} |" for o in found]
    return "Outcomes:\n\n" + "\n".join(rows) + "\n"


# --- the documents -------------------------------------------------------------------------------


def _models_in(tp: Any) -> Iterator[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp
        return
    for arg in get_args(tp):
        yield from _models_in(arg)


def documented_models() -> list[type[BaseModel]]:
    """Every model a flow file can contain, the flow first, in the order they are reached."""
    seen: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        for info in model.model_fields.values():
            for inner in _models_in(info.annotation):
                visit(inner)

    visit(Flow)
    return seen


def flow_reference() -> str:
    """The whole reference, as Markdown (`docs/flow-reference.md`)."""
    steps = step_models()
    models = documented_models()
    grouped = {model for _, _, group in PARTS for model in group}
    others = [
        model
        for model in models
        if model not in grouped and model not in (Flow, Choice) and not issubclass(model, StepBase)
    ]
    out: list[str] = [
        "# Flow language reference\n",
        "<!-- Generated from the models in ivrd/flow by `ivrd docs build`; do not edit. -->\n",
        INTRO,
        "## Contents\n",
        "- [The flow file](#the-flow-file)",
        "- [Steps](#steps): " + ", ".join(f"[`{s}`](#{s})" for s in STEP_TYPES),
        *(f"- [{title}](#{_anchor(title)})" for title, _, _ in PARTS),
        "- [Value types](#value-types)\n",
        "## The flow file\n",
        _doc(Flow) + "\n",
        _fields_table(Flow),
        "## Steps\n",
        STEPS_INTRO,
    ]
    for name, model in zip(STEP_TYPES, steps, strict=True):
        out += [f"### `{name}`\n", _doc(model) + "\n", _fields_table(model), _outcomes_table(model)]
    for title, text, group in PARTS:
        out += [f"## {title}\n", text + "\n"]
        for part in group or others:
            out += [f"### {part.__name__}\n", _doc(part) + "\n", _fields_table(part)]
    out += ["## Value types\n", "| type | what to write |", "|---|---|"]
    out += [f"| {name} | {_cell(text)} |" for _, name, text in VALUE_TYPES]
    return "\n".join(out) + "\n"


def settings_reference(
    sections: Mapping[str, type[BaseModel]],
    env_name: Callable[[str, str], str],
) -> str:
    """A configuration reference: per section its keys, types, defaults, environment
    variables and descriptions (the field docstring, else its note in SETTING_NOTES)."""
    out: list[str] = []
    for section, model in sections.items():

        def describe(owner: type[BaseModel], name: str, section: str = section) -> str:
            info = owner.model_fields[name]
            if info.description:
                return " ".join(info.description.split())
            for key in ((section, name), (owner.__name__, name)):
                if key in SETTING_NOTES:
                    return SETTING_NOTES[key]
            raise LookupError(f"{section}.{name} has no docstring and no note in SETTING_NOTES")

        def env(key: str, section: str = section) -> str:
            return env_name(section, key)

        out += [f"### `{section}`\n", _doc(model) + "\n", _fields_table(model, env, describe)]
        for info in model.model_fields.values():
            for part in _models_in(info.annotation):
                table = _fields_table(part, describe=describe)
                out += [f"#### {part.__name__}\n", _doc(part) + "\n", table]
    # The flow reference's type links lead nowhere here; the types read well without them.
    return re.sub(r"\[([^\]]+)\]\(#[^)]*\)", r"\1", "\n".join(out))


def flows_page(flows: Sequence[tuple[str, Flow]]) -> str:
    """The example flows as Mermaid diagrams (`docs/flows.md`); `flows` is (path, flow)."""
    out = [
        "# The example flows\n",
        "<!-- Generated from flows/ by `ivrd docs build`; do not edit. -->\n",
        "Each diagram is `ivrd graph FILE`: steps are boxes, outcomes are labelled arrows, "
        "hooks are hexagons with dashed arrows. GitHub and most Markdown viewers draw them.\n",
    ]
    for path, flow in flows:
        out.append(f"## {flow.name}\n")
        kind = "A subflow" if flow.is_subflow else "A flow"
        about = f": {flow.description.rstrip('.')}" if flow.description else ""
        out.append(f"{kind}{about}. File: `{path}`.\n")
        out.append("```mermaid\n" + render_mermaid(flow) + "```\n")
    return "\n".join(out)


class MarkersMissing(ValueError):
    """A document lacks the markers around a generated part."""


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- generated: {name} -->", f"<!-- end: {name} -->"


def embed(document: str, name: str, content: str) -> str:
    """`document` with the text between `<!-- generated: NAME -->` and `<!-- end: NAME -->`
    replaced by `content`; MarkersMissing when the markers are not there, once each."""
    begin, end = _markers(name)
    if document.count(begin) != 1 or document.count(end) != 1:
        raise MarkersMissing(f"put {begin} and {end} around the generated part, once each")
    head, rest = document.split(begin)
    _, tail = rest.split(end)
    return f"{head}{begin}\n\n{content.strip()}\n\n{end}{tail}"
