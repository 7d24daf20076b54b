"""`unneeded_events`: the session takes events it will not read back with `nixevent`, in the
same write as `myevents`, `linger` and `divert_events` (off by default, as librevox)."""

from __future__ import annotations

import logging
from collections import Counter

import anyio
import pytest
from _esl_peer import CALL_UUID, assert_nothing_sent, channel_data, dial, port_of, serving

from ivrd.esl import Event, OutboundSession
from ivrd.esl.protocol import writers
from ivrd.testing import Caller, CallRecord, FakeFreeSWITCH

pytestmark = pytest.mark.anyio

UNNEEDED = ["CHANNEL_STATE", "CHANNEL_EXECUTE", "CHANNEL_PARK", "CHANNEL_UNPARK"]


@pytest.mark.parametrize("answer", ["+OK events nixed", "-ERR command not found"])
async def test_nixevent_goes_right_after_myevents_and_a_refusal_only_warns_once(
    answer: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    started = anyio.Event()

    async def handler(session: OutboundSession) -> None:
        seen.append(session.uuid)
        started.set()
        session.stop_events("DTMF")  # after a refusal: moot, and not sent
        await session.api("uptime")  # (what it goes out with)
        await session.wait_for("CHANNEL_HANGUP_COMPLETE")

    async with serving(handler, unneeded_events=UNNEEDED) as server, dial(server) as peer:
        await peer.expect("connect")
        await peer.send(writers.channel_data_reply(channel_data()))
        await peer.expect("myevents")
        await peer.expect("nixevent CHANNEL_EXECUTE CHANNEL_PARK CHANNEL_STATE CHANNEL_UNPARK")
        await peer.expect("linger")
        await peer.expect("divert_events on")
        await assert_nothing_sent(peer)
        await peer.reply("+OK Events Enabled")
        await peer.reply(answer)
        await peer.reply("+OK will linger")
        await peer.reply("+OK events diverted")
        with anyio.fail_after(10):
            await started.wait()  # the handler runs: a refused nixevent did not cost the call
        assert seen == [CALL_UUID]
        if not answer.startswith("-ERR"):
            await peer.expect("nixevent DTMF")
            await peer.reply("+OK events nixed")
        await peer.expect("api uptime")
        await peer.send(writers.api_response("290\n"))
        await peer.hangup()
        await peer.call_gone()
        await peer.goodbye()
    refused = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    if answer.startswith("-ERR"):
        assert refused == [
            "FreeSWITCH refused nixevent CHANNEL_EXECUTE CHANNEL_PARK CHANNEL_STATE "
            "CHANNEL_UNPARK: -ERR command not found"
        ]
    else:
        assert refused == []


async def fake_call(**options: object) -> tuple[CallRecord, list[str]]:
    names: list[str] = []

    async def note(event: Event) -> None:
        names.append(event.name)

    async def handler(session: OutboundSession) -> None:
        session.on_event(note)  # hooks run as tasks: in any order, compared as counts
        await session.answer()
        await session.playback("tone_stream://%(20,0,440)")
        await session.hangup()

    async with serving(handler, **options) as server:
        with anyio.fail_after(10):
            record = await FakeFreeSWITCH().call(
                "127.0.0.1", port_of(server), Caller(file_seconds=0.02)
            )
    return record, names


async def test_the_fake_stops_unneeded_events_and_the_call_runs_the_same() -> None:
    plain, plain_names = await fake_call()
    nixed, nixed_names = await fake_call(unneeded_events=UNNEEDED)

    assert [c.command.line for c in plain.commands][:4] == [
        "connect",
        "myevents",
        "linger",
        "divert_events on",
    ]
    assert [c.command.line for c in nixed.commands][:5] == [
        "connect",
        "myevents",
        "nixevent CHANNEL_EXECUTE CHANNEL_PARK CHANNEL_STATE CHANNEL_UNPARK",
        "linger",
        "divert_events on",
    ]
    assert set(UNNEEDED) <= set(plain_names)
    assert set(UNNEEDED) & set(nixed_names) == set()
    assert Counter(name for name in plain_names if name not in UNNEEDED) == Counter(nixed_names)
    assert nixed.events_sent == plain.events_sent - len(plain_names) + len(nixed_names)
    assert [(a.name, a.response) for a in nixed.apps] == [(a.name, a.response) for a in plain.apps]
    assert nixed.violations == plain.violations == []
    assert nixed.exit_sent
