"""Several listeners in one process (librevox's `Librevox.start`), started and stopped together.

    await run_listeners([
        OutboundServer(ivr, port=8084),
        InboundClient(password=secret, events=["CHANNEL_HANGUP_COMPLETE"]),
    ])

Each listener keeps its own options. They start one after another, each ready (bound, or
connected and subscribed) before the next; `task_status.started()` comes when all are. One
task group holds them: cancelling `run_listeners` stops them all, and if one fails the others
are stopped and its error propagates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import anyio
import anyio.abc


class Listener(Protocol):
    """Anything with `serve(task_status=...)`: OutboundServer, InboundClient."""

    async def serve(self, *, task_status: anyio.abc.TaskStatus[Any]) -> None: ...


async def run_listeners(
    listeners: Sequence[Listener],
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run every listener until cancelled (or until one of them fails)."""
    async with anyio.create_task_group() as task_group:
        for listener in listeners:
            await task_group.start(listener.serve)
        task_status.started()
