"""pydantic's validation errors, rewritten for the person who wrote the flow.

pydantic locates an error by a tuple that mixes field names, dict keys, list indexes and the tags
of unions; `SourceMap.resolve` turns that into the path the author wrote, and this module turns
the error type into a sentence: "missing field 'digits'", "unknown step type 'mneu'; did you
mean 'menu'?", "must be at least 1". Errors about a missing field point at the mapping that lacks
it; errors about a key point at the key; all others at the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ivrd.flow.base import field_names
from ivrd.flow.calendar import Calendar, PublicHolidays
from ivrd.flow.errors import Diagnostic, did_you_mean
from ivrd.flow.prompts import PROMPT_KINDS
from ivrd.flow.steps import STEP_TYPES
from ivrd.flow.yamlpos import Path, Position, SourceMap, format_path

__all__ = ["diagnostics_from_validation_error"]

_QUOTED = re.compile(r"'([^']*)'")
_COMMENT_HINT = "; an unquoted # starts a YAML comment: write '#' in quotes"
_MISSING_HINTS: dict[tuple[str | int, ...], str] = {
    ("ivr",): "; a flow file starts with 'ivr: 1'",
    ("start",): "; name the first step, e.g. 'start: main_menu'",
}


def diagnostics_from_validation_error(exc: ValidationError, source: SourceMap) -> list[Diagnostic]:
    """One diagnostic per pydantic error, located in `source`."""
    found: dict[tuple[int, int, str, str], Diagnostic] = {}
    for error in exc.errors(include_url=False):
        path, position, message = _translate(error, source)
        key = (position.line, position.column, format_path(path), message)
        found.setdefault(
            key,
            Diagnostic(source.file, position.line, position.column, format_path(path), message),
        )
    return list(found.values())


def _translate(error: ErrorDetails, source: SourceMap) -> tuple[Path, Position, str]:
    loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        path, _ = source.resolve(loc[:-1])
        field = str(loc[-1])
        hint = _MISSING_HINTS.get(loc, "")
        where = source.key_position(path) if path else Position(1, 1)
        return path, where, f"missing field '{field}'{hint}"
    path, at_key = source.resolve(loc)
    if kind == "union_tag_invalid" and isinstance(value, dict):
        tag = str(value.get("type"))
        hint = did_you_mean(tag, STEP_TYPES) or f"; the types are {', '.join(STEP_TYPES)}"
        type_path = (*path, "type")
        return type_path, source.value_position(type_path), f"unknown step type '{tag}'{hint}"
    if kind == "union_tag_not_found" and isinstance(value, dict):
        message = f"missing field 'type' (one of {', '.join(STEP_TYPES)})"
        return path, source.key_position(path) if path else Position(1, 1), message
    if kind in ("extra_forbidden", "unknown_field"):
        at_key = True
    message = _MESSAGES.get(kind, _as_written)(error, path)
    if value is None and source.comment_swallowed_value(path):
        message += _COMMENT_HINT
    return path, source.position(path, at_key=at_key), message


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "empty"
    return f"'{value}'"


def _as_written(error: ErrorDetails, _path: Path) -> str:
    return error["msg"].removeprefix("Value error, ")


def _mapping(error: ErrorDetails, _path: Path) -> str:
    return f"must be a mapping, not {_kind(error.get('input'))}"


def _text(error: ErrorDetails, _path: Path) -> str:
    return f"must be text, not {_kind(error.get('input'))}"


def _whole_number(error: ErrorDetails, _path: Path) -> str:
    return f"must be a whole number, not {_kind(error.get('input'))}"


def _list(error: ErrorDetails, _path: Path) -> str:
    return f"must be a list, not {_kind(error.get('input'))}"


def _bound(word: str, key: str) -> Callable[[ErrorDetails, Path], str]:
    def message(error: ErrorDetails, _path: Path) -> str:
        return f"must be {word} {error.get('ctx', {}).get(key)}"

    return message


def _too_short(error: ErrorDetails, _path: Path) -> str:
    wanted = error.get("ctx", {}).get("min_length", 1)
    return "must not be empty" if wanted == 1 else f"needs at least {wanted} entries"


def _literal(error: ErrorDetails, _path: Path) -> str:
    expected = _QUOTED.findall(str(error.get("ctx", {}).get("expected", "")))
    value = error.get("input")
    hint = did_you_mean(str(value), expected) if isinstance(value, str) else ""
    return f"must be one of {', '.join(expected)}, not {_kind(value)}{hint}"


def _prompt_item(error: ErrorDetails, _path: Path) -> str:
    value = error.get("input")
    if isinstance(value, dict) and value:
        first = str(next(iter(value)))
        hint = did_you_mean(first, PROMPT_KINDS) or f"; not '{first}'"
        return f"a prompt item is one of {', '.join(PROMPT_KINDS)}{hint}"
    return f"must be a prompt item such as {{play: FILE}} or {{say: TEXT}}, not {_kind(value)}"


def _extra(error: ErrorDetails, path: Path) -> str:
    # Models outside this package (the calendar's) keep pydantic's wording; name their fields.
    name = str(path[-1]) if path else "?"
    model: type[BaseModel] | None = None
    if len(path) == 3 and path[0] == "calendars":
        model = Calendar
    elif len(path) == 4 and path[0] == "calendars" and path[2] == "public_holidays":
        model = PublicHolidays
    known = field_names(model) if model is not None else []
    hint = did_you_mean(name, known) or (f"; known fields: {', '.join(known)}" if known else "")
    return f"unknown field '{name}'{hint}"


_MESSAGES: dict[str, Callable[[ErrorDetails, Path], str]] = {
    "model_attributes_type": _mapping,
    "model_type": _mapping,
    "dict_type": _mapping,
    "string_type": _text,
    "int_parsing": _whole_number,
    "int_type": _whole_number,
    "int_from_float": _whole_number,
    "list_type": _list,
    "tuple_type": _list,
    "greater_than_equal": _bound("at least", "ge"),
    "greater_than": _bound("more than", "gt"),
    "less_than_equal": _bound("at most", "le"),
    "less_than": _bound("less than", "lt"),
    "too_short": _too_short,
    "literal_error": _literal,
    "prompt_item": _prompt_item,
    "extra_forbidden": _extra,
}
