"""Observability tests run on both anyio backends, over real loopback sockets."""

from __future__ import annotations

import pytest
from trio.testing import MockClock

AnyioBackend = str | tuple[str, dict[str, object]]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> AnyioBackend:
    """`trio-mockclock` (ask for it with indirect parametrization) runs on trio with a clock
    that jumps ahead whenever every task waits, so a 30 s timeout passes in milliseconds."""
    if request.param == "trio-mockclock":
        return ("trio", {"clock": MockClock(autojump_threshold=0)})
    return str(request.param)
