"""Command builders: exact bytes, the captures' commands rebuilt, and no way to inject a header."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivrd.esl.protocol import (
    CLOSED,
    Command,
    CommandParser,
    LocalProtocolError,
    ProtocolError,
    commands,
)

if TYPE_CHECKING:
    from conftest import Capture

UUID = "5b6fe20a-b11f-455d-ad99-84aee48baac8"


def read_back(data: bytes) -> Command:
    """The one command FreeSWITCH would read from these bytes (fails if not exactly one)."""
    parser = CommandParser()
    parser.feed(data)
    parser.feed_eof()
    (command,) = parser
    assert parser.next_command() is CLOSED
    return command


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        # The ones librevox sends too, byte for byte.
        (commands.connect(), b"connect\n\n"),
        (commands.myevents(), b"myevents\n\n"),
        (commands.linger(), b"linger\n\n"),
        (commands.api("status"), b"api status\n\n"),
        (commands.api("uuid_park 1234-abcd"), b"api uuid_park 1234-abcd\n\n"),
        (
            commands.api("originate {}user/coltrane 4000 XML public"),
            b"api originate {}user/coltrane 4000 XML public\n\n",
        ),
        (
            commands.api("hash insert/firmafon/foo/some value"),
            b"api hash insert/firmafon/foo/some value\n\n",
        ),
        (
            commands.execute("answer", event_lock=False),
            b"sendmsg\ncall-command: execute\nexecute-app-name: answer\n\n",
        ),
        (
            commands.execute(
                "play_and_get_digits",
                "1 2 3 5000 # file invalid read_digits_var \\d+",
                event_lock=False,
            ),
            b"sendmsg\ncall-command: execute\nexecute-app-name: play_and_get_digits\n"
            b"execute-app-arg: 1 2 3 5000 # file invalid read_digits_var \\d+\n\n",
        ),
        # The rest.
        (commands.auth("ClueCon"), b"auth ClueCon\n\n"),
        (commands.userauth("1000", "example.com", "pa ss"), b"userauth 1000@example.com:pa ss\n\n"),
        (commands.event(), b"event plain ALL\n\n"),
        (
            commands.event(["CHANNEL_ANSWER"], format="json", subclasses=["sofia::register"]),
            b"event json CHANNEL_ANSWER CUSTOM sofia::register\n\n",
        ),
        (commands.event(["ALL"], subclasses=["a::b"]), b"event plain ALL a::b\n\n"),
        (
            commands.event(["CUSTOM"], format="xml", subclasses=["a::b"]),
            b"event xml CUSTOM a::b\n\n",
        ),
        (commands.nixevent(["DTMF", "HEARTBEAT"]), b"nixevent DTMF HEARTBEAT\n\n"),
        (commands.nixevent([], subclasses=["a::b"]), b"nixevent CUSTOM a::b\n\n"),
        (commands.noevents(), b"noevents\n\n"),
        (commands.myevents(UUID), b"myevents " + UUID.encode() + b"\n\n"),
        (commands.myevents(UUID, "json"), b"myevents " + UUID.encode() + b" json\n\n"),
        (commands.myevents(format="json"), b"myevents json\n\n"),
        (commands.filter("Unique-ID", UUID), b"filter Unique-ID " + UUID.encode() + b"\n\n"),
        (commands.filter("Caller-Name", "A B"), b"filter Caller-Name A B\n\n"),
        (commands.filter_delete("Unique-ID"), b"filter delete Unique-ID\n\n"),
        (commands.filter_delete("Unique-ID", "x"), b"filter delete Unique-ID x\n\n"),
        (commands.divert_events(), b"divert_events on\n\n"),
        (commands.divert_events(False), b"divert_events off\n\n"),
        (commands.linger(5), b"linger 5\n\n"),
        (commands.linger(0), b"linger 0\n\n"),
        (commands.nolinger(), b"nolinger\n\n"),
        (commands.resume(), b"resume\n\n"),
        (commands.getvar("loopback_leg"), b"getvar loopback_leg\n\n"),
        (commands.exit(), b"exit\n\n"),
        (commands.api("  uptime  "), b"api uptime\n\n"),
        (commands.bgapi("status"), b"bgapi status\n\n"),
        (commands.bgapi("status", "job-1"), b"bgapi status\nJob-UUID: job-1\n\n"),
        (commands.log(), b"log\n\n"),
        (commands.log(7), b"log 7\n\n"),
        (commands.log("debug"), b"log debug\n\n"),
        (commands.nolog(), b"nolog\n\n"),
        (
            commands.sendmsg(None, [("call-command", "execute")]),
            b"sendmsg\ncall-command: execute\n\n",
        ),
        (
            commands.sendmsg(UUID, [("a", "b")], "hi"),
            f"sendmsg {UUID}\na: b\nContent-Length: 2\n\nhi".encode(),
        ),
        (
            commands.sendevent("CUSTOM", [("Event-Subclass", "ivrd::test")], "héllo"),
            b"sendevent CUSTOM\nEvent-Subclass: ivrd::test\nContent-Length: 6\n\nh\xc3\xa9llo",
        ),
        (commands.build("x", [("Content-Length", "2")], b"ab"), b"x\nContent-Length: 2\n\nab"),
        (commands.build("x", [("content-length", "0")]), b"x\ncontent-length: 0\n\n"),
        (commands.build("x", body=""), b"x\nContent-Length: 0\n\n"),
        # Applications: the header order a real client sent in the captures.
        (
            commands.execute("playback", "tone_stream://%(500,0,440)", event_uuid=UUID),
            b"sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
            b"execute-app-arg: tone_stream://%(500,0,440)\nevent-lock: true\n"
            b"Event-UUID: 5b6fe20a-b11f-455d-ad99-84aee48baac8\n\n",
        ),
        (
            commands.execute("playback", "a.wav", uuid=UUID, loops=3),
            f"sendmsg {UUID}\ncall-command: execute\nexecute-app-name: playback\n"
            "execute-app-arg: a.wav\nloops: 3\nevent-lock: true\n\n".encode(),
        ),
        (
            commands.execute("set", "a=1\nb=2", event_uuid="e1"),
            b"sendmsg\ncall-command: execute\nexecute-app-name: set\nevent-lock: true\n"
            b"Event-UUID: e1\ncontent-type: text/plain\nContent-Length: 7\n\na=1\nb=2",
        ),
        (
            commands.execute("log", " leading space", event_lock=False),
            b"sendmsg\ncall-command: execute\nexecute-app-name: log\ncontent-type: text/plain\n"
            b"Content-Length: 14\n\n leading space",
        ),
        (commands.hangup(), b"sendmsg\ncall-command: hangup\n\n"),
        (
            commands.hangup("NORMAL_CLEARING", uuid=UUID),
            f"sendmsg {UUID}\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n".encode(),
        ),
        (
            commands.unicast("127.0.0.1", 8025, "10.0.0.1", 9000, flags="native"),
            b"sendmsg\ncall-command: unicast\nlocal-ip: 127.0.0.1\nlocal-port: 8025\n"
            b"remote-ip: 10.0.0.1\nremote-port: 9000\ntransport: udp\nflags: native\n\n",
        ),
        (
            commands.nomedia("x y", uuid=UUID),
            f"sendmsg {UUID}\ncall-command: nomedia\nnomedia-uuid: x y\n\n".encode(),
        ),
    ],
)
def test_exact_bytes(built: bytes, expected: bytes) -> None:
    assert built == expected


def test_a_long_application_argument_goes_in_the_body() -> None:
    arg = "x" * 1024
    assert b"execute-app-arg: " + arg.encode() + b"\n" in commands.execute("log", arg)

    longer = "é" * 513  # 1026 bytes, 513 characters
    command = read_back(commands.execute("log", longer))
    assert "execute-app-arg" not in command.headers
    assert command.headers["content-type"] == "text/plain"
    assert command.body.decode() == longer


def rebuild(command: Command) -> bytes:
    """The bytes our builders make for the command a capture's client sent."""
    word, argument, headers = command.name, command.argument, command.headers
    uuid = argument or None
    if word == "sendmsg" and headers["call-command"] == "execute":
        return commands.execute(
            headers["execute-app-name"],
            headers.get("execute-app-arg", ""),
            uuid=uuid,
            event_uuid=headers.get("Event-UUID"),
            event_lock="event-lock" in headers,
        )
    if word == "sendmsg" and headers["call-command"] == "hangup":
        return commands.hangup(headers["hangup-cause"], uuid=uuid)
    if word == "event":
        format, *names = argument.split(" ")
        return commands.event(names, format=format)  # type: ignore[arg-type]
    if word == "bgapi":
        return commands.bgapi(argument, headers["Job-UUID"])
    if word == "myevents":
        return commands.myevents(format=argument or None)  # type: ignore[arg-type]
    if word == "linger":
        return commands.linger(int(argument) if argument else None)
    simple: dict[str, Callable[[str], bytes]] = {
        "auth": commands.auth,
        "api": commands.api,
        "getvar": commands.getvar,
    }
    if word in simple:
        return simple[word](argument)
    bare: dict[str, Callable[[], bytes]] = {
        "connect": commands.connect,
        "exit": commands.exit,
    }
    if word in bare:
        assert not argument
        return bare[word]()
    return commands.build(command.line)


def test_every_command_in_the_captures_is_what_the_builders_make(capture: Capture) -> None:
    for _, data in capture.sent:
        assert rebuild(read_back(data)) == data


def test_the_captured_playback_sendmsg(load_capture: Callable[[str], Capture]) -> None:
    sent = [data for _, data in load_capture("outbound_session").sent]

    assert (
        commands.execute("playback", "tone_stream://%(500,0,440)", event_uuid=UUID)
        == sent[4]
        == (
            b"sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
            b"execute-app-arg: tone_stream://%(500,0,440)\nevent-lock: true\n"
            b"Event-UUID: 5b6fe20a-b11f-455d-ad99-84aee48baac8\n\n"
        )
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        # Never the password itself: these messages are logged and printed.
        (lambda: commands.auth("a\nb"), "password must not contain CR, LF or NUL"),
        (lambda: commands.auth("a\0b"), "password must not contain CR, LF or NUL"),
        (lambda: commands.userauth("u", "d", "p\r"), "password must not contain CR, LF or NUL"),
        (lambda: commands.userauth("u:x", "d", "p"), "user must not contain ':' or '@': 'u:x'"),
        (lambda: commands.userauth("u", "d@e", "p"), "domain must not contain ':' or '@': 'd@e'"),
        (
            lambda: commands.userauth("u", "d e", "p"),
            "domain must be one word without spaces: 'd e'",
        ),
        (
            lambda: commands.api("status\n\nexit"),
            "api command must not contain CR or LF: 'status\\n\\nexit'",
        ),
        (
            lambda: commands.bgapi("status\r"),
            "bgapi command must not contain CR or LF: 'status\\r'",
        ),
        (
            lambda: commands.bgapi("status", "a b"),
            "Job-UUID must be one word without spaces: 'a b'",
        ),
        (lambda: commands.bgapi("status", "a\nb"), "Job-UUID must not contain CR or LF: 'a\\nb'"),
        (lambda: commands.getvar("a b"), "variable name must be one word without spaces: 'a b'"),
        (lambda: commands.getvar(""), "variable name must be one word without spaces: ''"),
        (
            lambda: commands.filter("Unique-ID", "x\ny"),
            "filter value must not contain CR or LF: 'x\\ny'",
        ),
        (
            lambda: commands.filter("A B", "x"),
            "filter header must be one word without spaces: 'A B'",
        ),
        (
            lambda: commands.filter_delete("A", "\n"),
            "filter value must not contain CR or LF: '\\n'",
        ),
        (lambda: commands.event(["ALL\n"]), "event name must not contain CR or LF: 'ALL\\n'"),
        (lambda: commands.event([]), "event needs at least one event name"),
        (
            lambda: commands.event(format="yaml"),
            "event format must be plain, json or xml, not 'yaml'",
        ),  # type: ignore[arg-type]
        (
            lambda: commands.event(subclasses=["a b"]),
            "event subclass must be one word without spaces: 'a b'",
        ),
        (lambda: commands.nixevent([]), "nixevent needs at least one event name"),
        (lambda: commands.myevents("u u"), "uuid must be one word without spaces: 'u u'"),
        (lambda: commands.linger(-1), "linger time must not be negative, got -1"),
        (lambda: commands.log("7\n"), "log level must not contain CR or LF: '7\\n'"),
        (lambda: commands.sendmsg("a\nb", []), "uuid must not contain CR or LF: 'a\\nb'"),
        (
            lambda: commands.sendmsg(None, [("a", "b\nc: d")]),
            "header 'a' must not contain CR or LF: 'b\\nc: d'",
        ),
        (
            lambda: commands.sendmsg(None, [("a\nb", "c")]),
            "header 'a\\nb' must not contain CR or LF: 'a\\nb'",
        ),
        (
            lambda: commands.sendmsg(None, [("a", "b\0")]),
            "header 'a' must not contain NUL: 'b\\x00'",
        ),
        (lambda: commands.sendmsg(None, [("a:b", "c")]), "bad header name 'a:b'"),
        (lambda: commands.sendmsg(None, [(" a", "c")]), "bad header name ' a'"),
        (lambda: commands.sendmsg(None, [("", "c")]), "bad header name ''"),
        (
            lambda: commands.sendmsg(None, [("Content-Length", "5")]),
            "header Content-Length: '5' does not match the 0-byte body (leave it out: it is added)",
        ),
        (
            lambda: commands.sendmsg(None, [("content-length", "1")], "ab"),
            "header content-length: '1' does not match the 2-byte body (leave it out: it is added)",
        ),
        (
            lambda: commands.sendmsg(None, [("Content_Length", "2")], "ab"),
            "header Content_Length: '2' does not match the 2-byte body (leave it out: it is added)",
        ),
        (
            lambda: commands.sendmsg(
                None, [("Content-Length", "2"), ("content-length", "2")], "ab"
            ),
            "header content-length: '2' does not match the 2-byte body (leave it out: it is added)",
        ),
        (lambda: commands.build(""), "command line must not be empty"),
        (lambda: commands.build("x\ny"), "command line must not contain CR or LF: 'x\\ny'"),
        (lambda: commands.api("\ud800"), "command text is not valid Unicode: '\\ud800'"),
        (
            lambda: commands.sendmsg(None, [], "\udfff"),
            "command text is not valid Unicode: '\\udfff'",
        ),
        (
            lambda: commands.execute("play back"),
            "application name must be one word without spaces: 'play back'",
        ),
        (
            lambda: commands.execute("log", "a\0"),
            "application argument must not contain NUL: 'a\\x00'",
        ),
        (
            lambda: commands.execute("log", "a", event_uuid="b\nc"),
            "Event-UUID must not contain CR or LF: 'b\\nc'",
        ),
        (lambda: commands.execute("log", "a", loops=0), "loops must be at least 1, got 0"),
        (
            lambda: commands.hangup("NORMAL CLEARING"),
            "hangup cause must be one word without spaces: 'NORMAL CLEARING'",
        ),
        (
            lambda: commands.unicast("1.2.3.4", 1, "5.6.7.8", 2, transport="udp\nx: y"),  # type: ignore[arg-type]
            "header 'transport' must not contain CR or LF: 'udp\\nx: y'",
        ),
        (lambda: commands.nomedia("a\rb"), "info must not contain CR or LF: 'a\\rb'"),
        (
            lambda: commands.sendevent("CUSTOM\n"),
            "event name must not contain CR or LF: 'CUSTOM\\n'",
        ),
    ],
)
def test_refusals_say_what_was_wrong(build: Callable[[], bytes], message: str) -> None:
    with pytest.raises(LocalProtocolError) as caught:
        build()
    assert str(caught.value) == message


def test_local_protocol_errors_are_value_errors_and_protocol_errors() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        commands.api("a\n")
    with pytest.raises(ProtocolError):
        commands.api("a\n")


# Properties: whatever text reaches a builder, FreeSWITCH reads exactly one command with exactly
# the headers the builder meant, or the builder refuses.

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=20)
NASTY = st.sampled_from(
    [
        "",
        " ",
        "  x",
        "\n",
        "\r",
        "\r\n",
        "\n\n",
        "\0",
        "a\nContent-Length: 5",
        "x: y",
        "\x85",
        "\u2028",
    ]
)
TEXT = ANY_TEXT | NASTY | st.from_regex(r"\A[ -~]{0,12}\Z")
OPTIONAL = st.none() | TEXT
HEADERS = st.lists(
    st.tuples(TEXT | st.sampled_from(["Content-Length", "content_length"]), TEXT), max_size=4
)
BODY = st.none() | TEXT


def refused_or_one_command(
    build: Callable[[], bytes], word: str, names: list[str]
) -> Command | None:
    """The command FreeSWITCH reads, checked against what was meant; None if refused."""
    try:
        data = build()
    except LocalProtocolError:
        return None
    command = read_back(data)
    assert command.name == word
    assert [name for name, _ in command.headers.pairs()] == names
    return command


def content_length(body: str | None) -> list[str]:
    return [] if body is None else ["Content-Length"]


WORD = st.from_regex(r"\A[!-~]{1,16}\Z")  # what a caller means to pass: one printable word
NAME = st.from_regex(r"\A[A-Za-z0-9_-]{1,16}\Z").filter(
    lambda name: name.lower().replace("_", "-") != "content-length"
)


def not_unicode(text: str) -> bool:
    """A lone surrogate (json.loads can make one): no UTF-8 for it."""
    return any("\ud800" <= char <= "\udfff" for char in text)


def unwritable(text: str) -> bool:
    """Text no header can carry: NUL (FreeSWITCH reads C strings) or a lone surrogate."""
    return "\0" in text or not_unicode(text)


@settings(max_examples=300)
@given(
    app=WORD,
    arg=TEXT,
    uuid=st.none() | WORD,
    event_uuid=st.none() | WORD,
    event_lock=st.booleans(),
    loops=st.none() | st.integers(1, 3),
)
def test_execute_argument_comes_back_whole_in_a_header_or_the_body(
    app: str,
    arg: str,
    uuid: str | None,
    event_uuid: str | None,
    event_lock: bool,
    loops: int | None,
) -> None:
    build = lambda: commands.execute(  # noqa: E731
        app, arg, uuid=uuid, event_uuid=event_uuid, event_lock=event_lock, loops=loops
    )
    if unwritable(arg):
        with pytest.raises(LocalProtocolError):
            build()
        return
    in_body = arg != "" and (
        "\n" in arg or "\r" in arg or arg.startswith(" ") or len(arg.encode()) > 1024
    )
    names = ["call-command", "execute-app-name"]
    names += ["execute-app-arg"] if arg and not in_body else []
    names += ["loops"] if loops is not None else []
    names += ["event-lock"] if event_lock else []
    names += ["Event-UUID"] if event_uuid is not None else []
    names += ["content-type", "Content-Length"] if in_body else []

    command = read_back(build())
    assert command.line == "sendmsg" + ("" if uuid is None else f" {uuid}")
    assert [name for name, _ in command.headers.pairs()] == names
    assert command.headers["execute-app-name"] == app
    assert command.headers.get("Event-UUID") == event_uuid
    if in_body:
        assert command.headers["content-type"] == "text/plain"
        assert command.body.decode() == arg
    else:
        assert command.headers.get("execute-app-arg", "") == arg
        assert command.body == b""


@settings(max_examples=200)
@given(
    word=st.sampled_from(["sendmsg", "sendevent", "build"]),
    argument=WORD,
    headers=st.lists(st.tuples(NAME, TEXT), max_size=4),
    body=BODY,
)
def test_headers_and_body_come_back_as_given(
    word: str, argument: str, headers: list[tuple[str, str]], body: str | None
) -> None:
    builders: dict[str, Callable[[], bytes]] = {
        "sendmsg": lambda: commands.sendmsg(argument, headers, body),
        "sendevent": lambda: commands.sendevent(argument, headers, body),
        "build": lambda: commands.build(f"build {argument}", headers, body),
    }
    if any("\n" in value or "\r" in value or unwritable(value) for _, value in headers) or (
        body is not None and not_unicode(body)
    ):
        with pytest.raises(LocalProtocolError):
            builders[word]()
        return

    command = read_back(builders[word]())
    assert (command.name, command.argument) == (word, argument)
    # FreeSWITCH skips every space after a header's colon.
    assert command.headers.pairs() == [(name, value.lstrip(" ")) for name, value in headers] + (
        [] if body is None else [("Content-Length", str(len(body.encode())))]
    )
    assert command.body == (body or "").encode()


@settings(max_examples=200)
@given(
    word=st.sampled_from(["sendmsg", "sendevent", "build"]),
    argument=TEXT,
    headers=st.lists(
        st.tuples(TEXT | st.sampled_from(["Content-Length", "content_length"]), TEXT), max_size=4
    ),
    body=BODY,
)
def test_no_header_or_body_can_inject_anything(
    word: str, argument: str, headers: list[tuple[str, str]], body: str | None
) -> None:
    builders: dict[str, Callable[[], bytes]] = {
        "sendmsg": lambda: commands.sendmsg(argument or None, headers, body),
        "sendevent": lambda: commands.sendevent(argument, headers, body),
        "build": lambda: commands.build(f"build {argument}", headers, body),
    }
    given_length = any(name.lower() == "content-length" for name, _ in headers)
    names = [name for name, _ in headers] + ([] if given_length else content_length(body))

    command = refused_or_one_command(builders[word], word, names)
    if command is not None:
        assert command.body == (body or "").encode()


# Mostly words, as callers pass them, and every kind of text in between.
ARG = WORD | TEXT
FORMAT = st.sampled_from(["plain", "json", "xml"]) | ARG
BUILDERS: dict[str, tuple[Callable[..., bytes], dict[str, st.SearchStrategy[Any]], str]] = {
    "auth": (commands.auth, {"password": ARG}, "auth"),
    "userauth": (commands.userauth, {"user": ARG, "domain": ARG, "password": ARG}, "userauth"),
    "event": (
        commands.event,
        {
            "names": st.lists(ARG, max_size=3),
            "format": FORMAT,
            "subclasses": st.lists(ARG, max_size=2),
        },
        "event",
    ),
    "nixevent": (
        commands.nixevent,
        {"names": st.lists(ARG, max_size=3), "subclasses": st.lists(ARG, max_size=2)},
        "nixevent",
    ),
    "myevents": (
        commands.myevents,
        {"uuid": st.none() | ARG, "format": st.none() | FORMAT},
        "myevents",
    ),
    "filter": (commands.filter, {"header": ARG, "value": ARG}, "filter"),
    "filter_delete": (commands.filter_delete, {"header": ARG, "value": st.none() | ARG}, "filter"),
    "getvar": (commands.getvar, {"name": ARG}, "getvar"),
    "api": (commands.api, {"command": ARG}, "api"),
    "log": (commands.log, {"level": st.none() | ARG}, "log"),
    "hangup": (commands.hangup, {"cause": ARG, "uuid": st.none() | ARG}, "sendmsg"),
    "nomedia": (commands.nomedia, {"info": ARG, "uuid": st.none() | ARG}, "sendmsg"),
    "unicast": (
        commands.unicast,
        {
            "local_ip": ARG,
            "local_port": st.integers(0, 65535),
            "remote_ip": ARG,
            "remote_port": st.integers(0, 65535),
            "transport": ARG,
            "flags": st.none() | ARG,
            "uuid": st.none() | ARG,
        },
        "sendmsg",
    ),
}


def expected_names(name: str, arguments: dict[str, Any]) -> list[str]:
    if name == "hangup":
        return ["call-command"] + (["hangup-cause"] if arguments["cause"] else [])
    if name == "nomedia":
        return ["call-command", "nomedia-uuid"]
    if name == "unicast":
        names = ["call-command", "local-ip", "local-port", "remote-ip", "remote-port", "transport"]
        return names + (["flags"] if arguments["flags"] is not None else [])
    return []


@pytest.mark.parametrize("name", sorted(BUILDERS))
@settings(max_examples=40)
@given(data=st.data())
def test_no_argument_can_inject_a_header_or_a_command(name: str, data: st.DataObject) -> None:
    build, strategies, word = BUILDERS[name]
    arguments = data.draw(st.fixed_dictionaries(strategies))

    refused_or_one_command(lambda: build(**arguments), word, expected_names(name, arguments))


@settings(max_examples=100)
@given(job_uuid=OPTIONAL, command=TEXT)
def test_bgapi_job_uuid_is_its_only_header(command: str, job_uuid: str | None) -> None:
    names = [] if job_uuid is None else ["Job-UUID"]

    sent = refused_or_one_command(lambda: commands.bgapi(command, job_uuid), "bgapi", names)
    if sent is not None:
        assert sent.argument == command.strip()
        assert sent.headers.get("Job-UUID") == job_uuid
