"""Reading the FreeSWITCH captures: what the client sent (and when), what came back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ivrd.esl.protocol import Message, Parser

CAPTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "esl-captures"
_MARK = re.compile(rb"^### \[t=\+([0-9.]+)s\] (>>> SENT (\d+) bytes|<<< RECV frame #\d+)", re.M)


@dataclass(frozen=True)
class Sent:
    """A block the capture's client wrote, after `frames_before` frames had arrived."""

    at: float
    frames_before: int
    data: bytes


def sent_blocks(name: str) -> list[Sent]:
    text = (CAPTURES / f"{name}.txt").read_bytes()
    blocks = []
    frames = 0
    for match in _MARK.finditer(text):
        if match.group(3) is None:
            frames += 1
            continue
        start = text.index(b"\n", match.end()) + 1
        size = int(match.group(3))
        blocks.append(Sent(float(match.group(1)), frames, text[start : start + size]))
    return blocks


def frames(name: str) -> list[Message]:
    parser = Parser()
    parser.feed((CAPTURES / f"{name}.raw").read_bytes())
    parser.feed_eof()
    return list(parser)
