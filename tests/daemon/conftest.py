"""Daemon tests: in-process over real loopback sockets with the fake FreeSWITCH (both anyio
backends), and `ivrd serve` as a subprocess for signals and exit codes."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from _daemon_helpers import LogWatcher


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def ivrd_logs_everything() -> Iterator[None]:
    """Every level reaches the tests' watcher, and pytest's report (which listens on the root
    logger, from which `configure_logging` elsewhere may have cut `ivrd` off)."""
    logger = logging.getLogger("ivrd")
    saved = logger.propagate, logger.level
    logger.propagate = True
    logger.setLevel(logging.DEBUG)
    yield
    logger.propagate, logger.level = saved


@pytest.fixture
def logs() -> Iterator[LogWatcher]:
    """Every `ivrd` log record of the test, to wait for and to assert on."""
    watcher = LogWatcher()
    logger = logging.getLogger("ivrd")
    logger.addHandler(watcher)
    yield watcher
    logger.removeHandler(watcher)
