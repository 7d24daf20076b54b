"""A level-triggered wake-up for tasks that re-check their own conditions."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import anyio

Job = Callable[[], Coroutine[Any, Any, None]]
Spawn = Callable[[Job], object]


class Signal:
    """Wakes every waiter on `notify()`; a waiter re-checks its condition and waits again.

    Waiters take the current event before they await, and nothing awaits between a check and
    that, so a notification can never fall between "condition false" and "waiting". The event
    is made by the first waiter: most notifications find nobody waiting, and then cost nothing.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: anyio.Event | None = None

    def notify(self) -> None:
        event = self._event
        if event is not None:
            self._event = None
            event.set()

    async def wait(self) -> None:
        """Wait for the next notification (bound it with `anyio.move_on_after`)."""
        event = self._event
        if event is None:
            event = self._event = anyio.Event()
        await event.wait()
