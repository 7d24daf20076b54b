"""benchmarks/load/: the load run's two references send the set-up `ivrd serve` sends.

The floor is a script of its own (it imports nothing of ivrd), so it spells out the commands,
and the events the daemon stops with `nixevent`; ivrd_protocol.py builds them with ivrd's
`commands`. If either drifts from what the daemon sends, its calls carry other events or
replies than the daemon's, and the load run compares unlike calls.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from ivrd.daemon.server import UNREAD_EVENTS
from ivrd.esl._session_commands import setup_commands
from ivrd.esl.outbound import OutboundServer
from ivrd.esl.protocol import commands
from ivrd.esl.session import OutboundSession

LOAD = Path(__file__).resolve().parents[1] / "benchmarks" / "load"


def load_script(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(LOAD))  # ivrd_protocol.py imports floor.py
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", LOAD / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def no_call(session: OutboundSession) -> None:
    """Never runs: the server below is only asked for its settings."""


def daemon_setup() -> bytes:
    """`connect` and what `ivrd serve`'s sessions send with it (its server's settings)."""
    server = OutboundServer(no_call, unneeded_events=UNREAD_EVENTS)  # as ivrd.daemon.server
    setup, _ = setup_commands(
        server.event_format,
        tuple(sorted(server.unneeded_events)),
        server.linger,
        server.divert_events,
    )
    return commands.connect() + b"".join(setup)


def test_the_floor_sends_the_daemons_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    floor = load_script("floor", monkeypatch)

    assert sorted(UNREAD_EVENTS) == floor.UNREAD_EVENTS
    assert daemon_setup() == floor.SETUP
    assert floor.SETUP.count(b"\n\n") == floor.SETUP_REPLIES  # a reply to each, `connect` too


def test_the_protocol_reference_sends_the_daemons_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    reference = load_script("ivrd_protocol", monkeypatch)

    assert daemon_setup() == b"".join(reference.SETUP)
