"""Seed corpora for the atheris harnesses, from the real captures and the repository's flows.

A harness given a corpus directory that is missing or empty fills it first (`seed_directory`),
so one command starts a run from real inputs:

  - parser: every distinct frame FreeSWITCH sent in ../shared/esl-captures (`*.raw`), and each
    pair of consecutive frames, so the fuzzer starts from framing that is right;
  - flow loader: every flow of flows/ (subflows included) and every broken flow of
    tests/flow/broken/;
  - commands: every command the captures' client sent (the `>>> SENT` blocks of `*.txt`), as
    the builder call that makes it, in fuzz_commands' input format.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CAPTURES = REPO / ".." / "shared" / "esl-captures"
MAX_SEED = 8192
"""Bytes: a longer seed would make libFuzzer's default input length needlessly large."""
_SENT = re.compile(rb"^### \[t=[^\]\n]*\] >>> SENT (\d+) bytes\n(.*?)### end sent\n", re.M | re.S)


def corpus_argument(argv: list[str]) -> Path | None:
    """The first corpus directory on a libFuzzer command line (the one it writes to)."""
    for argument in argv[1:]:
        if not argument.startswith("-"):
            return Path(argument)
    return None


def seed_directory(argv: list[str], seeds: Iterable[bytes]) -> None:
    """Fill the corpus directory named in `argv` with `seeds` if it is missing or empty."""
    directory = corpus_argument(argv)
    if directory is None or (directory.is_dir() and any(directory.iterdir())):
        return
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for seed in seeds:
        if len(seed) <= MAX_SEED:
            (directory / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
            count += 1
    print(f"seeded {directory} with {count} inputs", file=sys.stderr)


def capture_frames() -> Iterator[bytes]:
    """Each frame of every capture, as the bytes FreeSWITCH sent (framing found by the parser,
    which the captures' own tests hold to the annotations)."""
    from ivrd.esl.protocol import Parser, Sentinel

    for path in sorted(CAPTURES.glob("*.raw")):
        data = path.read_bytes()
        parser = Parser()
        parser.feed(data)
        start = 0
        while not isinstance(parser.next_message(), Sentinel):
            end = len(data) - parser.buffered
            yield data[start:end]
            start = end


def parser_seeds() -> Iterator[bytes]:
    seen: set[bytes] = set()
    previous = b""
    for frame in capture_frames():
        for seed in (frame, previous + frame):
            if seed not in seen:
                seen.add(seed)
                yield seed
        previous = frame


def flow_seeds() -> Iterator[bytes]:
    for directory in (REPO / "flows", REPO / "tests" / "flow" / "broken"):
        for path in sorted(directory.rglob("*.yaml")):
            if not path.name.endswith(".test.yaml"):
                yield path.read_bytes()


def sent_commands() -> Iterator[bytes]:
    """Every command block a capture's client wrote, as written."""
    for path in sorted(CAPTURES.glob("*.txt")):
        for match in _SENT.finditer(path.read_bytes()):
            yield match[2]
