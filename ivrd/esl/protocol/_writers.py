"""FreeSWITCH's side of the wire: the frames it sends, byte for byte as in the captures.

Used by the fake FreeSWITCH (ivrd.testing) and by round-trip tests. Header order follows the
captures: events put Content-Length before Content-Type; api/response and disconnect notices
put Content-Type first; command/reply has no Content-Length; the `connect` reply is the
channel data with Content-Type, Reply-Text, Socket-Mode and Control at the end.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from urllib.parse import quote

from ivrd.esl.protocol._commands import Pairs
from ivrd.esl.protocol._errors import LocalProtocolError

# switch_url_encode escapes SWITCH_URL_UNSAFE, control characters and non-ASCII bytes, and
# nothing else (so `,`, `/`, `(` and `)` stay as they are, as the captures show).
_UNSAFE = '\r\n #%&+:;<=>?@[\\]^`{|}"'
_SAFE = "".join(chr(code) for code in range(33, 127) if chr(code) not in _UNSAFE)

_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Characters XML 1.0 cannot carry at all, not even as character references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    # Not xml.sax.saxutils.escape: that module imports urllib.request, and with it socket.
    # A bare CR would come back as LF (XML end-of-line handling) unless written as a reference.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r", "&#13;")


def encode_value(value: str) -> str:
    """Percent-encode a header value as FreeSWITCH does (empty becomes `_undef_`)."""
    if value == "":
        return "_undef_"
    return quote(value, safe=_SAFE)


def _header_lines(pairs: Pairs, *, encode: bool) -> str:
    lines = []
    for name, value in pairs:
        if not name or ":" in name or "\n" in name or "\r" in name:
            raise LocalProtocolError(f"bad header name {name!r}")
        if not encode and ("\n" in value or "\r" in value):
            raise LocalProtocolError(f"header {name!r} must not contain CR or LF")
        lines.append(f"{name}: {encode_value(value) if encode else value}\n")
    return "".join(lines)


def auth_request() -> bytes:
    return b"Content-Type: auth/request\n\n"


def command_reply(reply_text: str, extra: Pairs = ()) -> bytes:
    return (
        "Content-Type: command/reply\n"
        + _header_lines([("Reply-Text", reply_text), *extra], encode=False)
        + "\n"
    ).encode()


def channel_data_reply(channel_data: Pairs, *, mode: str = "async", control: str = "full") -> bytes:
    """The reply to `connect` on an outbound socket: the channel data, then the reply."""
    return (
        _header_lines(channel_data, encode=True)
        + "Content-Type: command/reply\nReply-Text: %2BOK%0A\n"
        + f"Socket-Mode: {mode}\nControl: {control}\n\n"
    ).encode()


def api_response(text: str) -> bytes:
    body = text.encode()
    return f"Content-Type: api/response\nContent-Length: {len(body)}\n\n".encode() + body


def disconnect_notice(
    session_uuid: str | None,
    *,
    linger: bool,
    channel_name: str | None = None,
    linger_time: int = -1,
) -> bytes:
    """The notice of a hangup (`linger`) or of the socket closing (`disconnect`).

    `session_uuid` None gives what an inbound connection gets after `exit`: no session, no
    disposition, just the goodbye.
    """
    if linger:
        if session_uuid is None:
            raise LocalProtocolError("a linger notice names the session it lingers for")
        pairs: list[tuple[str, str]] = [
            ("Controlled-Session-UUID", session_uuid),
            ("Content-Disposition", "linger"),
        ]
        if channel_name is not None:
            pairs.append(("Channel-Name", channel_name))
        pairs.append(("Linger-Time", str(linger_time)))
        head = "Content-Type: text/disconnect-notice\n" + _header_lines(pairs, encode=False)
        return (head + "Content-Length: 0\n\n").encode()
    body = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    pairs = []
    if session_uuid is not None:
        pairs = [("Controlled-Session-UUID", session_uuid), ("Content-Disposition", "disconnect")]
    head = "Content-Type: text/disconnect-notice\n" + _header_lines(pairs, encode=False)
    return (head + f"Content-Length: {len(body)}\n\n").encode() + body


def rude_rejection(text: str = "Access Denied, go away.\n") -> bytes:
    body = text.encode()
    return f"Content-Type: text/rude-rejection\nContent-Length: {len(body)}\n\n".encode() + body


def log_data(text: str, *, level: int = 7, pairs: Pairs = ()) -> bytes:
    body = text.encode()
    head = _header_lines([("Log-Level", str(level)), *pairs], encode=False)
    return f"Content-Type: log/data\nContent-Length: {len(body)}\n{head}\n".encode() + body


def _event_frame(content_type: str, body: bytes) -> bytes:
    return f"Content-Length: {len(body)}\nContent-Type: {content_type}\n\n".encode() + body


def event_plain(pairs: Pairs, body: str | None = None) -> bytes:
    """A `text/event-plain` frame: percent-encoded headers, then the event's own body."""
    text = _header_lines(pairs, encode=True)
    if body:
        data = body.encode()
        payload = (text + f"Content-Length: {len(data)}\n\n").encode() + data
    else:
        payload = (text + "\n").encode()
    return _event_frame("text/event-plain", payload)


def event_json(pairs: Sequence[tuple[str, str]], body: str | None = None) -> bytes:
    """A `text/event-json` frame, compact as cJSON prints it, as FreeSWITCH writes one: a
    repeated header is a repeated key, an `ARRAY::a|:b` value a JSON array."""
    items = list(pairs)
    if body:
        items += [("Content-Length", str(len(body.encode()))), ("_body", body)]
    text = ",".join(f"{_json_string(name)}:{_json_value(value)}" for name, value in items)
    return _event_frame("text/event-json", ("{" + text + "}").encode())


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _json_value(value: str) -> str:
    if value.startswith("ARRAY::"):
        return "[" + ",".join(_json_string(item) for item in value[7:].split("|:")) + "]"
    return _json_string(value)


def event_xml(pairs: Pairs, body: str | None = None) -> bytes:
    parts = ["<event>\n  <headers>\n"]
    for name, value in pairs:
        if not _XML_NAME.fullmatch(name):
            raise LocalProtocolError(f"header name {name!r} cannot be an XML element")
        parts.append(f"    <{name}>{_xml_text(encode_value(value))}</{name}>\n")
    parts.append("  </headers>\n")
    if body:
        if _NOT_XML.search(body):
            raise LocalProtocolError("an XML event body cannot carry control characters")
        parts.append(f"  <Content-Length>{len(body.encode())}</Content-Length>\n")
        parts.append(f"  <body>{_xml_text(body)}</body>\n")
    parts.append("</event>")
    return _event_frame("text/event-xml", "".join(parts).encode())
