"""The annotated captures (`NAME.txt`) read back: each received frame's annotation, each sent block.

A `.txt` capture is the `.raw` bytes with a `### ... <<< RECV frame #n: B bytes (head H + body C)
[type EVENT (app)]` line before each frame and `### end frame #n` after it, interleaved with
`### ... >>> SENT N bytes` blocks holding what the client wrote.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

_RECV = re.compile(
    rb"^### \[t=[^\]\n]*\] <<< RECV frame #(\d+): (\d+) bytes \(head (\d+) \+ body (\d+)\) "
    rb"\[([^\] ]+)(?: ([A-Z_]+)(?: \(([^)]*)\))?)?\]\n(.*?)### end frame #\1\n",
    re.MULTILINE | re.DOTALL,
)
_SENT = re.compile(rb"^### \[t=[^\]\n]*\] >>> SENT (\d+) bytes\n(.*?)### end sent\n", re.M | re.S)
_ANY_RECV = b"<<< RECV frame #"


@dataclass(frozen=True)
class Frame:
    """One received frame as the `.txt` annotates it."""

    number: int
    size: int
    head_size: int
    body_size: int
    content_type: str
    event_name: str | None
    application: str | None
    data: bytes


@dataclass(frozen=True)
class Capture:
    name: str
    raw: bytes
    frames: list[Frame]
    # What the client wrote, and how many frames it had received by then.
    sent: list[tuple[int, bytes]]


@functools.cache
def read_capture(directory: Path, name: str) -> Capture:
    text = (directory / f"{name}.txt").read_bytes()
    matches = list(_RECV.finditer(text))
    frames = []
    for match in matches:
        size, data = int(match[2]), match[8]
        # The annotator ends a frame that does not end in a newline (json events) with one.
        if data[size:] not in (b"", b"\n"):
            raise AssertionError(f"{name}.txt: frame #{match[1]!r} is not {size} bytes long")
        frames.append(
            Frame(
                number=int(match[1]),
                size=size,
                head_size=int(match[3]),
                body_size=int(match[4]),
                content_type=match[5].decode(),
                event_name=match[6].decode() if match[6] else None,
                application=match[7].decode() if match[7] else None,
                data=data[:size],
            )
        )
    # Line 3 describes the format and quotes the marker: every other line with it is a frame.
    marked = sum(1 for line in text.splitlines()[3:] if _ANY_RECV in line)
    numbers = [frame.number for frame in frames]
    if marked != len(frames) or numbers != list(range(1, len(frames) + 1)):
        raise AssertionError(f"{name}.txt: {marked} RECV lines, {len(frames)} frames understood")
    starts = [match.start() for match in matches]
    sent = []
    for match in _SENT.finditer(text):
        if len(match[2]) != int(match[1]):
            raise AssertionError(f"{name}.txt: a SENT block is not {int(match[1])} bytes long")
        sent.append((bisect.bisect(starts, match.start()), match[2]))
    return Capture(name, (directory / f"{name}.raw").read_bytes(), frames, sent)


@pytest.fixture
def capture(captures_dir: Path, capture_name: str) -> Capture:
    """The capture session named by the `capture_name` parameter (one test run per capture)."""
    return read_capture(captures_dir, capture_name)


@pytest.fixture
def load_capture(captures_dir: Path) -> Callable[[str], Capture]:
    """Read one capture session by name (`outbound_session`...)."""
    return functools.partial(read_capture, captures_dir)
