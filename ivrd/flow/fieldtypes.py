"""Field types shared by the flow models: names, keys, templates, flags, patterns, time zones.

Each type reads the strings the YAML loader produces (and the native values an editor's YAML
plugin or a Python caller would pass), raises a `PydanticCustomError` whose message is meant for
the flow's author, and declares the JSON Schema an editor should check against. Template values
accept numbers and booleans in the schema because an editor reads `box: 100` as a number while
our loader reads it as the text "100".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from ivrd.flow.calendar import parse_timezone
from ivrd.flow.templating import (
    Expression,
    Template,
    TemplateError,
    compile_expression,
    compile_template,
)

__all__ = [
    "KEY_PATTERN",
    "NAME_PATTERN",
    "VAR_PATTERN",
    "AppName",
    "ChannelVar",
    "Flag",
    "InputKey",
    "Language",
    "Name",
    "Regex",
    "TEXT_SCHEMA",
    "TemplateExpr",
    "TemplateText",
    "TimeZone",
    "VarName",
]

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
VAR_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
KEY_PATTERN = r"^[0-9*#]{1,16}$"
CHANNEL_VAR_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"
APP_PATTERN = r"^[a-z_][a-z0-9_]*$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"
TEXT_SCHEMA: dict[str, Any] = {"type": ["string", "number", "boolean"]}


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "empty"
    return f"a {type(value).__name__}"


def _as_text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise PydanticCustomError(
        "text_type", "must be {what}, not {kind}", {"what": what, "kind": _kind(value)}
    )


def _pattern_checker(pattern: str, explanation: str) -> Callable[[Any], str]:
    compiled = re.compile(pattern)

    def check(value: Any) -> str:
        text = _as_text(value, "text")
        if compiled.fullmatch(text) is None:
            raise PydanticCustomError(
                "name_pattern",
                "'{value}' {explanation}",
                {"value": text, "explanation": explanation},
            )
        return text

    return check


Name = Annotated[
    str,
    PlainValidator(
        _pattern_checker(
            NAME_PATTERN,
            "is not a valid name: use letters, digits, '_' and '-', starting with a letter",
        )
    ),
    WithJsonSchema({"type": "string", "pattern": NAME_PATTERN}),
]
"""A step, prompt, calendar, service or subflow name."""

VarName = Annotated[
    str,
    PlainValidator(
        _pattern_checker(
            VAR_PATTERN,
            "is not a valid variable name: use letters, digits and '_' (it is read as vars.NAME)",
        )
    ),
    WithJsonSchema({"type": "string", "pattern": VAR_PATTERN}),
]
"""A flow variable's name: usable as `vars.NAME` in templates."""

InputKey = Annotated[
    str,
    PlainValidator(_pattern_checker(KEY_PATTERN, "is not a key sequence: use 0-9, * and #")),
    WithJsonSchema({"type": ["string", "integer"], "pattern": KEY_PATTERN}),
]
"""A key or key sequence on the phone's keypad, e.g. `1`, `#`, `*0`."""

Language = Annotated[
    str,
    PlainValidator(
        _pattern_checker(LANGUAGE_PATTERN, "is not a language code such as 'en', 'de' or 'pt-BR'")
    ),
    WithJsonSchema({"type": "string", "pattern": LANGUAGE_PATTERN}),
]
"""A language code as FreeSWITCH's mod_say and sound paths use it."""


ChannelVar = Annotated[
    str,
    PlainValidator(
        _pattern_checker(
            CHANNEL_VAR_PATTERN,
            "is not a channel variable name: use letters, digits, '_', '-' and '.'",
        )
    ),
    WithJsonSchema({"type": "string", "pattern": CHANNEL_VAR_PATTERN}),
]
"""A FreeSWITCH channel variable's name."""

AppName = Annotated[
    str,
    PlainValidator(
        _pattern_checker(APP_PATTERN, "is not an application name: use a-z, 0-9 and '_'")
    ),
    WithJsonSchema({"type": "string", "pattern": APP_PATTERN}),
]
"""A FreeSWITCH dialplan application's name."""


def _syntax_error(exc: TemplateError, source: str) -> PydanticCustomError:
    where = f" (line {exc.line} of the text)" if "\n" in source.strip() and exc.line else ""
    return PydanticCustomError(
        "template", "template error: {error}{where}", {"error": exc.message, "where": where}
    )


def _template(value: Any) -> Template:
    if isinstance(value, Template):
        return value
    source = _as_text(value, "text")
    try:
        return compile_template(source)
    except TemplateError as exc:
        raise _syntax_error(exc, source) from None


def _expression(value: Any) -> Expression:
    if isinstance(value, Expression):
        return value
    source = _as_text(value, "an expression")
    try:
        return compile_expression(source)
    except TemplateError as exc:
        raise _syntax_error(exc, source) from None


TemplateText = Annotated[
    Template,
    PlainValidator(_template),
    PlainSerializer(lambda t: t.source, return_type=str),
    WithJsonSchema(TEXT_SCHEMA),
]
"""Text that may hold `{{ }}` templates, compiled when the flow loads."""

TemplateExpr = Annotated[
    Expression,
    PlainValidator(_expression),
    PlainSerializer(lambda e: e.source, return_type=str),
    WithJsonSchema({"type": ["string", "boolean"]}),
]
"""A bare Jinja2 expression, as written in `if:`."""


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    shown = value if isinstance(value, str) else _kind(value)
    raise PydanticCustomError("flag", "must be true or false, not '{value}'", {"value": shown})


Flag = Annotated[bool, PlainValidator(_flag), WithJsonSchema({"type": "boolean"})]
"""A boolean written `true` or `false`; `yes`, `no`, `on` and `off` are refused as ambiguous."""


def _regex(value: Any) -> re.Pattern[str]:
    if isinstance(value, re.Pattern):
        return value
    source = _as_text(value, "a regular expression")
    try:
        return re.compile(source)
    except re.error as exc:
        raise PydanticCustomError(
            "regex", "not a valid regular expression: {error}", {"error": str(exc)}
        ) from None


Regex = Annotated[
    re.Pattern[str],
    PlainValidator(_regex),
    PlainSerializer(lambda p: p.pattern, return_type=str),
    WithJsonSchema({"type": "string", "format": "regex"}),
]
"""A regular expression, compiled (and so checked) when the flow loads."""


def _timezone(value: Any) -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    name = _as_text(value, "a time zone name")
    try:
        return parse_timezone(name)
    except ValueError as exc:
        raise PydanticCustomError("timezone", "{error}", {"error": str(exc)}) from None


TimeZone = Annotated[
    ZoneInfo,
    PlainValidator(_timezone),
    PlainSerializer(lambda z: z.key, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["Europe/Berlin", "UTC"]}),
]
"""An IANA time zone such as `Europe/Berlin`."""
