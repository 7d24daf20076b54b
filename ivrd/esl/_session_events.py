"""The event side of an outbound session: hooks, event streams, waiting for one event.

A mixin of OutboundSession, kept apart because it is the part user code reads most.
"""

from __future__ import annotations

from collections.abc import Callable

from ivrd.esl._dispatch import EventSource, Listener, Listeners
from ivrd.esl.connection import Connection
from ivrd.esl.errors import CallHangup
from ivrd.esl.protocol import Event

_HANGUP_EVENTS = ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE")


class SessionEvents(EventSource):
    uuid: str
    _conn: Connection
    _hangup_cause: str | None
    _listeners: Listeners

    def listen(self, callback: Listener, *names: str) -> Callable[[], None]:
        """Call `callback(event)` for each event called one of `names`, as it is read.

        For bookkeeping, not for work: it runs in the reader, in order, before hooks and
        streams see the event, so it must not block or await (note the event, set an
        `anyio.Event`, start a task). Costs no task per event, unlike `on`. Returns a function
        that removes it.
        """
        return self._listeners.add(callback, names)

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

    def _check_call(self, what: str) -> None:
        if self._hangup_cause is not None:
            raise CallHangup(self._hangup_cause, uuid=self.uuid, waiting_for=what)
        if self._conn.closed:
            raise self._conn.closed_error()

    def _is_ours(self, event: Event) -> bool:
        uuid = event.uuid
        return uuid is None or not self.uuid or uuid == self.uuid
