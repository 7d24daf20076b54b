"""`Wakeup`: one task waits for the reader to say "done", or for a deadline that may move.

Every application a call runs is such a wait: the task sends `sendmsg` and sleeps until the
reader sees the completion, or a hangup or a closed socket ends the wait, or a time limit
passes (the `sendmsg`'s reply moves it from the reply's limit to the application's). Written
with anyio, that is an `anyio.Event` and a cancel scope with a deadline, whose entry and exit
cost more on asyncio than everything else the call does around one application. On asyncio a
`Wakeup` is one future and one timer handle of the event loop instead; elsewhere (trio) it is
the `anyio.Event` and cancel scope. Either way the wait is a plain await: cancelling the task
(a cancel scope around it) ends it as it ends any other.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque

import anyio
import anyio.lowlevel

from ivrd.esl.timeouts import running_asyncio_loop


class Wakeup:
    """Set once (`set`); a single task waits for it with a deadline (`wait`).

    Deadlines are in `anyio.current_time()`'s clock (the event loop's on asyncio); there is
    none until `move` sets one.
    """

    __slots__ = ("_deadline", "_event", "_future", "_loop", "_scope", "_set", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """`loop`: the running asyncio loop, if the caller has it at hand (it saves finding
        it, see `timeouts.current_clock`); else `wait` finds out what runs."""
        self._loop = loop
        self._set = False
        self._deadline = math.inf
        self._future: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._event: anyio.Event | None = None
        self._scope: anyio.CancelScope | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        future = self._future
        if future is not None:
            if not future.done():
                future.set_result(None)
        elif self._event is not None:
            self._event.set()

    def move(self, deadline: float) -> None:
        """The wait (under way or to come) ends at `deadline` instead, if not set before."""
        self._deadline = deadline
        if self._future is not None:  # waiting on asyncio
            timer = self._timer
            if timer is not None and timer.when() <= deadline:
                return  # moved later: `_expire` re-arms the timer then (most waits end first)
            if timer is not None:
                timer.cancel()
            self._timer = self._start_timer(deadline)
        elif self._scope is not None:
            self._scope.deadline = deadline

    async def wait(self) -> bool:
        """True once set; False if the deadline (see `move`) passes first."""
        if self._set:
            await anyio.lowlevel.checkpoint()
            return True
        loop = self._loop
        if loop is None:
            loop = self._loop = running_asyncio_loop()
            if loop is None:
                return await self._wait_anyio()
        future = self._future = loop.create_future()
        self._timer = self._start_timer(self._deadline)
        try:
            await future
        finally:
            timer, self._timer, self._future = self._timer, None, None
            if timer is not None:
                timer.cancel()
        return self._set

    def _start_timer(self, deadline: float) -> asyncio.TimerHandle | None:
        if deadline == math.inf:
            return None
        assert self._loop is not None
        return self._loop.call_at(deadline, self._expire)

    def _expire(self) -> None:
        future = self._future
        if future is None or future.done():
            return
        assert self._loop is not None
        if self._deadline > self._loop.time():
            self._timer = self._start_timer(self._deadline)  # the deadline moved on meanwhile
        else:
            future.set_result(None)

    async def _wait_anyio(self) -> bool:
        event = self._event = anyio.Event()
        with anyio.CancelScope(deadline=self._deadline) as scope:
            self._scope = scope
            try:
                await event.wait()
            finally:
                self._scope = None
        return self._set


class Turns:
    """A lock that hands itself over in arrival order: one application at a time per call.

    Uncontended (one task runs applications, as a flow does) taking it costs no trip through
    the event loop and no cancel scope; a task that has to wait waits on a `Wakeup`.
    """

    __slots__ = ("_busy", "_waiting")

    def __init__(self) -> None:
        self._busy = False
        self._waiting: deque[Wakeup] = deque()

    async def __aenter__(self) -> None:
        if not self._busy:
            self._busy = True
            return
        turn = Wakeup()
        self._waiting.append(turn)
        try:
            await turn.wait()
        except BaseException:
            if turn.is_set():
                self._release()  # it was handed to us as we were cancelled: pass it on
            else:
                self._waiting.remove(turn)
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._release()

    def _release(self) -> None:
        if self._waiting:
            self._waiting.popleft().set()  # still busy: the next in line holds it now
        else:
            self._busy = False
