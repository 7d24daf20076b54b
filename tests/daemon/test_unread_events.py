"""The events the daemon takes back with `nixevent` are events nobody in it reads.

Every event name written in the code a daemon's call runs (the engine, the daemon, the session
and its helpers) must be in EVENTS_READ, and so never in UNREAD_EVENTS: a step that starts to
wait for CHANNEL_ANSWER, say, fails here instead of waiting forever in production.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ivrd.daemon.server import EVENTS_READ, UNREAD_EVENTS
from ivrd.esl.protocol import commands
from ivrd.testing.subscription import EVENT_NAMES, MYEVENTS

PACKAGE = Path(__file__).resolve().parents[2] / "ivrd"
# What runs in a daemon's call: its own code, the flow engine and the outbound session.
SOURCES = [
    *sorted((PACKAGE / "daemon").rglob("*.py")),
    *sorted((PACKAGE / "engine").rglob("*.py")),
    *sorted((PACKAGE / "esl").glob("*.py")),
]


def event_names_in(path: Path) -> set[str]:
    """Every string constant in the module that is exactly an event's name, but those of the
    EVENTS_READ list itself (it would always agree with itself)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "EVENTS_READ" for target in node.targets
        ):
            skipped |= {id(inner) for inner in ast.walk(node.value)}
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in EVENT_NAMES
        and id(node) not in skipped
    }


def test_every_event_name_the_daemon_s_code_uses_is_read_not_nixed() -> None:
    used = {name: path for path in SOURCES for name in event_names_in(path)}

    assert {name: str(used[name]) for name in used.keys() & UNREAD_EVENTS} == {}
    # EVENTS_READ is exactly what the code names (of what myevents subscribes to).
    assert used.keys() & MYEVENTS == EVENTS_READ


def test_unread_events_are_myevents_minus_the_read_ones() -> None:
    assert commands.MYEVENTS == MYEVENTS  # the library's list is the fake's, from the source
    assert EVENTS_READ <= MYEVENTS
    assert UNREAD_EVENTS == MYEVENTS - EVENTS_READ
    assert {"CHANNEL_EXECUTE", "CHANNEL_STATE", "CHANNEL_PARK", "CHANNEL_ANSWER"} <= UNREAD_EVENTS


def test_the_scan_sees_the_names_the_session_and_the_engine_wait_for() -> None:
    # If the scan found nothing (a moved package, a changed idiom), the test above would pass
    # vacuously: these are known to be there.
    names = set().union(*(event_names_in(path) for path in SOURCES))
    assert {"CHANNEL_EXECUTE_COMPLETE", "DTMF", "CHANNEL_UNBRIDGE", "CHANNEL_DATA"} <= names
