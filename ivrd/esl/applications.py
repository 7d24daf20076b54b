"""Application arguments, exactly as librevox writes them, and what applications return.

Pure functions, no I/O: each builds the `execute-app-arg` of one application. The strings match
librevox's wrappers byte for byte where librevox has one (see LIBREVOX.md); where librevox
breaks the dial string (a `,`, `|` or space in a value), these quote or refuse instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ivrd.esl.errors import ArgumentError
from ivrd.esl.protocol import Event
from ivrd.esl.verbatim import file_word, spoken_whole, surviving_expansion

VariableValue = str | int | float | bool


def normalise_variable(name: str) -> str:
    """`foo` and `variable_foo` both name the channel variable `foo`."""
    if name[:9].lower() == "variable_":
        name = name[9:]
    # One word (`split` cuts at exactly what `str.isspace` calls whitespace) without = or ,.
    if name.split() != [name] or "=" in name or "," in name:
        raise ArgumentError(f"not a channel variable name: {name!r}")
    return name


def _value(value: VariableValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _field(what: str, value: object) -> str:
    """One word of a space-separated argument list: a space would shift every later field."""
    text = _value(value) if isinstance(value, VariableValue) else str(value)
    if not text or any(ch.isspace() for ch in text):
        raise ArgumentError(f"{what} must be one word without spaces, got {text!r}")
    return text


def _file_field(what: str, value: str) -> str:
    """A file argument of play_and_get_digits/read, which may hold spaces (`say:Hello there`)."""
    if not value or "\r" in value or "\n" in value:
        raise ArgumentError(f"{what} must be one line and not empty, got {value!r}")
    return file_word(value)


# ---------------------------------------------------------------------------- dial strings

# Separators (`,` `|`), variable blocks (`{}` `[]` `<>`), quotes and escapes (a backslash), and
# `:_:` anywhere in the argument, which makes FreeSWITCH split it into enterprise originate
# threads (switch_ivr_originate): another target that rings too.
_TARGET_FORBIDDEN = frozenset(",|{}[]<>'\"\\")
_VALUE_FORBIDDEN = frozenset("|{}[]'\\\r\n")
_ENTERPRISE_SEPARATOR = ":_:"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One bridge target with its own channel variables: `[leg_timeout=20]user/1000`."""

    target: str
    variables: Mapping[str, VariableValue] = field(default_factory=dict)


def _dial_variables(variables: Mapping[str, VariableValue], what: str) -> str:
    parts = []
    for name, raw in variables.items():
        if not name or not set(name) <= _NAME_CHARS:
            raise ArgumentError(f"{what}: {name!r} is not a channel variable name")
        value = _value(raw)
        bad = _breakers(value, _VALUE_FORBIDDEN)
        if bad:
            raise ArgumentError(
                f"{what}: the value of {name} contains {bad}, which would break the dial string"
            )
        if "," in value or " " in value or "\t" in value:
            # FreeSWITCH splits `{a=1,b=2}` with switch_separate_string, which honours and
            # strips single quotes: `{caller_name='Doe, John'}` keeps the comma in the value.
            value = f"'{value}'"
        parts.append(f"{name}={value}")
    return ",".join(parts)


def _dial_target(endpoint: str | Endpoint) -> str:
    if isinstance(endpoint, Endpoint):
        target = endpoint.target
        prefix = f"[{_dial_variables(endpoint.variables, 'bridge')}]" if endpoint.variables else ""
    else:
        target, prefix = endpoint, ""
    if not isinstance(target, str) or not target:
        raise ArgumentError(f"bridge: a target must be a non-empty string, got {target!r}")
    bad = _breakers(target, _TARGET_FORBIDDEN, spaces=True)
    if bad:
        raise ArgumentError(
            f"bridge: target {target!r} contains {bad}, which would break the dial string"
        )
    return prefix + target


def _breakers(text: str, forbidden: frozenset[str], *, spaces: bool = False) -> str | None:
    """What in `text` would change how FreeSWITCH splits a dial string, as shown in errors."""
    bad = {ch for ch in text if ch in forbidden or (spaces and ch.isspace())}
    if bad:
        return repr("".join(sorted(bad)))
    if _ENTERPRISE_SEPARATOR in text:
        return repr(_ENTERPRISE_SEPARATOR)
    return None


BridgeTarget = str | Endpoint | Sequence[str | Endpoint]


def bridge_arg(endpoints: Sequence[BridgeTarget], variables: Mapping[str, VariableValue]) -> str:
    """`a,b` rings together; groups `[a, b], [c]` fail over as `a,b|c`; `{k=v}` in front."""
    if not endpoints:
        raise ArgumentError("bridge needs at least one target")
    grouped = not isinstance(endpoints[0], str | Endpoint)
    if grouped:
        groups = []
        for group in endpoints:
            if isinstance(group, str | Endpoint):
                raise ArgumentError(
                    "bridge: when the first target is a list (a failover group), "
                    f"every target must be a list; got {group!r}"
                )
            if not group:
                raise ArgumentError("bridge: a failover group must not be empty")
            groups.append(",".join(_dial_target(item) for item in group))
        dial = "|".join(groups)
    else:
        items = []
        for item in endpoints:
            if not isinstance(item, str | Endpoint):
                raise ArgumentError(
                    "bridge: when the first target is a string, no target may be a list; "
                    f"got {item!r}"
                )
            items.append(_dial_target(item))
        dial = ",".join(items)
    return f"{{{_dial_variables(variables, 'bridge')}}}{dial}" if variables else dial


# ---------------------------------------------------------------------------- librevox's wrappers


def play_and_get_digits_arg(
    file: str,
    invalid_file: str,
    *,
    min: int,
    max: int,
    tries: int,
    timeout: int,
    terminators: str,
    variable: str,
    regexp: str,
    digit_timeout: int | None,
) -> str:
    words = [
        _field("min", min),
        _field("max", max),
        _field("tries", tries),
        _field("timeout", timeout),
        _field("terminators", terminators),
        _file_field("file", file),
        _file_field("invalid_file", invalid_file),
        _field("variable", normalise_variable(variable)),
        _field("regexp", regexp),
    ]
    if digit_timeout is not None:
        words.append(_field("digit_timeout", digit_timeout))
    return " ".join(words)


def read_arg(
    file: str, *, min: int, max: int, terminators: str, timeout: int, variable: str
) -> str:
    return " ".join(
        [
            _field("min", min),
            _field("max", max),
            _file_field("file", file),
            _field("variable", normalise_variable(variable)),
            _field("timeout", timeout),
            _field("terminators", terminators),
        ]
    )


def bind_meta_app_arg(
    key: str | int, listen_to: str, respond_on: str, application: str, parameters: str | None
) -> str:
    arg = " ".join(
        [
            _field("key", key),
            _field("listen_to", listen_to),
            _field("respond_on", respond_on),
            _field("application", application),
        ]
    )
    return f"{arg}::{parameters}" if parameters else arg


def set_arg(variable: str, value: VariableValue) -> str:
    return f"{normalise_variable(variable)}={_value(value)}"


def multiset_arg(variables: Mapping[str, VariableValue]) -> str:
    if not variables:
        raise ArgumentError("multiset needs at least one variable")
    pairs = []
    for name, raw in variables.items():
        value = _value(raw)
        if "|" in value:
            raise ArgumentError(f"multiset: the value of {name} contains '|', its separator")
        pairs.append(f"{normalise_variable(name)}={value}")
    return "^^|" + "|".join(pairs)


def export_arg(variable: str, local: bool | None) -> str:
    return f"nolocal:{variable}" if local is False else variable


def record_arg(path: str, limit: int | None) -> str:
    return path if limit is None else f"{path} {_field('limit', limit)}"


# ---------------------------------------------------------------------------- IVR applications


def say_arg(text: str, *, language: str, say_type: str, method: str, gender: str | None) -> str:
    words = [_field("language", language), _field("say_type", say_type), _field("method", method)]
    if gender is not None:
        words.append(_field("gender", gender))
    return " ".join([*words, text])


def speak_arg(text: str, engine: str | None, voice: str | None) -> str:
    """`engine|voice|text`, or the text alone (the channel's tts_engine/tts_voice speak it),
    such that the engine is handed `text` exactly.

    mod_dptools' speak splits the expanded argument at `|` (switch_separate_string, at most
    three words) but takes the text from the argument as it is, from where its word begins
    (past leading spaces): only the expansion touches it, and doubled backslashes survive
    that (`surviving_expansion`). The engine and the voice are cleaned-up words: a `|`, a
    quote or a backslash in them would move where the text begins. Alone, the text itself is
    split: a `|` in it would make what comes before it the voice, a leading `^^X` another
    separator, and a backslash at its very end sends the split past the end of the text.
    A leading `{...}` is text too, not the engine's parameters (`spoken_whole`).
    """
    if not text.strip(" "):
        # With nothing after the last `|`, speak_function would read the voice as the text.
        raise ArgumentError(f"speak: the text must not be empty, got {text!r}")
    if (engine is None) != (voice is None) or set("|'\\") & set((engine or "") + (voice or "")):
        raise ArgumentError(
            "speak: give both engine and voice, or neither; neither may contain '|', a quote "
            "or a backslash"
        )
    if engine is not None:
        return f"{engine}|{voice}|{surviving_expansion(spoken_whole(text))}"
    lone_backslash = (len(text) - len(text.rstrip("\\"))) % 2
    if "|" in text or text.startswith("^^") or lone_backslash:
        raise ArgumentError(
            "speak: without engine and voice the text must not contain '|', start with "
            "'^^' or end in a lone backslash (FreeSWITCH splits it); give engine and voice"
        )
    return surviving_expansion(spoken_whole(text))


def displace_session_arg(path: str, flags: str, limit_ms: int | None) -> str:
    words = [path]
    if flags:
        words.append(_field("flags", flags))
    if limit_ms is not None:
        words.append(f"+{_field('limit_ms', limit_ms)}")
    return " ".join(words)


def voicemail_arg(profile: str, domain: str, box: str | None, *, check: bool, auth: bool) -> str:
    words = ["check"] if check else []
    if auth:
        words.append("auth")
    words += [_field("profile", profile), _field("domain", domain)]
    if box is not None:
        words.append(_field("box", box))
    return " ".join(words)


def sched_hangup_arg(seconds: int, cause: str) -> str:
    arg = f"+{_field('seconds', seconds)}"
    return f"{arg} {_field('cause', cause)}" if cause else arg


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class ExecuteResult:
    """An application that ran to its end: its completion event and what it said.

    `interrupted` is True when this session asked FreeSWITCH to stop the application
    (`uuid_break`): the application itself still reports success (`FILE PLAYED`).
    """

    application: str
    event: Event
    interrupted: bool = False

    @property
    def response(self) -> str | None:
        """`Application-Response`, or None for FreeSWITCH's `_none_`."""
        value = self.event.get("Application-Response")
        return None if value in (None, "_none_") else value

    def variable(self, name: str) -> str | None:
        """A channel variable as the completion event reported it."""
        return self.event.get(f"variable_{normalise_variable(name)}")


DigitsStatus = Literal["ok", "silence", "invalid"]


@dataclass(frozen=True, slots=True)
class DigitsResult:
    """What an input application collected.

    `status`: `ok` (digits in `digits`), `silence` (no key at all), `invalid` (a wrong entry:
    too short, or not matching the regexp; what was typed is in `invalid_digits`).
    """

    digits: str
    status: DigitsStatus
    invalid_digits: str
    terminator: str | None
    execution: ExecuteResult

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def digits_result(execution: ExecuteResult, variable: str) -> DigitsResult:
    """Classify a `read`/`play_and_get_digits` completion (see switch_ivr_read).

    `read_result` is `success`, `timeout` (keys then the digit timeout: still a good entry when
    long enough) or `failure` (too short; FreeSWITCH leaves the short digits in the variable).
    play_and_get_digits moves an entry that fails its regexp to `<var>_invalid`.
    """
    var = normalise_variable(variable)
    digits = execution.variable(var) or ""
    result = execution.variable("read_result")
    terminator = execution.variable("read_terminator_used") or None
    if digits and result in ("success", "timeout"):
        return DigitsResult(digits, "ok", "", terminator, execution)
    if digits:
        return DigitsResult("", "invalid", digits, terminator, execution)
    # Only now: a variable that is not there costs a search of the whole channel data.
    invalid = execution.variable(f"{var}_invalid") or ""
    if invalid and result in ("success", "timeout"):
        return DigitsResult("", "invalid", invalid, terminator, execution)
    return DigitsResult("", "silence", "", terminator, execution)
