"""FreeSWITCH events: a name, headers and an optional body, decoded from any of the three formats.

An `Event` holds the bytes it came in and decodes them the first time it is read, so a frame
that nobody looks at costs only its framing.

- plain: `Name: value` lines, values percent-encoded; a body, if any, follows a blank line and is
  announced by a `Content-Length` header inside the event (as in BACKGROUND_JOB).
- json: one object; values are already decoded strings (a repeated key for a repeated header, a
  list for an array header, read as its plain form `ARRAY::a|:b`); the body is under `_body`.
- xml: `<event><headers><Name>value</Name>...</headers><body>...</body></event>`; header values
  are percent-encoded inside the XML, the body is not (as `switch_event_xmlize` writes them).
"""

from __future__ import annotations

import json
import re
from operator import itemgetter
from typing import Literal, cast
from xml.etree import ElementTree

from ivrd.esl.protocol._errors import RemoteProtocolError
from ivrd.esl.protocol._headers import Headers

EventFormat = Literal["plain", "json", "xml"]

_NAME = itemgetter(0)
_BLANK_LINE = re.compile(b"\n\n")
_VALUE = itemgetter(1)

CONTENT_TYPES: dict[str, EventFormat] = {
    "text/event-plain": "plain",
    "text/event-json": "json",
    "text/event-xml": "xml",
}


class Event:
    """One event. `name` is `Event-Name`; `subclass` is `Event-Subclass` (for CUSTOM)."""

    __slots__ = ("_body", "_headers", "_name", "_source", "format")

    _body: str | _NotChecked | None

    def __init__(
        self,
        headers: Headers,
        body: str | None = None,
        *,
        format: EventFormat = "plain",
    ) -> None:
        self._headers: Headers | None = headers
        self._body = body
        self._name: str | None = None
        self._source: bytes | None = None
        self.format: EventFormat = format

    @classmethod
    def from_bytes(cls, source: bytes, format: EventFormat) -> Event:
        """An event decoded lazily from the body of a `text/event-*` frame."""
        event = cls.__new__(cls)
        event._headers = None
        event._body = None
        event._name = None
        event._source = source
        event.format = format
        return event

    def _decode(self) -> Headers:
        source = self._source
        assert source is not None
        if self.format == "plain":
            headers, body = _decode_plain(source)
        elif self.format == "json":
            headers, body = _decode_json(source)
        else:
            headers, body = _decode_xml(source)
        self._headers, self._body, self._source = headers, body, None
        return headers

    @property
    def headers(self) -> Headers:
        headers = self._headers
        return headers if headers is not None else self._decode()

    @property
    def body(self) -> str | None:
        if self._headers is None:
            self._decode()
        body = self._body
        if body is _NOT_CHECKED:
            assert self._headers is not None
            body = self._body = _empty_body(self._headers)
        return body  # type: ignore[return-value]

    @property
    def name(self) -> str:
        # Every consumer of an event asks for it first (the session, listeners, hooks): found
        # once. An event never changes.
        name = self._name
        if name is None:
            name = self._name = self.headers.get("Event-Name") or ""
        return name

    @property
    def subclass(self) -> str | None:
        return self.headers.get("Event-Subclass")

    @property
    def uuid(self) -> str | None:
        """The channel the event is about (`Unique-ID`), if any."""
        return self.headers.get("Unique-ID")

    def get(self, name: str, default: str | None = None) -> str | None:
        headers = self._headers
        return (headers if headers is not None else self._decode()).get(name, default)

    def last(self, name: str, default: str | None = None) -> str | None:
        """A header FreeSWITCH adds after the channel data, found from the end (`Headers.last`)."""
        headers = self._headers
        return (headers if headers is not None else self._decode()).last(name, default)

    def __getitem__(self, name: str) -> str:
        return self.headers[name]

    def __repr__(self) -> str:
        return f"<Event {self.name}{' ' + self.subclass if self.subclass else ''} ({self.format})>"


def _body_text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class _NotChecked:
    """The body of an event whose text ends at its headers: known once its Content-Length is."""


_NOT_CHECKED = _NotChecked()


def _decode_plain(source: bytes) -> tuple[Headers, str | _NotChecked | None]:
    # A regular expression finds the blank line several times faster than bytes.find does in
    # text with a newline every few dozen bytes (a SIP call's event: 4 us against 1.5).
    blank = _BLANK_LINE.search(source)
    if blank is None:
        head, rest = source, b""
    else:
        head, rest = source[: blank.start()], source[blank.end() :]
    headers = Headers.from_text(_body_text(head), "text/event-plain", encoded=True)
    if not rest:
        # Most events: no body. Whether the headers say so (no Content-Length, or 0) is only
        # looked up when the body is read: in a SIP call's event that lookup is a search of
        # 6 KB for a header that is not there.
        return headers, _NOT_CHECKED
    size = _content_length(headers)
    if size is None:
        if rest.strip(b"\n"):
            raise RemoteProtocolError("text/event-plain: data after the headers, no Content-Length")
        return headers, None
    if len(rest) < size:
        raise RemoteProtocolError(
            f"text/event-plain: event body is {len(rest)} bytes, Content-Length says {size}"
        )
    return headers, _body_text(rest[:size])


def _empty_body(headers: Headers) -> str | None:
    """The body of an event with nothing after its headers: none, or empty, or a short one."""
    size = _content_length(headers)
    if size:
        raise RemoteProtocolError(
            f"text/event-plain: event body is 0 bytes, Content-Length says {size}"
        )
    return None if size is None else ""


def _content_length(headers: Headers) -> int | None:
    length = headers.raw("Content-Length")
    if length is None:
        return None
    if not (length.isascii() and length.isdigit()) or len(length) > 10:
        raise RemoteProtocolError(f"text/event-plain: bad Content-Length {length!r} in event")
    return int(length)


def _decode_json(source: bytes) -> tuple[Headers, str | None]:
    # FreeSWITCH writes a repeated header as a repeated key (cJSON allows them): keep every
    # one, in order, so that the first wins here as it does in plain events. The hook sees the
    # innermost objects first, so the last object it is given is the outermost.
    objects: list[list[tuple[str, object]]] = []

    def keep_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
        objects.append(pairs)
        return dict(pairs)

    try:
        data = json.loads(source, object_pairs_hook=keep_pairs)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise RemoteProtocolError(f"text/event-json: invalid JSON: {exc}") from None
    except RecursionError:
        raise RemoteProtocolError("text/event-json: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise RemoteProtocolError(f"text/event-json: expected an object, got {type(data).__name__}")
    items = objects[-1]
    body = None
    if "_body" in map(_NAME, items):
        body = next(value for name, value in items if name == "_body")
        items = [item for item in items if item[0] != "_body"]
    if set(map(type, map(_VALUE, items))) <= {str}:
        # What FreeSWITCH sends: every value a string, the pairs as they are (checked in C).
        pairs = cast("list[tuple[str, str]]", items)
    else:
        pairs = [(name, _json_value(value)) for name, value in items]
    return Headers(pairs), None if body is None else _json_scalar(body)


def _json_value(value: object) -> str:
    if isinstance(value, list):
        # An array header: the value it has in a plain event (`ARRAY::a|:b`), so that both
        # formats read the same.
        return "ARRAY::" + "|:".join(_json_scalar(item) for item in value)
    return _json_scalar(value)


def _json_scalar(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value)


def _decode_xml(source: bytes) -> tuple[Headers, str | None]:
    # Entity declarations are how XML bombs work; FreeSWITCH never sends a DOCTYPE. Parsed as
    # text, so that the text searched is the text parsed: given a str, expat ignores the
    # encoding declaration, and a DOCTYPE cannot hide in UTF-16.
    text = _body_text(source)
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise RemoteProtocolError("text/event-xml: DOCTYPE/ENTITY declarations are not allowed")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise RemoteProtocolError(f"text/event-xml: invalid XML: {exc}") from None
    headers_node = root.find("headers")
    if root.tag != "event" or headers_node is None:
        raise RemoteProtocolError("text/event-xml: expected <event><headers>...</headers></event>")
    pairs = [(child.tag, child.text or "") for child in headers_node]
    body_node = root.find("body")
    # The body is XML text, not percent-encoded (its Content-Length sits beside <headers>).
    body = None if body_node is None else (body_node.text or "")
    return Headers(pairs, encoded=True), body
