"""Events as the fake FreeSWITCH fires them, encoded once per wire format.

An event is a tuple of header blocks. Most blocks (a channel's caller profile, its state, its
variables) are shared by many events and only change now and then, so each block encodes its
text for `text/event-plain` and `text/event-json` the first time it is asked for and keeps
it: building a frame is then a handful of string joins, which is what lets one process drive a
thousand calls. A block never changes; the channel replaces it when a value changes.

The encodings follow the captures: plain values are percent-encoded exactly as
`ivrd.esl.protocol.writers.encode_value` does (`_undef_` for an empty value); JSON keeps repeated
headers as repeated keys (as FreeSWITCH's cJSON serializer does) and turns an `ARRAY::a|:b`
value into a JSON array.
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid as uuidlib
from collections.abc import Iterable, Sequence
from email.utils import formatdate
from typing import Literal

import anyio

from ivrd.esl.protocol import writers

EventFormat = Literal["plain", "json", "xml"]
Pairs = Sequence[tuple[str, str]]

# Characters `encode_value` leaves alone; anything else sends a value down the slow path.
_PLAIN_SAFE = "".join(
    chr(code) for code in range(33, 127) if chr(code) not in '#%&+:;<=>?@[\\]^`{|}"'
)
_NEEDS_PERCENT = re.compile("[^" + re.escape(_PLAIN_SAFE) + "]")
_NEEDS_JSON_ESCAPE = re.compile(r'["\\\x00-\x1f]')

_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# Where FreeSWITCH fires each event from (Event-Calling-File/-Function/-Line-Number).
CALLING: dict[str, tuple[str, str, int]] = {
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", 2029),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", 617),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", 1213),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2949),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2972),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3848),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3457),
    "CHANNEL_PROGRESS_MEDIA": (
        "switch_channel.c",
        "switch_channel_perform_mark_pre_answered",
        3637,
    ),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3447),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", 2409),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", 302),
    "CHANNEL_HANGUP_COMPLETE": (
        "switch_core_state_machine.c",
        "switch_core_session_reporting_state",
        943,
    ),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", 1588),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", 1076),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", 1169),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", 678),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", 1649),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", 2023),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", 1253),
    "RECORD_STOP": ("switch_ivr_async.c", "record_callback", 1375),
    "PRIVATE_COMMAND": ("switch_ivr.c", "switch_ivr_parse_next_event", 867),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", 1580),
    "API": ("switch_loadable_module.c", "switch_api_execute", 3140),
    "CUSTOM": ("mod_event_socket.c", "parse_command", 2330),
}


# Values as encoded: a call's variables (SIP URIs, `+` numbers, application names) are the same
# in every call and in every event, and encoding them again was most of an event's cost.
_ENCODED: dict[str, str] = {}
_ENCODED_MAX = 50_000


@functools.cache
def _calling(name: str) -> tuple[str, tuple[tuple[str, str], ...], str]:
    """An event name's `Event-Name` line, and its Event-Calling-* headers and their lines."""
    file, function, line = CALLING.get(name, ("switch_event.c", "switch_event_fire", 2000))
    calling = (
        ("Event-Calling-File", file),
        ("Event-Calling-Function", function),
        ("Event-Calling-Line-Number", str(line)),
    )
    lines = "".join(plain_line(key, value) for key, value in calling)
    return plain_line("Event-Name", name), calling, lines


def plain_value(value: str) -> str:
    """`value` as FreeSWITCH writes it in `text/event-plain` (percent-encoded)."""
    encoded = _ENCODED.get(value)
    if encoded is None:
        if value and _NEEDS_PERCENT.search(value) is None:
            encoded = value
        else:
            encoded = writers.encode_value(value)
        if len(_ENCODED) >= _ENCODED_MAX:
            _ENCODED.clear()
        _ENCODED[value] = encoded
    return encoded


def plain_line(name: str, value: str) -> str:
    return f"{name}: {plain_value(value)}\n"


def json_string(value: str) -> str:
    """`value` as a JSON string, as cJSON (and `writers.event_json`) print it."""
    if _NEEDS_JSON_ESCAPE.search(value) is None:
        return f'"{value}"'
    return json.dumps(value, ensure_ascii=False)


def _json_member(name: str, value: str) -> str:
    if value.startswith("ARRAY::"):
        items = value[7:].split("|:")
        return json_string(name) + ":[" + ",".join(json_string(item) for item in items) + "]"
    return json_string(name) + ":" + json_string(value)


class Block:
    """An immutable run of headers with its plain and JSON encodings, computed once.

    A channel's variables block is built from a snapshot of its variables and makes its pairs
    only when asked: a `text/event-plain` frame needs the encoded text alone, and naming two
    hundred variables again for every event was most of the fake's work per event.
    """

    __slots__ = ("_json", "_pairs", "_plain", "_variables")

    def __init__(self, pairs: Iterable[tuple[str, str]], *, plain: str | None = None) -> None:
        self._pairs: tuple[tuple[str, str], ...] | None = tuple(pairs)
        self._variables: dict[str, str] | None = None
        self._plain = plain
        self._json: str | None = None

    @classmethod
    def of_variables(cls, variables: dict[str, str], plain: str) -> Block:
        """The `variable_NAME` headers of `variables` (which the block keeps: pass a copy)."""
        block = cls((), plain=plain)
        block._pairs = None
        block._variables = variables
        return block

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        pairs = self._pairs
        if pairs is None:
            assert self._variables is not None
            pairs = self._pairs = tuple(
                (f"variable_{name}", value) for name, value in self._variables.items()
            )
        return pairs

    def __bool__(self) -> bool:
        return bool(self._pairs if self._pairs is not None else self._variables)

    @property
    def plain(self) -> str:
        text = self._plain
        if text is None:
            text = self._plain = "".join([plain_line(name, value) for name, value in self.pairs])
        return text

    @property
    def json(self) -> str:
        text = self._json
        if text is None:
            text = self._json = ",".join(_json_member(name, value) for name, value in self.pairs)
        return text


EMPTY = Block(())


class FakeEvent:
    """One fired event: its name, the channel it is about, its header blocks and body."""

    __slots__ = ("_frames", "_index", "blocks", "body", "name", "subclass", "uuid")

    def __init__(
        self,
        name: str,
        blocks: Sequence[Block],
        *,
        uuid: str | None = None,
        subclass: str | None = None,
        body: str | None = None,
    ) -> None:
        self.name = name
        self.blocks = tuple(block for block in blocks if block)
        self.uuid = uuid
        self.subclass = subclass
        self.body = body
        self._frames: dict[str, bytes] = {}
        self._index: dict[str, str] | None = None

    def pairs(self) -> list[tuple[str, str]]:
        return [pair for block in self.blocks for pair in block.pairs]

    def get(self, header: str) -> str | None:
        """The first value of `header`, case-insensitively (as switch_event_get_header)."""
        index = self._index
        if index is None:
            index = {}
            for name, value in self.pairs():
                index.setdefault(name.lower(), value)
            self._index = index
        return index.get(header.lower())

    def frame(self, format: EventFormat) -> bytes:
        """The complete frame for a listener in `format`, built once per format."""
        cached = self._frames.get(format)
        if cached is not None:
            return cached
        if format == "plain":
            payload = "".join([block.plain for block in self.blocks])
            if self.body:
                data = self.body.encode()
                raw = (payload + f"Content-Length: {len(data)}\n\n").encode() + data
            else:
                raw = (payload + "\n").encode()
            frame = f"Content-Length: {len(raw)}\nContent-Type: text/event-plain\n\n".encode() + raw
        elif format == "json":
            members = [block.json for block in self.blocks]
            if self.body:
                members.append(f'"Content-Length":"{len(self.body.encode())}"')
                members.append('"_body":' + json_string(self.body))
            raw = ("{" + ",".join(members) + "}").encode()
            frame = f"Content-Length: {len(raw)}\nContent-Type: text/event-json\n\n".encode() + raw
        else:
            pairs = [(name, value) for name, value in self.pairs() if _XML_NAME.fullmatch(name)]
            body = _NOT_XML.sub("", self.body) if self.body else self.body
            frame = writers.event_xml(pairs, body)
        self._frames[format] = frame
        return frame

    def __repr__(self) -> str:
        return f"<FakeEvent {self.name}{' ' + self.subclass if self.subclass else ''} {self.uuid}>"


class EventSource:
    """Stamps events as one switch: its identity, the event dates and the global sequence."""

    def __init__(
        self,
        *,
        core_uuid: str | None = None,
        hostname: str = "fakeswitch",
        ipv4: str = "192.0.2.2",
        ipv6: str = "fd00::2",
        first_sequence: int = 1,
    ) -> None:
        self.core_uuid = core_uuid or str(uuidlib.uuid4())
        self.identity: tuple[tuple[str, str], ...] = (
            ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", hostname),
            ("FreeSWITCH-Switchname", hostname),
            ("FreeSWITCH-IPv4", ipv4),
            ("FreeSWITCH-IPv6", ipv6),
        )
        self.hostname = hostname
        self._identity_plain = "".join(plain_line(name, value) for name, value in self.identity)
        self._sequence = first_sequence - 1
        self._offset: float | None = None
        self._second = -1
        self._dates: tuple[str, str] = ("", "")
        self._dates_plain = ""
        self.started = 0.0

    def now(self) -> float:
        """Seconds since the epoch, following the event loop's clock (MockClock included)."""
        loop_now = anyio.current_time()
        if self._offset is None:
            self._offset = time.time() - loop_now
            self.started = loop_now
        return self._offset + loop_now

    def now_us(self) -> int:
        return int(self.now() * 1_000_000)

    def uptime(self) -> float:
        self.now()
        return anyio.current_time() - self.started

    def dates(self, epoch: float) -> tuple[str, str]:
        second = int(epoch)
        if second != self._second:
            self._second = second
            local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            self._dates = (local, formatdate(second, usegmt=True))
            self._dates_plain = plain_line("Event-Date-Local", self._dates[0]) + plain_line(
                "Event-Date-GMT", self._dates[1]
            )
        return self._dates

    def stamp(self, name: str, *, subclass: str | None = None) -> Block:
        """The headers every event starts with, Event-Name through Event-Sequence."""
        epoch = self.now()
        local, gmt = self.dates(epoch)
        name_line, calling, calling_lines = _calling(name)
        self._sequence += 1
        timestamp = str(int(epoch * 1_000_000))
        sequence = str(self._sequence)
        head: list[tuple[str, str]] = []
        plain = ""
        if subclass is not None:
            head.append(("Event-Subclass", subclass))
            plain = plain_line("Event-Subclass", subclass)
        head.append(("Event-Name", name))
        head += self.identity
        head += [("Event-Date-Local", local), ("Event-Date-GMT", gmt)]
        head.append(("Event-Date-Timestamp", timestamp))
        head += calling
        head.append(("Event-Sequence", sequence))
        # Built from pieces encoded once (the dates once a second); digits need no encoding.
        plain += name_line + self._identity_plain + self._dates_plain
        plain += f"Event-Date-Timestamp: {timestamp}\n{calling_lines}Event-Sequence: {sequence}\n"
        return Block(head, plain=plain)

    def event(
        self,
        name: str,
        headers: Pairs = (),
        *,
        subclass: str | None = None,
        body: str | None = None,
        uuid: str | None = None,
    ) -> FakeEvent:
        """An event that is not about a channel (API, BACKGROUND_JOB, CUSTOM ...)."""
        return FakeEvent(
            name,
            (self.stamp(name, subclass=subclass), Block(headers)),
            uuid=uuid,
            subclass=subclass,
            body=body,
        )
