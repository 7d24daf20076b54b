"""A fake call's channel: what the server is told about it, and its live state.

`Channel` is what a test chooses (uuid, caller id, destination, extra variables, SIP or not).
`ChannelState` is the live channel: its FreeSWITCH state, answer state, caller profile and
variables, and the events it fires. Its headers are built from the real `connect` reply of
`outbound_session` (templates/channel_data.txt), with fresh values.
"""

from __future__ import annotations

import importlib.resources
import itertools
import uuid as uuidlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple
from urllib.parse import unquote

from ivrd.esl.protocol import writers
from ivrd.testing.events import EMPTY, Block, EventSource, FakeEvent, Pairs, plain_line

_session_ids = itertools.count(1)
# What writers.channel_data_reply puts after the channel data (its reply with no data).
_CONNECT_REPLY_TAIL = writers.channel_data_reply(())
# Caller-profile fields a variable lookup falls back to (switch_caller_get_field_by_name).
_PROFILE_FIELDS = {
    "caller_id_name": "caller_id_name",
    "caller_id_number": "caller_id_number",
    "ani": "caller_id_number",
    "destination_number": "destination_number",
    "context": "context",
}


@dataclass(frozen=True)
class Channel:
    """The channel a fake call presents to the server in its `connect` reply.

    `variables` are channel variables set before the `socket` application ran (for example by
    the dialplan). `sip=True` adds the SIP variables of a real SIP call (about 7 KB of channel
    data). `answered=True` presents a channel that is already answered (an originated call).
    """

    uuid: str | None = None
    caller_id_number: str = "0000000000"
    caller_id_name: str = ""
    destination_number: str = "ivr1"
    context: str = "default"
    channel_name: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    sip: bool = False
    answered: bool = False


@cache
def _template() -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """The channel data of the captured `connect` reply, and the SIP variables, decoded."""
    base = importlib.resources.files("ivrd.testing") / "templates"

    def load(name: str) -> tuple[tuple[str, str], ...]:
        pairs = []
        for line in (base / name).read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition(": ")
            if sep:
                pairs.append((key, unquote(value)))
        return tuple(pairs)

    return load("channel_data.txt"), load("sip_channel_vars.txt")


def _template_value(name: str) -> str:
    for key, value in _template()[0]:
        if key == name:
            return value
    raise KeyError(name)


@cache
def _codec_variables() -> tuple[tuple[str, str], ...]:
    names = ("read_codec", "read_rate", "write_codec", "write_rate")
    return tuple((name, _template_value(f"variable_{name}")) for name in names)


@cache
def _sip_variables() -> tuple[tuple[str, str], ...]:
    """The SIP variables of a real call, named as channel variables (no `variable_`)."""
    return tuple((key.removeprefix("variable_"), value) for key, value in _template()[1])


_CALLEE_NAME = _template_value("Caller-Callee-ID-Name")
_CALLEE_NUMBER = _template_value("Caller-Callee-ID-Number")


_PROFILE_TIMES = (
    "Profile-Created-Time",
    "Channel-Created-Time",
    "Channel-Answered-Time",
    "Channel-Progress-Time",
    "Channel-Progress-Media-Time",
    "Channel-Hangup-Time",
    "Channel-Transfer-Time",
    "Channel-Resurrect-Time",
    "Channel-Bridged-Time",
    "Channel-Last-Hold",
    "Channel-Hold-Accum",
)
_CODEC = tuple(
    (name, _template_value(name))
    for name in (
        "Channel-Read-Codec-Name",
        "Channel-Read-Codec-Rate",
        "Channel-Read-Codec-Bit-Rate",
        "Channel-Write-Codec-Name",
        "Channel-Write-Codec-Rate",
        "Channel-Write-Codec-Bit-Rate",
    )
)
STATE_NUMBERS = {
    "CS_NEW": 0,
    "CS_INIT": 1,
    "CS_ROUTING": 2,
    "CS_SOFT_EXECUTE": 3,
    "CS_EXECUTE": 4,
    "CS_PARK": 6,
    "CS_HANGUP": 10,
    "CS_REPORTING": 11,
    "CS_DESTROY": 12,
}


class _ProfileParts(NamedTuple):
    head: tuple[tuple[str, str], ...]
    head_plain: str
    times: tuple[str, ...]
    tail: tuple[tuple[str, str], ...]
    tail_plain: str


class ChannelState:
    """The live channel: state, profile and variables, and the events it fires."""

    def __init__(
        self,
        source: EventSource,
        channel: Channel,
        *,
        socket_host: str = "127.0.0.1",
        socket_arg: str = "127.0.0.1:8084 async full",
    ) -> None:
        self.source = source
        self.options = channel
        self.uuid = channel.uuid or str(uuidlib.uuid4())
        loopback = not channel.sip
        if channel.channel_name:
            self.name = channel.channel_name
        elif loopback:
            self.name = f"loopback/{channel.destination_number}-b"
        else:
            self.name = f"sofia/internal/{channel.caller_id_number}@192.0.2.10"
        self.state = "CS_EXECUTE"
        self.state_number = 4
        self.call_state = "RINGING"
        self.answer_state = "ringing"
        self.hangup_cause: str | None = None
        now = source.now_us()
        self.times: dict[str, int] = dict.fromkeys(_PROFILE_TIMES, 0)
        self.times["Profile-Created-Time"] = self.times["Channel-Created-Time"] = now
        self.digits_dialed: list[str] = []
        self.last_app: tuple[str, str] | None = None
        self.variables: dict[str, str] = {}
        self._variable_lines: dict[str, str] = {}
        self._state_block: Block | None = None
        self._profile_block_cache: Block | None = None
        self._profile_cache: dict[str, _ProfileParts] = {}
        self._vars_block: Block | None = None
        other_leg = str(uuidlib.uuid4())
        initial: list[tuple[str, str]] = [
            ("direction", "inbound"),
            ("uuid", self.uuid),
            ("session_id", str(next(_session_ids))),
            ("channel_name", self.name),
        ]
        initial += _codec_variables()
        if channel.sip:
            initial += _sip_variables()
        else:
            initial += [("other_loopback_leg_uuid", other_leg), ("loopback_leg", "B")]
        initial += [
            ("DP_MATCH", f"ARRAY::{channel.destination_number}|:1"),
            ("call_uuid", self.uuid),
        ]
        initial += list(channel.variables.items())
        initial += [
            ("current_application_data", socket_arg),
            ("current_application", "socket"),
            ("socket_host", socket_host),
        ]
        for name, value in initial:
            self.set_var(name, value)
        if channel.answered:
            self.answered_now()
            self.set_state(call_state="ACTIVE")
            self.set_var("endpoint_disposition", "ANSWER")

    # -- state ----------------------------------------------------------------------------

    @property
    def up(self) -> bool:
        return self.hangup_cause is None

    @property
    def answered(self) -> bool:
        return self.times["Channel-Answered-Time"] != 0

    def get_var(self, name: str) -> str | None:
        return self.variables.get(name)

    def lookup(self, name: str, global_variables: Mapping[str, str]) -> str | None:
        """A variable as switch_channel_get_variable_dup finds it: the channel's, a field of
        its caller profile (`caller_id_number`, `uuid`...), or a global variable."""
        value = self.variables.get(name)
        if value is None and name in _PROFILE_FIELDS:
            value = str(getattr(self.options, _PROFILE_FIELDS[name])) or None
        if value is None and name in ("uuid", "chan_name"):
            value = self.uuid if name == "uuid" else self.name
        if value is None:
            value = global_variables.get(name)
        return value

    def set_var(self, name: str, value: str | None) -> None:
        """Set (moving it last, as FreeSWITCH does) or, with None or "", unset a variable."""
        self.variables.pop(name, None)
        self._variable_lines.pop(name, None)
        if value:
            self.variables[name] = value
            self._variable_lines[name] = plain_line(f"variable_{name}", value)
        self._vars_block = None

    def set_time(self, name: str, value: int | None = None) -> None:
        self.times[name] = self.source.now_us() if value is None else value
        self._profile_block_cache = None

    def set_state(
        self,
        *,
        state: str | None = None,
        number: int | None = None,
        call_state: str | None = None,
        answer_state: str | None = None,
    ) -> None:
        if state is not None:
            self.state = state
            self.state_number = STATE_NUMBERS.get(state, self.state_number)
        if number is not None:
            self.state_number = number
        if call_state is not None:
            self.call_state = call_state
        if answer_state is not None:
            self.answer_state = answer_state
        self._state_block = None

    def answered_now(self) -> None:
        """Mark the channel answered (the CHANNEL_ANSWER moment: call state still RINGING)."""
        self.set_time("Channel-Answered-Time")
        self.set_state(answer_state="answered")

    def mark_hangup(self, cause: str) -> None:
        self.hangup_cause = cause
        self.set_state(number=STATE_NUMBERS["CS_HANGUP"], answer_state="hangup")

    # -- header blocks --------------------------------------------------------------------

    def _state(self) -> Block:
        block = self._state_block
        if block is None:
            pairs = [
                ("Channel-State", self.state),
                ("Channel-Call-State", self.call_state),
                ("Channel-State-Number", str(self.state_number)),
                ("Channel-Name", self.name),
                ("Unique-ID", self.uuid),
                ("Call-Direction", "inbound"),
                ("Presence-Call-Direction", "inbound"),
                ("Channel-HIT-Dialplan", "true"),
                ("Channel-Call-UUID", self.uuid),
                ("Answer-State", self.answer_state),
            ]
            if self.hangup_cause is not None:
                pairs.append(("Hangup-Cause", self.hangup_cause))
            pairs += _CODEC
            block = self._state_block = Block(pairs)
        return block

    def _profile_parts(self, prefix: str) -> _ProfileParts:
        """What of the caller profile never changes (all but its times), encoded once."""
        parts = self._profile_cache.get(prefix)
        if parts is not None:
            return parts
        options = self.options
        head = [
            (f"{prefix}-Direction", "inbound"),
            (f"{prefix}-Logical-Direction", "inbound"),
            (f"{prefix}-Dialplan", "xml"),
        ]
        if options.caller_id_name:
            head.append((f"{prefix}-Caller-ID-Name", options.caller_id_name))
        head += [
            (f"{prefix}-Caller-ID-Number", options.caller_id_number),
            (f"{prefix}-Orig-Caller-ID-Number", options.caller_id_number),
            (f"{prefix}-Callee-ID-Name", _CALLEE_NAME),
            (f"{prefix}-Callee-ID-Number", _CALLEE_NUMBER),
            (f"{prefix}-ANI", options.caller_id_number),
            (f"{prefix}-Destination-Number", options.destination_number),
            (f"{prefix}-Unique-ID", self.uuid),
            (f"{prefix}-Source", "mod_sofia" if options.sip else "mod_loopback"),
            (f"{prefix}-Context", options.context),
            (f"{prefix}-Channel-Name", self.name),
            (f"{prefix}-Profile-Index", "1"),
        ]
        tail = (
            (f"{prefix}-Screen-Bit", "true"),
            (f"{prefix}-Privacy-Hide-Name", "false"),
            (f"{prefix}-Privacy-Hide-Number", "false"),
        )
        parts = self._profile_cache[prefix] = _ProfileParts(
            tuple(head),
            "".join(plain_line(name, value) for name, value in head),
            tuple(f"{prefix}-{name}" for name in _PROFILE_TIMES),
            tail,
            "".join(plain_line(name, value) for name, value in tail),
        )
        return parts

    def _profile_block(self, prefix: str) -> Block:
        parts = self._profile_parts(prefix)
        times = self.times
        pairs = [
            (name, str(times[key])) for name, key in zip(parts.times, _PROFILE_TIMES, strict=True)
        ]
        plain = "".join([f"{name}: {value}\n" for name, value in pairs])  # digits: as they are
        plain = parts.head_plain + plain + parts.tail_plain
        return Block((*parts.head, *pairs, *parts.tail), plain=plain)

    def _profile(self) -> Block:
        block = self._profile_block_cache
        if block is None:
            block = self._profile_block_cache = self._profile_block("Caller")
        return block

    def _vars(self) -> Block:
        block = self._vars_block
        if block is None:
            block = self._vars_block = Block.of_variables(
                dict(self.variables), "".join(self._variable_lines.values())
            )
        return block

    def event(
        self,
        name: str,
        extra: Pairs = (),
        *,
        pre: Pairs = (),
        variables: bool = True,
        body: str | None = None,
        subclass: str | None = None,
    ) -> FakeEvent:
        """An event about this channel, with its state, profile and (usually) variables; a
        CUSTOM one with `subclass` (switch_channel_event_set_data on a module's event)."""
        blocks = [self.source.stamp(name, subclass=subclass)]
        if pre:
            blocks.append(Block(pre))
        blocks += [self._state(), self._profile(), self._vars() if variables else EMPTY]
        if extra:
            blocks.append(Block(extra))
        return FakeEvent(name, blocks, uuid=self.uuid, body=body, subclass=subclass)

    def channel_data_blocks(self) -> list[Block]:
        """The headers of the `connect` reply: CHANNEL_DATA with the `Channel-` profile."""
        return [
            self.source.stamp("CHANNEL_DATA"),
            self._profile_block("Channel"),
            self._state(),
            self._profile(),
            self._vars(),
        ]

    def channel_data(self) -> list[tuple[str, str]]:
        return [pair for block in self.channel_data_blocks() for pair in block.pairs]

    def connect_reply(self) -> bytes:
        """The reply to `connect`, from the blocks' encoded texts (`connect_reply`)."""
        return connect_reply(self.channel_data_blocks())

    def dump(self) -> list[tuple[str, str]]:
        """What `uuid_dump` shows: the channel's state, profile and variables."""
        return [
            pair for block in (self._state(), self._profile(), self._vars()) for pair in block.pairs
        ]


def connect_reply(blocks: Sequence[Block]) -> bytes:
    """writers.channel_data_reply of the blocks' headers, byte for byte, but joined from the
    blocks' plain texts: their values are percent-encoded the same way, and mostly already."""
    return "".join([block.plain for block in blocks]).encode() + _CONNECT_REPLY_TAIL
