"""How fast ivrd's event-socket parser is, against floors measured on the same bytes, same run.

    python benchmarks/bench_parser.py [--events 20000] [--repeat 3]

The events are every event of the real FreeSWITCH captures (../shared/esl-captures), the
plain ones and the json ones apart, with the SIP channel variables of a real SIP call
(sip_channel_vars_switchio.txt) added to each event that carries channel variables, as it
would on a SIP call, then repeated to --events frames. Measured, best of --repeat runs:

  f1  the bytes split on blank lines (`data.split(b"\\n\\n")`): no parser can frame faster
  f2  the tightest plain-Python full decode: frames, lines, partition, unquote every value
  a   ivrd's Parser, framing only: every message out, no event looked into
  b   a, plus each event's name and 5 typical headers, decoded: what the daemon does
  c   a, plus every header of every event decoded; checked equal to f2, value for value

Issue 2's target: a or b at least a third of f1's speed.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from ivrd.esl.protocol import EventMessage, Parser, writers

CAPTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "esl-captures"
SIP_VARS = CAPTURES / "sip_channel_vars_switchio.txt"
CHUNK = 65536  # what one recv() of a busy socket gives
# What the daemon reads of an event besides its name.
TYPICAL = ("Unique-ID", "Application", "Application-UUID", "Application-Response", "DTMF-Digit")


def captured_events() -> tuple[list[EventMessage], list[EventMessage]]:
    plain: list[EventMessage] = []
    json_events: list[EventMessage] = []
    for path in sorted(CAPTURES.glob("*.raw")):
        parser = Parser()
        parser.feed(path.read_bytes())
        for message in parser:
            if isinstance(message, EventMessage):
                (plain if message.event.format == "plain" else json_events).append(message)
    return plain, json_events


def enrich_plain(message: EventMessage, sip_lines: bytes) -> bytes:
    """The event's frame with the SIP variables before its first channel variable."""
    body = message.body
    at = body.find(b"\nvariable_")
    if at >= 0:
        body = body[: at + 1] + sip_lines + body[at + 1 :]
    return f"Content-Length: {len(body)}\nContent-Type: text/event-plain\n\n".encode() + body


def enrich_json(message: EventMessage, sip_pairs: list[tuple[str, str]]) -> bytes:
    event = message.event
    pairs = event.headers.pairs()
    if event.body:
        pairs = pairs[:-1]  # the writer adds the event's own Content-Length again
    first = next((i for i, (name, _) in enumerate(pairs) if name.startswith("variable_")), None)
    if first is not None:
        pairs[first:first] = sip_pairs
    return writers.event_json(pairs, event.body)


def replicate(frames: list[bytes], count: int) -> bytes:
    return b"".join(frames[i % len(frames)] for i in range(count))


# The floors


def f1_split(data: bytes) -> int:
    return len(data.split(b"\n\n"))


def f2_plain_full_decode(data: bytes) -> list[list[tuple[str, str]]]:
    events: list[list[tuple[str, str]]] = []
    find = data.find
    pos = 0
    while True:
        end = find(b"\n\n", pos)
        if end < 0:
            return events
        at = find(b"Content-Length: ", pos, end) + 16
        stop = end + 2 + int(data[at : find(b"\n", at, end + 1)])
        head = data[end + 2 : stop].decode().partition("\n\n")[0]
        pairs = []
        for line in head.split("\n"):
            name, _, value = line.partition(": ")
            pairs.append((name, "" if value == "_undef_" else unquote(value)))
        events.append(pairs)
        pos = stop


def f2_json_full_decode(data: bytes) -> list[list[tuple[str, str]]]:
    events: list[list[tuple[str, str]]] = []
    find = data.find
    pos = 0
    while True:
        end = find(b"\n\n", pos)
        if end < 0:
            return events
        at = find(b"Content-Length: ", pos, end) + 16
        stop = end + 2 + int(data[at : find(b"\n", at, end + 1)])
        pairs: list[tuple[str, str]] = []
        for name, value in json.loads(data[end + 2 : stop], object_pairs_hook=list):
            if name == "_body":
                continue
            if isinstance(value, list):
                value = "ARRAY::" + "|:".join(value)
            pairs.append((name, value))
        events.append(pairs)
        pos = stop


# ivrd


def a_framing(chunks: list[bytes]) -> int:
    parser = Parser()
    count = 0
    for chunk in chunks:
        parser.feed(chunk)
        for _ in parser:
            count += 1
    return count


def b_typical(chunks: list[bytes]) -> int:
    parser = Parser()
    found = 0
    for chunk in chunks:
        parser.feed(chunk)
        for message in parser:
            if isinstance(message, EventMessage):
                event = message.event
                found += bool(event.name)
                get = event.get
                for name in TYPICAL:
                    found += get(name) is not None
    return found


def c_full_decode(chunks: list[bytes]) -> list[list[tuple[str, str]]]:
    parser = Parser()
    events = []
    for chunk in chunks:
        parser.feed(chunk)
        for message in parser:
            if isinstance(message, EventMessage):
                events.append(message.event.headers.pairs())
    return events


def best_time(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(
    title: str,
    frames: list[bytes],
    count: int,
    repeat: int,
    f2: Callable[[bytes], list[list[tuple[str, str]]]],
) -> None:
    data = replicate(frames, count)
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    megabytes = len(data) / 1e6
    print(
        f"{title}: {count} events from {len(frames)} captured, {megabytes:.1f} MB, "
        f"{len(data) / count / 1000:.1f} KB per event on average"
    )

    if a_framing(chunks) != count:
        raise SystemExit(f"{title}: the parser did not find {count} frames")
    decoded, floor = c_full_decode(chunks), f2(data)
    if decoded != floor:
        differ = [
            i for i, pair in enumerate(zip(decoded, floor, strict=False)) if pair[0] != pair[1]
        ]
        raise SystemExit(f"{title}: c and f2 disagree, first at event {differ[:1]}")

    results = {
        "f1": ("split on blank lines", best_time(lambda: f1_split(data), repeat)),
        "f2": ("plain-Python full decode", best_time(lambda: f2(data), repeat)),
        "a": ("Parser, framing only", best_time(lambda: a_framing(chunks), repeat)),
        "b": ("Parser + name + 5 headers", best_time(lambda: b_typical(chunks), repeat)),
        "c": ("Parser + every header", best_time(lambda: c_full_decode(chunks), repeat)),
    }
    f1, f2_time = results["f1"][1], results["f2"][1]
    print(f"  {'':31}{'events/s':>11}{'MB/s':>9}{'vs f1':>8}{'vs f2':>8}")
    for key, (what, seconds) in results.items():
        print(
            f"  {key:3}{what:28}{count / seconds:11,.0f}{megabytes / seconds:9.1f}"
            f"{f1 / seconds:8.2f}{f2_time / seconds:8.2f}"
        )
    met = " and ".join(key for key in ("a", "b") if f1 / results[key][1] >= 1 / 3)
    print(f"  target (a or b at least 1/3 of f1): {'met by ' + met if met else 'NOT met'}")
    print(f"  c equals f2 value for value: yes ({sum(map(len, decoded)):,} headers)\n")


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--events", type=int, default=20_000)
    options.add_argument("--repeat", type=int, default=3)
    args = options.parse_args()

    sip_lines = SIP_VARS.read_bytes()
    sip_pairs = [
        (name, unquote(value))
        for name, _, value in (line.partition(": ") for line in sip_lines.decode().splitlines())
    ]
    plain, json_events = captured_events()
    print(f"Python {sys.version.split()[0]}; feeding {CHUNK}-byte chunks; best of {args.repeat}\n")
    measure(
        "text/event-plain",
        [enrich_plain(m, sip_lines) for m in plain],
        args.events,
        args.repeat,
        f2_plain_full_decode,
    )
    measure(
        "text/event-json",
        [enrich_json(m, sip_pairs) for m in json_events],
        args.events,
        args.repeat,
        f2_json_full_decode,
    )


if __name__ == "__main__":
    main()
