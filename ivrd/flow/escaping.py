"""Where rendered text goes decides what a value filled into `{{ }}` may turn into there.

Most text stays in ivrd (flow variables, HTTP headers and bodies) and is used as rendered. Two
destinations read syntax in the text, and there a value (an HTTP reply, a caller ID, keys)
must stay data, while the flow author's own text keeps its meaning:

- FreeSWITCH expands `${name}`, `${api args}` and `$${global}` in every application argument,
  and some text more than once: `set` and `multiset` expand the value again before storing it,
  phrase macros expand their data, and a channel variable's value is expanded anew wherever
  `${variable}` is referenced later (the dialplan, a CDR template). An escape (`\\$`) lasts one
  pass only, so it cannot keep data inert. Instead, a `${...}` or `$${...}` that a filled-in
  value takes part in (its dollar signs, its braces or anything between them) is refused, and
  the step goes to `on.error`. FreeSWITCH's passes only ever drop backslashes and `\\'` pairs,
  so the check reads the text without backslashes and quotes: no later pass can join a `$`
  and a `{` either. Nothing is escaped, so `$5` reaches FreeSWITCH as `$5`; the author's own
  `${...}`, written outside `{{ }}`, passes as written.
- A URL path: each value becomes one percent-encoded path segment, so it cannot add segments,
  a query or a fragment (`../admin?x=1`); a value of only dots (`..`) is refused.

Jinja calls `finalize` on the result of every `{{ }}`; `rendering_for` says for which
destination. For FreeSWITCH the values are wrapped in marks (two private-use characters,
removed from the values themselves) that `unmark` reads and removes after the render.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote

from jinja2.exceptions import SecurityError

__all__ = ["Escape", "UnsafeValue", "finalize", "finalize_for", "rendering_for", "unmark"]


class Escape(enum.Enum):
    """Where rendered text goes, when that is not ivrd itself."""

    FREESWITCH = "FreeSWITCH"
    URL_PATH = "a URL path"


class UnsafeValue(SecurityError):
    """A value would change the meaning of the text around it; the message names no value."""


_MODE: ContextVar[Escape | None] = ContextVar("ivrd_template_destination", default=None)
_OPEN, _CLOSE = "\ue000", "\ue001"
_NO_MARKS = str.maketrans("", "", _OPEN + _CLOSE)
# Characters FreeSWITCH's expansion passes may remove from between a `$` and a `{`.
_DROPPED = frozenset("\\'")
_PATH_SAFE = "+@"  # a phone number or an e-mail address stays readable in the path


@contextmanager
def rendering_for(destination: Escape | None) -> Iterator[None]:
    """Render templates for `destination` (None: ivrd itself) within this block."""
    token = _MODE.set(destination)
    try:
        yield
    finally:
        _MODE.reset(token)


def finalize(value: Any) -> Any:
    """Jinja's hook for each `{{ }}` result: as it is for ivrd, marked or encoded elsewhere."""
    return finalize_for(value, _MODE.get())


def finalize_for(value: Any, destination: Escape | None) -> Any:
    """What `finalize` gives while rendering for `destination`."""
    if destination is None:
        return value
    text = str(value)
    if destination is Escape.URL_PATH:
        if text and not text.strip("."):
            raise UnsafeValue("a value of only dots would change the URL path")
        return quote(text, safe=_PATH_SAFE)
    return _OPEN + text.translate(_NO_MARKS) + _CLOSE


def unmark(text: str) -> str:
    """Text rendered for FreeSWITCH, without the marks; UnsafeValue if a value takes part in
    a FreeSWITCH expansion."""
    if _OPEN not in text:
        return text
    plain = text.translate(_NO_MARKS)
    if "$" in plain and "{" in plain and _expansion_with_a_value(text):
        raise UnsafeValue(
            "a value filled in would take part in a FreeSWITCH ${...} expansion "
            "(write FreeSWITCH variables outside {{ }})"
        )
    return plain


def _expansion_with_a_value(marked: str) -> bool:
    chars: list[str] = []
    from_value: list[bool] = []
    depth = 0
    scrambled = False
    for char in marked:
        if char == _OPEN:
            depth += 1
        elif char == _CLOSE:
            # A filter over a block (`reverse`, `truncate`) may reorder or cut the marks: then
            # nothing can be told apart, and all of the text counts as a value.
            scrambled = scrambled or depth == 0
            depth = max(depth - 1, 0)
        elif char not in _DROPPED:
            chars.append(char)
            from_value.append(depth > 0 or scrambled)
    if scrambled or depth:
        from_value = [True] * len(chars)
    text = "".join(chars)
    start = text.find("${")
    while start >= 0:
        first = start
        while first and text[first - 1] == "$":
            first -= 1
        if any(from_value[first : _closing_brace(text, start + 1) + 1]):
            return True
        start = text.find("${", start + 1)
    return False


def _closing_brace(text: str, opening: int) -> int:
    """Where FreeSWITCH ends the expression opened at `opening` (nested braces count)."""
    depth = 0
    for index in range(opening, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return len(text) - 1
