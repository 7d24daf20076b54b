"""benchmarks/load/floor.py: the load run's floor sends the set-up `ivrd serve` sends.

The floor is a script of its own (it imports nothing of ivrd), so it spells out the events the
daemon stops with `nixevent`. If the two lists drift apart, the floor's calls carry other
events than the daemon's, and the load run compares unlike calls.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from ivrd.daemon.server import UNREAD_EVENTS

FLOOR = Path(__file__).resolve().parents[1] / "benchmarks" / "load" / "floor.py"


def load_floor() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark_floor", FLOOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_floor_stops_the_events_the_daemon_stops() -> None:
    floor = load_floor()

    assert sorted(UNREAD_EVENTS) == floor.UNREAD_EVENTS
    nixevent = b"\n\nnixevent " + " ".join(sorted(UNREAD_EVENTS)).encode() + b"\n\n"
    assert nixevent in floor.SETUP
