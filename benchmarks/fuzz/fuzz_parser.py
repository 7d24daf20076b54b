"""atheris: the event-socket parsers fed arbitrary bytes in arbitrary chunks.

    benchmarks/.venv-bench/bin/python benchmarks/fuzz/fuzz_parser.py -max_total_time=180 \\
        benchmarks/fuzz/corpus/parser

What must hold for any input (a failure is a crash, and libFuzzer saves the input):

- `Parser`, `CommandParser` and `ivrd esl decode`'s `decode_stream` raise nothing but
  RemoteProtocolError (DecodeError for decode_stream), and read the same messages (and
  offsets) whether the bytes come whole, in random chunks or (short inputs) one byte at a time;
- every event decodes (name, headers, body) or raises RemoteProtocolError;
- a header lookup on a block kept as text (the lazy path) finds what it finds in the split
  lines, and decoding every value at once gives what decoding each value alone gives.

The chunking and the size limits come from a hash of the input, so a saved crash replays.
"""

from __future__ import annotations

import itertools
import random
import sys
import zlib
from pathlib import Path
from typing import Any

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _corpus

with atheris.instrument_imports(include=["ivrd"]):
    from ivrd.esl.decode import DecodeError, decode_stream
    from ivrd.esl.protocol import (
        CommandParser,
        CommandReply,
        DisconnectNotice,
        EventMessage,
        Headers,
        LogData,
        Parser,
        RemoteProtocolError,
    )
    from ivrd.esl.protocol._headers import decode_value

LIMITS: list[dict[str, int]] = [{}, {}, {}, {"max_head_size": 64}, {"max_frame_size": 256}]
BYTEWISE_UP_TO = 512
ABSENT = ("Content-Type", "content_type", "Event-Name", "event-name", "X", "", "a:b", "a\nb")


def chunks_of(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted({0, len(data), *(rng.randrange(len(data) + 1) for _ in range(rng.randrange(9)))})
    return [data[start:end] for start, end in itertools.pairwise(cuts)]


def read_all(parser: Parser | CommandParser, chunks: list[bytes]) -> tuple[list[object], str]:
    messages: list[object] = []
    try:
        for chunk in chunks:
            parser.feed(chunk)
            messages.extend(parser)
        parser.feed_eof()
        messages.extend(parser)
    except RemoteProtocolError:
        return messages, "error"
    return messages, "closed"


def spellings(name: str) -> list[str]:
    return [name, name.lower(), name.upper(), name.replace("-", "_"), name.replace("_", "-")]


def check_headers(lazy: Headers, split: Headers) -> None:
    """`lazy` was only looked into; `split` is the same block, split into lines first."""
    try:
        raw = split.raw_pairs()
    except RemoteProtocolError:
        return  # a malformed line: lookups before the split are not checked against it
    names = [name for name, _ in raw]
    for name in [*dict.fromkeys(names), *ABSENT]:
        for spelling in spellings(name):
            assert lazy.raw(spelling) == split.raw(spelling), (spelling, raw)
            assert lazy.get(spelling) == split.get(spelling), (spelling, raw)
    one_by_one = [(name, decode_value(value)) for name, value in raw]
    if split.encoded:
        assert split.pairs() == one_by_one, raw
    assert lazy.pairs() == split.pairs()


def look_into(message: object) -> None:
    if isinstance(message, CommandReply):
        _ = (message.reply_text, message.ok, message.is_channel_data)
    elif isinstance(message, DisconnectNotice):
        _ = (message.disposition, message.lingering, message.linger_time)
    elif isinstance(message, LogData):
        _ = message.level
    if isinstance(message, EventMessage):
        event = message.event
        try:
            _ = (event.name, event.subclass, event.uuid, event.body, event.get("Unique-ID"))
            event.headers.pairs()
        except RemoteProtocolError:
            pass


def TestOneInput(data: bytes) -> None:
    rng = random.Random(zlib.crc32(data))
    limits = rng.choice(LIMITS)
    chunks = chunks_of(data, rng)

    whole = read_all(Parser(**limits), [data])
    assert read_all(Parser(**limits), chunks) == whole
    if len(data) <= BYTEWISE_UP_TO:
        assert read_all(Parser(**limits), [data[i : i + 1] for i in range(len(data))]) == whole
    split_copy = read_all(Parser(**limits), [data])
    messages: list[Any] = whole[0]
    for message, twin in zip(messages, split_copy[0], strict=True):
        check_headers(message.headers, twin.headers)
        if isinstance(message, EventMessage) and isinstance(twin, EventMessage):
            try:
                lazy, split = message.event.headers, twin.event.headers
            except RemoteProtocolError:
                continue
            check_headers(lazy, split)
        look_into(message)

    commands = read_all(CommandParser(**limits), [data])
    assert read_all(CommandParser(**limits), chunks) == commands

    assert decoded(chunks) == decoded([data])


def decoded(chunks: list[bytes]) -> tuple[list[dict[str, object]], tuple[int, str] | None]:
    """`ivrd esl decode`'s output: the messages, then the error (offset, reason) if any."""
    messages: list[dict[str, object]] = []
    try:
        messages.extend(decode_stream(chunks))
    except DecodeError as error:
        return messages, (error.offset, error.reason)
    return messages, None


def main() -> None:
    _corpus.seed_directory(sys.argv, _corpus.parser_seeds())
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
