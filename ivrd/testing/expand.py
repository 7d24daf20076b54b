"""Channel variables in an application's argument: switch_channel_expand_variables.

FreeSWITCH expands every application argument on the channel before the application runs
(switch_core_session_execute_application), so what an application sees, and what
CHANNEL_EXECUTE reports as `Application-Data`, is the expanded text.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Lookup", "expand_variables"]

_MAX_DEPTH = 100
Lookup = Callable[[str], str | None]


def _has_reference(text: str) -> bool:
    """switch_string_var_check_const: a `$` followed (backslashes apart) by `{`."""
    dollar = False
    for char in text:
        if char == "$":
            dollar = True
        elif dollar:
            if char == "{":
                return True
            if char != "\\":
                dollar = False
    return False


def _has_escapes(text: str) -> bool:
    """switch_string_has_escaped_data: `\\`, `\\n`, `\\s`, `\\t` or `\\'` somewhere."""
    index = text.find("\\")
    while index >= 0 and index + 1 < len(text):
        if text[index + 1] in "\\nst'":
            return True
        index = text.find("\\", index + 1)
    return False


def _reference_end(text: str, start: int) -> tuple[str, int]:
    """The inside of the `{...}` opening at `start` (nested braces kept) and where it ends."""
    depth = 1
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "}" and depth == 1:
            return text[start + 1 : index], index + 1
        if char == "{" and index != start + 1:
            depth += 1
        elif char == "}" and depth > 1:
            depth -= 1
        index += 1
    return text[start + 1 :], len(text)


def _substitute(name: str, lookup: Lookup, depth: int, keep_unknown: bool) -> str | None:
    """The value of one `${name}` / `${name:offset:length}` / `${name[index]}` reference;
    None for an unknown variable or an API call."""
    if " " in name or "(" in name:
        # `${api args}` / `${api(args)}` runs an API command: the fake runs none, as if it
        # failed (FreeSWITCH then inserts nothing).
        return None
    name = expand_variables(name, lookup, depth + 1, keep_unknown=keep_unknown)
    offset = length = 0
    if ":" in name:
        name, _, spec = name.partition(":")
        first, _, second = spec.partition(":")
        offset, length = _atoi(first), _atoi(second)
    index = -1
    if "[" in name and "]" in name.partition("[")[2]:
        name, _, rest = name.partition("[")
        index = _atoi(rest)
    value = lookup(name)
    if value is None:
        return None
    if index >= 0 and value.startswith("ARRAY::"):
        items = value[7:].split("|:")
        value = items[index] if index < len(items) else ""
    value = expand_variables(value, lookup, depth + 1, keep_unknown=keep_unknown)
    if offset >= 0:
        value = "" if offset > len(value) else value[offset:]
    elif -offset <= len(value):
        value = value[len(value) + offset :]
    if 0 < length < len(value):
        value = value[:length]
    return value


def _atoi(text: str) -> int:
    """C's atoi: the leading integer of `text`, 0 if there is none."""
    digits = ""
    for position, char in enumerate(text.lstrip()):
        if char.isdigit() or (position == 0 and char in "+-"):
            digits += char
        else:
            break
    try:
        return int(digits)
    except ValueError:
        return 0


def expand_variables(
    text: str, lookup: Lookup, depth: int = 0, *, keep_unknown: bool = False
) -> str:
    """What switch_channel_expand_variables makes of `text` (an application's argument).

    `${name}` and `$${name}` take `lookup(name)`, itself expanded, or nothing; the name may be
    built from references (`${a_${b}}`) and end in `:offset:length` or `[index]`. A backslash
    makes the next `$` literal (`\\$${x}` gives one `$` and `{x}`), `\\\\` gives one
    backslash and `\\'` disappears; any other backslash stays. A text without a reference and
    without an escape FreeSWITCH recognises comes back untouched (so a lone `\\$` stays).

    `keep_unknown`: an unknown variable or an API call stays as written instead of becoming
    nothing, for readers that know no channel (what a scenario's caller heard).
    """
    if depth > _MAX_DEPTH or not text or ("$" not in text and "\\" not in text):
        return text
    if not (_has_reference(text) or _has_escapes(text)):
        return text
    out: list[str] = []
    index, size = 0, len(text)
    while index < size:
        char = text[index]
        literal = False
        if char == "\\" and index + 1 < size:
            following = text[index + 1]
            if following == "$":
                literal = True
                index += 1
                if index + 1 < size and text[index + 1] == "$":
                    index += 1
            elif following == "'":
                index += 2
                continue
            elif following == "\\":
                out.append("\\")
                index += 2
                continue
        if text[index] == "$" and not literal:
            start = index
            if start + 1 < size and text[start + 1] == "$":
                start += 1
            if start + 1 < size and text[start + 1] == "{":
                name, end = _reference_end(text, start + 1)
                value = _substitute(name, lookup, depth, keep_unknown)
                if value is None:
                    value = text[index:end] if keep_unknown else ""
                out.append(value)
                index = end
                continue
            index = start
        out.append(text[index])
        index += 1
    return "".join(out)
