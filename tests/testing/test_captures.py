"""Replay each outbound capture's client against the fake: the same frames must come back.

The capture's client sends each block after the number of frames it had received by then;
the fake's answer is compared frame by frame with what the real FreeSWITCH sent, modulo uuids,
timestamps and sequence numbers (event names, applications, responses, causes, DTMF, replies,
notices are compared; `Application-UUID` too, since the client sends the same `Event-UUID`s).
"""

from __future__ import annotations

import anyio
import pytest

from ivrd.esl.protocol import EventMessage, Message
from ivrd.testing import Caller, FakeFreeSWITCH, HangUp, ParkAtCommand, Press
from ivrd.testing.outbound import Park

from .captures import CAPTURES, frames, sent_blocks
from .client import RawClient, outbound_server

pytestmark = pytest.mark.anyio

HANG_UP_MID_PLAYBACK = Caller(script=[HangUp(during="playback", delay=0.3)])
SCENARIOS: dict[str, tuple[Caller, Park]] = {
    "outbound_session": (Caller(), 0.02),
    "outbound_session_json": (Caller(), 0.02),
    "outbound_hangup_midplayback": (HANG_UP_MID_PLAYBACK, 0.02),
    # FreeSWITCH parked while reading the 3rd command, so CHANNEL_PARK beat its +OK.
    "outbound_hangup_midplayback_nolinger": (HANG_UP_MID_PLAYBACK, ParkAtCommand(3)),
    # Parked before `myevents`: the socket never saw CHANNEL_PARK.
    "outbound_pagd_recv_dtmf": (
        Caller(script=[Press("1234#", during="play_and_get_digits", delay=0.3, interval=0)]),
        ParkAtCommand(0),
    ),
    "outbound_pagd_send_dtmf": (
        Caller(
            script=[
                Press(
                    "5678#", during="play_and_get_digits", delay=0.3, interval=0, source="UNKNOWN"
                )
            ]
        ),
        0.02,
    ),
    "outbound_errors": (Caller(), ParkAtCommand(6)),
    "outbound_hangup_midplayback_linger5": (HANG_UP_MID_PLAYBACK, 0.02),
}
EVENT_FIELDS = (
    "Application",
    "Application-Response",
    "Hangup-Cause",
    "Answer-State",
    "Channel-State",
    "Channel-Call-State",
    "DTMF-Digit",
    "DTMF-Source",
    "variable_read_result",
    "variable_read_terminator_used",
    "variable_pagd_digits",
    "variable_playback_terminator_used",
)


def signature(message: Message) -> tuple[str | None, ...]:
    if isinstance(message, EventMessage):
        event = message.event
        app_uuid = event.get("Application-UUID") if event.get("Application") != "socket" else ""
        fields = tuple(event.get(name) for name in EVENT_FIELDS)
        return (message.content_type, event.name, *fields, app_uuid)
    headers = message.headers
    if "Event-Name" in headers:
        return (message.content_type, "CHANNEL_DATA")
    body = "" if message.content_type == "api/response" else message.text
    return (
        message.content_type,
        headers.get("Reply-Text"),
        headers.get("Content-Disposition"),
        headers.get("Linger-Time"),
        body,
    )


def header_names(message: Message) -> list[str]:
    """Every header name of a frame (an event's own headers for events), in order."""
    pairs = message.event.headers.raw_pairs() if isinstance(message, EventMessage) else []
    pairs = pairs or message.headers.raw_pairs()
    # Some captured calls were originated with an origination_uuid; ours are not.
    return [key for key, _ in pairs if key != "variable_origination_uuid"]


async def replay(name: str) -> tuple[list[Message], float, FakeFreeSWITCH]:
    caller, park = SCENARIOS[name]
    blocks = sent_blocks(name)
    received: list[Message] = []

    async def client(peer: RawClient) -> None:
        for block in blocks:
            while len(peer.received) < block.frames_before:
                await peer.receive()
            await peer.send(block.data)
        await peer.until_closed()
        received.extend(peer.received)

    fake = FakeFreeSWITCH(park=park)
    with anyio.fail_after(60):
        async with outbound_server(client) as port:
            record = await fake.call("127.0.0.1", port, caller)
    assert record.closed_at is not None
    return received, record.close_after_hangup or 0.0, fake


@pytest.mark.parametrize("name", [name for name in SCENARIOS if not name.endswith("linger5")])
async def test_fake_sends_what_freeswitch_sent(name: str) -> None:
    received, _, _ = await replay(name)
    captured = frames(name)
    assert [signature(m) for m in received] == [signature(m) for m in captured]
    for ours, theirs in zip(received, captured, strict=True):
        assert header_names(ours) == header_names(theirs), signature(theirs)


@pytest.mark.parametrize("anyio_backend", ["trio"], indirect=True)
async def test_linger_5_closes_5_5_seconds_after_hangup() -> None:
    name = "outbound_hangup_midplayback_linger5"
    received, close_after_hangup, _ = await replay(name)
    assert [signature(m) for m in received] == [signature(m) for m in frames(name)]
    assert close_after_hangup == pytest.approx(5.5)


async def test_headers_match_the_capture() -> None:
    """Every frame's headers (the connect reply's, each event's, variables included) are those
    FreeSWITCH sent, in its order; fixed replies are byte-identical."""
    name = "outbound_hangup_midplayback"
    received, _, _ = await replay(name)
    captured = frames(name)

    for ours, theirs in zip(received, captured, strict=True):
        assert header_names(ours) == header_names(theirs), signature(theirs)
    raw = (CAPTURES / f"{name}.raw").read_bytes()
    for message in received[1:5]:
        frame = b"".join(f"{k}: {v}\n".encode() for k, v in message.headers.raw_pairs()) + b"\n"
        assert frame in raw
