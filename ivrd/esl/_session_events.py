"""The event side of an outbound session: hooks, event streams, waiting for one event.

A mixin of OutboundSession, kept apart because it is the part user code reads most.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import overload

from anyio.streams.memory import MemoryObjectReceiveStream

from ivrd.esl._dispatch import CATCH_ALL, EventHooks, Hook, Subscriptions
from ivrd.esl.connection import Connection
from ivrd.esl.errors import CallHangup
from ivrd.esl.protocol import Event

_HANGUP_EVENTS = ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE")


class SessionEvents:
    uuid: str
    _conn: Connection
    _hooks: EventHooks
    _subscriptions: Subscriptions
    _hangup_cause: str | None

    @overload
    def on(
        self, name: str, hook: None = None, *, subclass: str | None = None
    ) -> Callable[[Hook], Hook]: ...

    @overload
    def on(self, name: str, hook: Hook, *, subclass: str | None = None) -> Hook: ...

    def on(
        self, name: str, hook: Hook | None = None, *, subclass: str | None = None
    ) -> Hook | Callable[[Hook], Hook]:
        """Run `hook(event)` for each event called `name` (CUSTOM: give `subclass`).

        Usable as `session.on("DTMF", hook)` or as a decorator `@session.on("DTMF")`. Hooks
        run concurrently in the session's task group and may send commands.
        """
        if hook is None:
            return self._hooks.on(name, subclass=subclass)
        return self._hooks.on(name, hook, subclass=subclass)

    def on_event(self, hook: Hook) -> Hook:
        """A catch-all hook; for each event it runs before the named hooks."""
        return self._hooks.on(CATCH_ALL, hook)

    def events(
        self, *names: str, subclass: str | None = None
    ) -> AbstractAsyncContextManager[MemoryObjectReceiveStream[Event]]:
        """`async with session.events("DTMF") as events: async for event in events: ...`.

        Unbounded; the stream ends when the connection closes.
        """
        return self._subscriptions.subscribe(names, subclass)

    async def wait_for(
        self,
        name: str,
        *,
        subclass: str | None = None,
        where: Callable[[Event], bool] | None = None,
    ) -> Event:
        """The next event called `name` (matching `where`); CallHangup if the call ends first."""
        self._check_call(name)
        async with self.events(name, *_HANGUP_EVENTS) as events:
            async for event in events:
                if (
                    event.name == name
                    and (subclass is None or event.subclass == subclass)
                    and (where is None or where(event))
                ):
                    return event
                # Judged in stream order: events queued before the hangup still count.
                if event.name in _HANGUP_EVENTS and self._is_ours(event):
                    break
        self._check_call(name)
        raise self._conn.closed_error()

    @property
    def backlog(self) -> tuple[int, int]:
        """(hook invocations running, events buffered for `events()` readers): both unbounded,
        so watch them (a metric) rather than letting the library drop anything."""
        return self._hooks.running, self._subscriptions.buffered

    def _check_call(self, what: str) -> None:
        if self._hangup_cause is not None:
            raise CallHangup(self._hangup_cause, uuid=self.uuid, waiting_for=what)
        if self._conn.closed:
            raise self._conn.closed_error()

    def _is_ours(self, event: Event) -> bool:
        uuid = event.uuid
        return uuid is None or not self.uuid or uuid == self.uuid
