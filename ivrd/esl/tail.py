"""Following FreeSWITCH's events from the command line (`ivrd events`), like fs_cli's `/event`.

The library side only: which subscription a list of `--event`/`--filter` options means, and
how an event reads as text or as one JSON line. The CLI does the printing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from anyio.streams.memory import MemoryObjectReceiveStream

from ivrd.esl.errors import ArgumentError
from ivrd.esl.inbound import InboundClient
from ivrd.esl.protocol import Event


def parse_filter(text: str) -> tuple[str, str]:
    """`HEADER=VALUE` as given on the command line."""
    header, sep, value = text.partition("=")
    if not sep or not header or not value or " " in header:
        raise ArgumentError(f"a filter is HEADER=VALUE (e.g. Caller-Context=default), not {text!r}")
    return header, value


def split_event_names(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """Event names and CUSTOM subclasses: `sofia::register` is a subclass."""
    events: list[str] = []
    subclasses: list[str] = []
    for name in names:
        (subclasses if "::" in name else events).append(name if "::" in name else name.upper())
    return events or ([] if subclasses else ["ALL"]), subclasses


@asynccontextmanager
async def follow_events(
    host: str,
    port: int,
    password: str,
    *,
    events: Iterable[str] = (),
    filters: Iterable[tuple[str, str]] = (),
) -> AsyncIterator[MemoryObjectReceiveStream[Event]]:
    """Connect, subscribe, and yield the stream of events; it ends if FreeSWITCH goes away."""
    names, subclasses = split_event_names(events)
    client = InboundClient(
        host,
        port,
        password,
        events=names,
        subclasses=subclasses,
        filters=filters,
        reconnect=False,
    )
    # Subscribed before connecting, so no event between `event` and the stream is lost.
    async with client.events() as stream, client:
        yield stream


def format_event(event: Event, *, as_json: bool = False) -> str:
    """fs_cli's layout (`Name: value` lines, the body after a blank line), or one JSON line."""
    pairs = event.headers.pairs()
    if as_json:
        data: dict[str, str | list[str]] = {}
        for name, value in pairs:
            previous = data.get(name)
            if previous is None:
                data[name] = value
            elif isinstance(previous, list):
                previous.append(value)
            else:
                data[name] = [previous, value]
        if event.body is not None:
            data["_body"] = event.body
        return json.dumps(data, ensure_ascii=False)
    text = "".join(f"{name}: {value}\n" for name, value in pairs)
    if event.body:
        text += f"\n{event.body.rstrip(chr(10))}\n"
    return text
