"""`Latch`: a flag set once that tasks can wait for, costing an `anyio.Event` only when waited on.

A call holds several such flags (the connection finished, the call is gone, a key was pressed,
the hangup arrived), and most are set, or never set, without anyone waiting. On asyncio an
`anyio.Event` is an `asyncio.Event` and its waiters' deque, some 700 bytes: per call, times a
thousand calls, that is memory held for nothing. A `Latch` is two slots until a task waits.
"""

from __future__ import annotations

import anyio
import anyio.lowlevel


class Latch:
    """Set once (`set`), then `wait` returns at once; `is_set` tells without waiting."""

    __slots__ = ("_event", "_set")

    def __init__(self) -> None:
        self._set = False
        self._event: anyio.Event | None = None

    def set(self) -> None:
        self._set = True
        if self._event is not None:
            self._event.set()

    def is_set(self) -> bool:
        return self._set

    async def wait(self) -> None:
        """Until set; a checkpoint even when it is set already, as `anyio.Event.wait` is."""
        if self._set:
            await anyio.lowlevel.checkpoint()
            return
        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()
