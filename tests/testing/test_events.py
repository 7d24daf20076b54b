"""Event encoding: the fake's fast paths agree with the protocol package, and frames parse."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivrd.esl.protocol import EventMessage, Parser, writers
from ivrd.testing.channel import Channel, ChannelState, connect_reply
from ivrd.testing.events import Block, EventSource, FakeEvent, json_string, plain_value
from ivrd.testing.subscription import Subscription

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,20}", fullmatch=True)
values = st.text(max_size=40)


@given(values)
def test_plain_values_are_encoded_as_the_writers_encode_them(value: str) -> None:
    assert plain_value(value) == writers.encode_value(value)


def test_encoded_values_are_remembered_and_stay_right() -> None:
    value = "sip:+4930123456@192.0.2.10;transport=udp"
    assert plain_value(value) == plain_value(value) == writers.encode_value(value)


@given(values)
def test_json_strings_are_what_json_dumps_writes(value: str) -> None:
    assert json_string(value) == json.dumps(value, ensure_ascii=False)


# FreeSWITCH writes an empty value as `_undef_` (plain and XML): a value that is `_undef_`
# itself reads back as empty, by the format's own design (hypothesis finds the constant).
header_values = values.filter(lambda v: "\r" not in v and v != "_undef_")


@settings(max_examples=50)
@given(st.lists(st.tuples(names, header_values), max_size=8), values)
@pytest.mark.parametrize("format", ["plain", "json", "xml"])
def test_frames_parse_back(format: str, pairs: list[tuple[str, str]], body: str) -> None:
    event = FakeEvent("CUSTOM", [Block([("Event-Name", "CUSTOM"), *pairs])], body=body or None)
    parser = Parser()
    parser.feed(event.frame(format))  # type: ignore[arg-type]
    message = next(iter(parser))
    assert isinstance(message, EventMessage)
    decoded = message.event
    assert decoded.name == "CUSTOM"
    for name, value in pairs:
        if value.startswith("ARRAY::") and format == "json":
            continue
        assert value in decoded.headers.get_all(name)
    if body and format != "xml":
        assert decoded.body == body


def test_plain_frame_matches_the_writer() -> None:
    pairs = [("Event-Name", "CUSTOM"), ("a", "x y"), ("variable_DP_MATCH", "ARRAY::1|:2")]
    event = FakeEvent("CUSTOM", [Block(pairs)], body="hello\n")
    assert event.frame("plain") == writers.event_plain(pairs, "hello\n")
    assert event.frame("json") == writers.event_json(pairs, "hello\n")


def test_filters_follow_mod_event_socket() -> None:
    sub = Subscription()
    sub.event_command(["plain", "ALL"])
    sub.filter_command("Caller-Number 100")
    sub.filter_command("Caller-Number -200")
    sub.filter_command("Other /^ab/")

    def wants(**headers: str) -> bool:
        pairs = [(k.replace("_", "-"), v) for k, v in headers.items()]
        return sub.wants(FakeEvent("CUSTOM", [Block([("Event-Name", "CUSTOM"), *pairs])]))

    assert wants(Caller_Number="100")
    assert not wants(Caller_Number="200")
    assert not wants(Caller_Number="300")
    assert wants(Other="abc")
    assert not wants(Unrelated="x")


def test_a_variables_block_names_its_headers_only_when_asked() -> None:
    variables = {"a": "1", "b": "x y"}
    block = Block.of_variables(variables, "variable_a: 1\nvariable_b: x%20y\n")
    assert block
    assert not Block.of_variables({}, "")
    assert block.pairs == (("variable_a", "1"), ("variable_b", "x y"))
    assert block.plain == Block(block.pairs).plain


@pytest.mark.anyio
async def test_channel_frames_and_the_connect_reply_match_the_writers() -> None:
    channel = Channel(sip=True, variables={"odd": "a b%c\u00e9,+", "gone": "x"})
    state = ChannelState(EventSource(), channel)
    state.set_var("gone", None)
    state.set_var("caller_note", "")  # empty: never set
    event = state.event("CHANNEL_EXECUTE", [("Application", "playback")])
    assert event.frame("plain") == writers.event_plain(event.pairs())
    assert event.frame("json") == writers.event_json(event.pairs())
    assert event.get("variable_gone") is None
    # The event keeps the variables it was fired with.
    state.set_var("odd", "changed")
    assert event.get("variable_odd") == "a b%c\u00e9,+"
    assert state.event("CHANNEL_STATE").get("variable_odd") == "changed"
    blocks = state.channel_data_blocks()
    pairs = [pair for block in blocks for pair in block.pairs]
    assert connect_reply(blocks) == writers.channel_data_reply(pairs)
