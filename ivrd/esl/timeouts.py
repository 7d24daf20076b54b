"""Default time limits, so that every wait on FreeSWITCH ends even when nobody set one.

Callers still own their timeouts (`anyio.fail_after` around any call); these are the backstop
a session or client applies itself, each raising `ESLTimeout` with a message naming the wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from math import inf

import anyio

_current_library: Callable[[], str] | None
try:
    from sniffio import current_async_library as _current_library
except ImportError:  # anyio runs without it; trio needs it, so then only asyncio can run here
    _current_library = None


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds; `None` means no limit of our own for that wait."""

    connect: float = 5.0
    """TCP connect plus FreeSWITCH's greeting (inbound) or the `connect` reply (outbound)."""
    reply: float = 30.0
    """A `command/reply` to an ordinary command (`sendmsg`, `event`, `filter`, `linger`...)."""
    api: float = 120.0
    """An `api` answer: FreeSWITCH blocks the socket until the command ends (`originate`...)."""
    job: float = 300.0
    """A `bgapi` result (the BACKGROUND_JOB event)."""
    application: float | None = 4 * 3600.0
    """An application's CHANNEL_EXECUTE_COMPLETE. Hangup and disconnect end the wait anyway;
    this only guards against a FreeSWITCH that never reports (a bridge may last hours)."""
    write: float = 10.0
    """Sending one command; past it the peer is not reading and the connection is dropped."""
    teardown: float = 5.0
    """Ending a session: waiting for hooks, the hangup events, `exit` and the socket close."""
    after_hangup: float = 30.0
    """How long a call handler may keep running after the call ended before it is cancelled."""


DEFAULT_TIMEOUTS = Timeouts()


def deadline(seconds: float | None, clock: Callable[[], float] = anyio.current_time) -> float:
    """`seconds` from now in `anyio.current_time()`'s clock (which `clock` reads, see
    `current_clock`); None (no limit) is infinity."""
    return inf if seconds is None else clock() + seconds


def current_clock() -> Callable[[], float]:
    """`anyio.current_time` of the running event loop, as a function cheap to call often.

    On asyncio that is the loop's own `time`, which is what anyio returns, but anyio finds the
    backend and then the running loop on every call, and CPython checks each time it finds the
    running loop that the process did not fork: a getpid system call, slow in a virtual
    machine. A call's session and trace read the clock dozens of times: they take it once.
    """
    return loop_clock(running_asyncio_loop())


def loop_clock(loop: asyncio.AbstractEventLoop | None) -> Callable[[], float]:
    """`current_clock` for a loop already found (`running_asyncio_loop`)."""
    return anyio.current_time if loop is None else loop.time


def running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio event loop; None under another backend (trio)."""
    if _current_library is not None and _current_library() != "asyncio":
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
