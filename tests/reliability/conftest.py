"""Reliability tests: faults from FreeSWITCH, hostile bytes, injection, access, reloads, fuzzing.

Every test that touches I/O runs on both anyio backends, over real loopback sockets.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
