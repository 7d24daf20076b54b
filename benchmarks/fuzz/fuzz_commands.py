"""atheris: the command builders given arbitrary strings.

    benchmarks/.venv-bench/bin/python benchmarks/fuzz/fuzz_commands.py -max_total_time=180 \\
        benchmarks/fuzz/corpus/commands

What must hold for any input: a builder either refuses (LocalProtocolError, nothing else) or
writes exactly one frame, which FreeSWITCH's reading of it (`CommandParser`) takes back as the
same command: the line, the headers and the body the caller meant, and nothing after it.

Input format: the first byte picks the builder, the rest is split on 0xFF (never part of
UTF-8) into its string arguments, each decoded from UTF-8 with lone surrogates allowed (text
from json.loads can hold them); arguments a builder needs and the input lacks are empty.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _corpus

with atheris.instrument_imports(include=["ivrd"]):
    from ivrd.esl.protocol import (
        CLOSED,
        Command,
        CommandParser,
        LocalProtocolError,
        Sentinel,
        commands,
    )

SEPARATOR = b"\xff"
Expected = tuple[str, list[tuple[str, str]], bytes]
"""The line, the headers (in order) and the body FreeSWITCH must read."""


def text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8", errors="surrogatepass")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace")


def number(value: str) -> int:
    digits = "".join(ch for ch in value if ch in "0123456789")[:6]
    return int(digits) if digits else len(value)


def header_pairs(values: list[str]) -> list[tuple[str, str]]:
    return [(values[i], values[i + 1]) for i in range(0, len(values) - 1, 2)]


def read_back(data: bytes) -> Command:
    parser = CommandParser()
    parser.feed(data)
    parser.feed_eof()
    command = parser.next_command()
    assert not isinstance(command, Sentinel), data
    assert parser.next_command() is CLOSED, f"more than one command in {data!r}"
    return command


def sent_headers(headers: list[tuple[str, str]], body: str | None) -> list[tuple[str, str]]:
    """What a header list reads as: FreeSWITCH skips the spaces after each colon, and a body
    brings its Content-Length (unless the caller gave the right one)."""
    read = [(name, value.lstrip(" ")) for name, value in headers]
    given = any(name.lower() == "content-length" for name, _ in headers)
    if body is not None and not given:
        read.append(("Content-Length", str(len(body.encode()))))
    return read


def execute(a: list[str]) -> tuple[bytes, Expected]:
    app, arg, event_uuid = a[0], a[1], a[2] or None
    data = commands.execute(app, arg, event_uuid=event_uuid, loops=number(a[3]) or None)
    in_body = bool(arg) and (
        "\n" in arg or "\r" in arg or arg[0] == " " or len(arg.encode()) > 1024
    )
    headers = [("call-command", "execute"), ("execute-app-name", app)]
    headers += [("execute-app-arg", arg)] if arg and not in_body else []
    headers += [("loops", str(number(a[3])))] if number(a[3]) else []
    headers.append(("event-lock", "true"))
    headers += [("Event-UUID", event_uuid)] if event_uuid is not None else []
    if in_body:
        headers += [("content-type", "text/plain"), ("Content-Length", str(len(arg.encode())))]
    return data, ("sendmsg", headers, arg.encode() if in_body else b"")


def sendmsg(a: list[str]) -> tuple[bytes, Expected]:
    body = a[1] if a[1] else None
    headers = header_pairs(a[2:])
    data = commands.sendmsg(a[0] or None, headers, body)
    line = "sendmsg" if not a[0] else f"sendmsg {a[0]}"
    return data, (line, sent_headers(headers, body), (body or "").encode())


def sendevent(a: list[str]) -> tuple[bytes, Expected]:
    body = a[1] if a[1] else None
    headers = header_pairs(a[2:])
    data = commands.sendevent(a[0], headers, body)
    return data, (f"sendevent {a[0]}", sent_headers(headers, body), (body or "").encode())


def bgapi(a: list[str]) -> tuple[bytes, Expected]:
    job = a[1] or None
    data = commands.bgapi(a[0], job)
    return data, (f"bgapi {a[0].strip()}", [("Job-UUID", job)] if job else [], b"")


def hangup(a: list[str]) -> tuple[bytes, Expected]:
    data = commands.hangup(a[0], uuid=a[1] or None)
    headers = [("call-command", "hangup")] + ([("hangup-cause", a[0])] if a[0] else [])
    return data, ("sendmsg" + (f" {a[1]}" if a[1] else ""), headers, b"")


def line_only(
    build: Callable[[list[str]], bytes], line: Callable[[list[str]], str]
) -> Callable[[list[str]], tuple[bytes, Expected]]:
    def builder(a: list[str]) -> tuple[bytes, Expected]:
        return build(a), (line(a), [], b"")

    return builder


def event_line(a: list[str]) -> str:
    names = a[1].split(" ") if a[1] else []
    subclasses = a[2].split(" ") if a[2] else []
    words = list(names)
    if subclasses and "CUSTOM" not in words and "ALL" not in words:
        words.append("CUSTOM")
    return f"event {a[0]} {' '.join(words + subclasses)}"


BUILDERS: list[Callable[[list[str]], tuple[bytes, Expected]]] = [
    execute,
    sendmsg,
    sendevent,
    bgapi,
    hangup,
    line_only(lambda a: commands.auth(a[0]), lambda a: f"auth {a[0]}"),
    line_only(
        lambda a: commands.userauth(a[0], a[1], a[2]), lambda a: f"userauth {a[0]}@{a[1]}:{a[2]}"
    ),
    line_only(lambda a: commands.api(a[0]), lambda a: f"api {a[0].strip()}"),
    line_only(lambda a: commands.filter(a[0], a[1]), lambda a: f"filter {a[0]} {a[1]}"),
    line_only(lambda a: commands.getvar(a[0]), lambda a: f"getvar {a[0]}"),
    line_only(
        lambda a: commands.event(
            a[1].split(" ") if a[1] else [],
            format=a[0],  # type: ignore[arg-type]
            subclasses=a[2].split(" ") if a[2] else [],
        ),
        event_line,
    ),
    line_only(
        lambda a: commands.myevents(a[0] or None, a[1] or None),  # type: ignore[arg-type]
        lambda a: " ".join(["myevents", *(x for x in a[:2] if x)]),
    ),
    line_only(lambda a: commands.log(a[0] or None), lambda a: "log" + (f" {a[0]}" if a[0] else "")),
    line_only(lambda a: commands.linger(number(a[0])), lambda a: f"linger {number(a[0])}"),
]


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    arguments = [text(part) for part in data[1:].split(SEPARATOR)]
    arguments += [""] * 8
    build = BUILDERS[data[0] % len(BUILDERS)]
    try:
        frame, (line, headers, body) = build(arguments)
    except LocalProtocolError:
        return
    command = read_back(frame)
    assert command.line == line, (command.line, line)
    assert command.headers.pairs() == headers, (command.headers.pairs(), headers)
    assert command.body == body, (command.body, body)


def seeds() -> list[bytes]:
    """The commands the captures' client sent, as inputs that build them again."""
    found: list[bytes] = []
    for sent in _corpus.sent_commands():
        parser = CommandParser()
        parser.feed(sent)
        for command in parser:
            found.append(_seed_for(command))
    return found


def _seed_for(command: Command) -> bytes:
    def join(index: int, *parts: str) -> bytes:
        return bytes([index]) + SEPARATOR.join(part.encode() for part in parts)

    headers = command.headers
    word, argument = command.name, command.argument
    if word == "sendmsg" and headers.get("call-command") == "execute":
        arg = headers.get("execute-app-arg") or command.body.decode()
        return join(0, headers["execute-app-name"], arg, headers.get("Event-UUID") or "", "")
    if word == "sendmsg" and headers.get("call-command") == "hangup":
        return join(4, headers.get("hangup-cause") or "", argument)
    if word == "sendmsg":
        pairs = [part for pair in headers.raw_pairs() for part in pair]
        return join(1, argument, command.body.decode(), *pairs)
    if word == "bgapi":
        return join(3, argument, headers.get("Job-UUID") or "")
    if word == "event":
        format, _, names = argument.partition(" ")
        return join(10, format, names, "")
    by_word = {"auth": 5, "api": 7, "filter": 8, "getvar": 9, "myevents": 11, "log": 12}
    if word == "linger":
        return join(13, argument)
    return join(by_word.get(word, 7), *argument.split(" ", 1))


def main() -> None:
    _corpus.seed_directory(sys.argv, seeds())
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
