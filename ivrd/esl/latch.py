"""`Latch`: a flag set once that tasks can wait for, with a deadline, costing nothing unwaited.

A call holds several such flags (the connection finished, the call is gone, a key was pressed,
the hangup arrived), and most are set, or never set, without anyone waiting. On asyncio an
`anyio.Event` is an `asyncio.Event` and its waiters' deque, some 700 bytes: per call, times a
thousand calls, that is memory held for nothing. A `Latch` is two slots until a task waits,
and each waiter waits on a `Wakeup` of its own (a future on asyncio), which also gives the
wait a deadline without a cancel scope.
"""

from __future__ import annotations

import math

import anyio.lowlevel

from ivrd.esl._wakeup import Wakeup


class Latch:
    """Set once (`set`), then `wait` returns at once; `is_set` tells without waiting."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[Wakeup] | None = None

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            waiter.set()

    def is_set(self) -> bool:
        return self._set

    async def wait(self, deadline: float = math.inf) -> bool:
        """Until set (True), or until `deadline` in `anyio.current_time()`'s clock (False).

        A checkpoint even when it is set already, as `anyio.Event.wait` is.
        """
        if self._set:
            await anyio.lowlevel.checkpoint()
            return True
        waiter = Wakeup()
        waiter.move(deadline)
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            return await waiter.wait()
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
