"""Commands as bytes, one function each; nothing else in ivrd writes protocol text.

Every function refuses a value that would break the framing. FreeSWITCH splits a command's
header block on CR as well as LF (mod_event_socket's read_packet), so a CR or LF inside a
header value would start a new header: with digits or HTTP data in an application argument,
that is header injection. A multi-line or long application argument therefore travels as a
`content-type: text/plain` body, which FreeSWITCH reads as `execute-app-arg`
(switch_ivr_parse_event); every other value with CR or LF raises LocalProtocolError.

FreeSWITCH also reads the head as C strings: a NUL would end it there and lose every header
after it, `Content-Length` included, so the body would be read as the next command. NUL is
refused everywhere, and `Content-Length` is always right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from ivrd.esl.protocol._errors import LocalProtocolError

EventFormat = Literal["plain", "json", "xml"]
FORMATS: frozenset[str] = frozenset({"plain", "json", "xml"})

# Beyond this an application argument goes in the body, where FreeSWITCH has no line limit.
MAX_HEADER_ARG = 1024

Pairs = Sequence[tuple[str, str]]


def _check(what: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise LocalProtocolError(f"{what} must not contain CR or LF: {value[:80]!r}")
    if "\0" in value:
        raise LocalProtocolError(f"{what} must not contain NUL: {value[:80]!r}")
    return value


def _word(what: str, value: str) -> str:
    """A single token on a command line: no whitespace at all."""
    # `split()` cuts at exactly what `str.isspace` calls whitespace, in one C call: one word
    # is a value that splits into itself.
    if _check(what, value).split() != [value]:
        raise LocalProtocolError(f"{what} must be one word without spaces: {value[:80]!r}")
    return value


def _encode(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError as exc:  # a lone surrogate, as json.loads can produce
        bad = exc.object[exc.start : exc.end]
        raise LocalProtocolError(f"command text is not valid Unicode: {bad!r}") from None


def _format(format: str) -> str:
    if format not in FORMATS:
        raise LocalProtocolError(f"event format must be plain, json or xml, not {format!r}")
    return format


def build(line: str, headers: Pairs = (), body: bytes | str | None = None) -> bytes:
    """Any command: its line, `Name: value` headers, and an optional body.

    With a body, `Content-Length` is added (in bytes). A caller's own `Content-Length` must
    be exactly that (or 0 without a body): any other would make FreeSWITCH read the next
    command as this one's body.
    """
    if not line:
        raise LocalProtocolError("command line must not be empty")
    data = b"" if body is None else _encode(body) if isinstance(body, str) else body
    parts = [_check("command line", line), "\n"]
    given_length = False
    for name, value in headers:
        if not name or ":" in name or name != name.strip():
            raise LocalProtocolError(f"bad header name {name!r}")
        parts += (name, ": ", value, "\n")
        # 14 letters: only a name that long can spell Content-Length, in any case.
        if len(name) == 14 and name.lower().replace("_", "-") == "content-length":
            if given_length or name.lower() != "content-length" or value != str(len(data)):
                raise LocalProtocolError(
                    f"header {name}: {value!r} does not match the {len(data)}-byte body "
                    "(leave it out: it is added)"
                )
            given_length = True
    if body is not None and not given_length:
        parts += ("Content-Length: ", str(len(data)), "\n")
    text = "".join(parts)
    # Each name and value was part of one line: the text holds a newline per line and no CR
    # or NUL. Checked at once, and part by part (for the message naming it) only if not.
    if "\r" in text or "\0" in text or text.count("\n") != len(parts) // 4 + 1:
        for name, value in headers:
            _check(f"header {name!r}", name)
            _check(f"header {name!r}", value)
    return _encode(text + "\n") + data


def _password(value: str) -> str:
    """`_check` without quoting the value in the error: it is a password."""
    if "\n" in value or "\r" in value or "\0" in value:
        raise LocalProtocolError("password must not contain CR, LF or NUL")
    return value


def auth(password: str) -> bytes:
    return build(f"auth {_password(password)}")


def userauth(user: str, domain: str, password: str) -> bytes:
    # FreeSWITCH splits at the first `@`, then at a `:` in either part: none may hide there.
    for what, value in (("user", user), ("domain", domain)):
        if ":" in _word(what, value) or "@" in value:
            raise LocalProtocolError(f"{what} must not contain ':' or '@': {value[:80]!r}")
    return build(f"userauth {user}@{domain}:{_password(password)}")


def event(
    names: Iterable[str] = ("ALL",),
    *,
    format: EventFormat = "plain",
    subclasses: Iterable[str] = (),
) -> bytes:
    """`event plain ALL`, `event json CHANNEL_ANSWER CUSTOM sofia::register`, ..."""
    words = [_word("event name", name) for name in names]
    custom = [_word("event subclass", name) for name in subclasses]
    if custom and "CUSTOM" not in words and "ALL" not in words:
        words.append("CUSTOM")
    words += custom
    if not words:
        raise LocalProtocolError("event needs at least one event name")
    return build(f"event {_format(format)} {' '.join(words)}")


def nixevent(names: Iterable[str], *, subclasses: Iterable[str] = ()) -> bytes:
    words = [_word("event name", name) for name in names]
    custom = [_word("event subclass", name) for name in subclasses]
    if custom and "CUSTOM" not in words:
        words.append("CUSTOM")
    words += custom
    if not words:
        raise LocalProtocolError("nixevent needs at least one event name")
    return build(f"nixevent {' '.join(words)}")


def noevents() -> bytes:
    return build("noevents")


# The event types `myevents` subscribes a socket to (mod_event_socket.c sets exactly these in
# its event list); `nixevent` can take any of them back afterwards.
MYEVENTS: frozenset[str] = frozenset(
    {
        "CHANNEL_ANSWER",
        "CHANNEL_APPLICATION",
        "CHANNEL_BRIDGE",
        "CHANNEL_CREATE",
        "CHANNEL_DATA",
        "CHANNEL_DESTROY",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_ORIGINATE",
        "CHANNEL_OUTGOING",
        "CHANNEL_PARK",
        "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA",
        "CHANNEL_STATE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_UNPARK",
        "CHANNEL_UUID",
        "DETECTED_SPEECH",
        "DTMF",
        "NOTALK",
        "TALK",
    }
)


def myevents(uuid: str | None = None, format: EventFormat | None = None) -> bytes:
    """`myevents` on an outbound socket; `myevents <uuid> [format]` on an inbound one."""
    words = ["myevents"]
    if uuid is not None:
        words.append(_word("uuid", uuid))
    if format is not None:
        words.append(_format(format))
    return build(" ".join(words))


def filter(header: str, value: str) -> bytes:
    """Only pass events whose `header` equals `value` (FreeSWITCH ORs several filters)."""
    return build(f"filter {_word('filter header', header)} {_check('filter value', value)}")


def filter_delete(header: str, value: str | None = None) -> bytes:
    """Remove one filter, or all filters on `header` (`filter delete all` removes all)."""
    line = f"filter delete {_word('filter header', header)}"
    if value is not None:
        line += f" {_check('filter value', value)}"
    return build(line)


def divert_events(on: bool = True) -> bytes:
    return build(f"divert_events {'on' if on else 'off'}")


def linger(seconds: int | None = None) -> bytes:
    """Keep the socket after hangup: until `exit` (no time) or for `seconds`."""
    if seconds is None:
        return build("linger")
    if seconds < 0:
        raise LocalProtocolError(f"linger time must not be negative, got {seconds}")
    return build(f"linger {seconds}")


def nolinger() -> bytes:
    return build("nolinger")


def connect() -> bytes:
    return build("connect")


def resume() -> bytes:
    return build("resume")


def getvar(name: str) -> bytes:
    return build(f"getvar {_word('variable name', name)}")


def exit() -> bytes:
    return build("exit")


def api(command: str) -> bytes:
    """`api <command>`: blocks this socket until FreeSWITCH answers."""
    return build(f"api {_check('api command', command).strip()}")


def bgapi(command: str, job_uuid: str | None = None) -> bytes:
    """`bgapi <command>`, with a caller-chosen `Job-UUID` so the result can be matched."""
    headers = [] if job_uuid is None else [("Job-UUID", _word("Job-UUID", job_uuid))]
    return build(f"bgapi {_check('bgapi command', command).strip()}", headers)


def sendmsg(uuid: str | None, headers: Pairs, body: bytes | str | None = None) -> bytes:
    line = "sendmsg" if uuid is None else f"sendmsg {_word('uuid', uuid)}"
    return build(line, headers, body)


def execute(
    app: str,
    arg: str = "",
    *,
    uuid: str | None = None,
    event_uuid: str | None = None,
    event_lock: bool = True,
    loops: int | None = None,
) -> bytes:
    """`sendmsg` / `call-command: execute` for one application.

    Header order follows what a real client sent in the captures. `event-lock: true` makes
    FreeSWITCH run applications one after another instead of nesting them.
    """
    headers: list[tuple[str, str]] = [
        ("call-command", "execute"),
        ("execute-app-name", _word("application name", app)),
    ]
    body: str | None = None
    if arg:
        if "\0" in arg:
            raise LocalProtocolError(f"application argument must not contain NUL: {arg[:80]!r}")
        # FreeSWITCH drops the spaces after a header's colon, so a leading space goes in the
        # body too.
        if "\n" in arg or "\r" in arg or arg[0] == " " or len(_encode(arg)) > MAX_HEADER_ARG:
            body = arg
        else:
            headers.append(("execute-app-arg", arg))
    if loops is not None:
        if loops < 1:
            raise LocalProtocolError(f"loops must be at least 1, got {loops}")
        headers.append(("loops", str(loops)))
    if event_lock:
        headers.append(("event-lock", "true"))
    if event_uuid is not None:
        headers.append(("Event-UUID", _word("Event-UUID", event_uuid)))
    if body is not None:
        headers.append(("content-type", "text/plain"))
    return sendmsg(uuid, headers, body)


def hangup(cause: str = "", *, uuid: str | None = None) -> bytes:
    headers = [("call-command", "hangup")]
    if cause:
        headers.append(("hangup-cause", _word("hangup cause", cause)))
    return sendmsg(uuid, headers)


def unicast(
    local_ip: str,
    local_port: int,
    remote_ip: str,
    remote_port: int,
    *,
    transport: Literal["udp", "tcp"] = "udp",
    flags: str | None = None,
    uuid: str | None = None,
) -> bytes:
    """Stream the call's media to a socket (`call-command: unicast`)."""
    headers = [
        ("call-command", "unicast"),
        ("local-ip", _word("local ip", local_ip)),
        ("local-port", str(int(local_port))),
        ("remote-ip", _word("remote ip", remote_ip)),
        ("remote-port", str(int(remote_port))),
        ("transport", transport),
    ]
    if flags is not None:
        headers.append(("flags", _word("flags", flags)))
    return sendmsg(uuid, headers)


def nomedia(info: str, *, uuid: str | None = None) -> bytes:
    return sendmsg(uuid, [("call-command", "nomedia"), ("nomedia-uuid", _check("info", info))])


def log(level: str | int | None = None) -> bytes:
    return build("log" if level is None else f"log {_word('log level', str(level))}")


def nolog() -> bytes:
    return build("nolog")


def sendevent(name: str, headers: Pairs = (), body: str | None = None) -> bytes:
    return build(f"sendevent {_word('event name', name)}", headers, body)
