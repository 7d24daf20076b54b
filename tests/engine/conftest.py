"""Engine tests: real loopback sockets, the fake FreeSWITCH dialling an OutboundServer whose
handler runs a flow with `run_call` (see `harness.py`).

By default a test runs on trio with a MockClock that jumps ahead whenever every task waits: a
5-second digit timeout or a 20-second ring passes in no real time and durations are exact.
Tests marked with `harness.both_backends` (the fast paths, with short media) run on asyncio too,
in real time.
"""

from __future__ import annotations

from typing import Any

import pytest
from trio.testing import MockClock


@pytest.fixture
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    name = getattr(request, "param", "trio")
    if name == "trio":
        return ("trio", {"clock": MockClock(autojump_threshold=0)})
    return name
