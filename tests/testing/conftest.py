"""The fake FreeSWITCH's tests run on both anyio backends; trio with MockClock.

On trio, time is a `MockClock` that jumps ahead whenever every task waits, so a 30-second
timeout passes in microseconds and exact durations can be asserted; on asyncio the same tests
run in real time with durations kept short.
"""

from __future__ import annotations

from typing import Any

import pytest
from trio.testing import MockClock


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    if request.param == "trio":
        return ("trio", {"clock": MockClock(autojump_threshold=0)})
    return request.param
