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
    that, so a notification can never fall between "condition false" and "waiting".
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = anyio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = anyio.Event()

    async def wait(self) -> None:
        """Wait for the next notification (bound it with `anyio.move_on_after`)."""
        await self._event.wait()
