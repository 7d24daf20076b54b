"""Getting events to user code without ever stalling the connection's reader.

Two ways for user code, both unbounded but accounted (an event is never dropped; the counts
are visible):

- hooks: for each event with at least one matching hook, one task in the owner's task group
  runs the catch-all hooks and then the named ones, in registration order. A slow hook holds
  up nobody else, and a hook may call `api` (its reply is read by the free reader).
- subscriptions: a memory object stream with an unbounded buffer per subscriber, for code that
  prefers `async for event in ...`; the stream ends when the connection or call ends.

And one for bookkeeping inside the library and the engine (`Listeners`): plain callbacks,
called in the reader as each event is dispatched, in order, with no task at all. They must not
block; they note things (a hangup cause, a key) and wake tasks.

An event nobody listens to costs a dictionary lookup or two.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any, overload

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ivrd.esl.protocol import Event

logger = logging.getLogger("ivrd.esl")

Hook = Callable[[Event], Awaitable[None]]
Listener = Callable[[Event], None]
CATCH_ALL = "ALL"


class Listeners:
    """Callbacks by event name, called in the reader, in registration order."""

    def __init__(self, log_extra: Callable[[], dict[str, Any]]) -> None:
        self._by_name: dict[str, list[Listener]] = {}
        self._log_extra = log_extra

    def __bool__(self) -> bool:
        return bool(self._by_name)

    def add(self, callback: Listener, names: Iterable[str]) -> Callable[[], None]:
        """Register `callback` for each of `names`; the function returned removes it."""
        wanted = tuple(dict.fromkeys(names))
        for name in wanted:
            self._by_name.setdefault(name, []).append(callback)

        def remove() -> None:
            for name in wanted:
                callbacks = self._by_name.get(name)
                if callbacks is not None and callback in callbacks:
                    callbacks.remove(callback)
                    if not callbacks:
                        del self._by_name[name]

        return remove

    def dispatch(self, name: str, event: Event) -> None:
        callbacks = self._by_name.get(name)
        if not callbacks:
            return
        for callback in tuple(callbacks):
            try:
                callback(event)
            except Exception:
                # A bug in one listener must not stop the reader, nor the other listeners.
                logger.exception(
                    "event listener %s failed on %s",
                    getattr(callback, "__qualname__", repr(callback)),
                    name,
                    extra=self._log_extra(),
                )


class EventHooks:
    """Hooks by event name (and CUSTOM subclass), plus catch-all hooks that run first."""

    def __init__(self, log_extra: Callable[[], dict[str, Any]]) -> None:
        self._catch_all: list[Hook] = []
        self._by_name: dict[str, list[Hook]] = {}
        self._by_subclass: dict[tuple[str, str], list[Hook]] = {}
        self._log_extra = log_extra
        self.running = 0
        self._idle: anyio.Event | None = None

    @overload
    def on(
        self, name: str, hook: None = None, *, subclass: str | None = None
    ) -> Callable[[Hook], Hook]: ...

    @overload
    def on(self, name: str, hook: Hook, *, subclass: str | None = None) -> Hook: ...

    def on(
        self, name: str, hook: Hook | None = None, *, subclass: str | None = None
    ) -> Hook | Callable[[Hook], Hook]:
        """Register `hook` for events called `name` (`ALL` for every event); usable as decorator."""

        def register(hook: Hook) -> Hook:
            if name == CATCH_ALL:
                self._catch_all.append(hook)
            elif subclass is not None:
                self._by_subclass.setdefault((name, subclass), []).append(hook)
            else:
                self._by_name.setdefault(name, []).append(hook)
            return hook

        return register if hook is None else register(hook)

    def matching(self, event: Event, name: str | None = None) -> list[Hook]:
        if not (self._by_name or self._by_subclass):
            return list(self._catch_all)
        if name is None:
            name = event.name
        hooks = [*self._catch_all, *self._by_name.get(name, ())]
        if self._by_subclass:
            subclass = event.subclass
            if subclass is not None:
                hooks += self._by_subclass.get((name, subclass), ())
        return hooks

    def dispatch(
        self, event: Event, task_group: anyio.abc.TaskGroup, name: str | None = None
    ) -> None:
        if not (self._catch_all or self._by_name or self._by_subclass):
            return
        hooks = self.matching(event, name)
        if hooks:
            if self.running == 0:
                self._idle = anyio.Event()
            self.running += 1
            task_group.start_soon(self._run, event, hooks)

    async def _run(self, event: Event, hooks: list[Hook]) -> None:
        try:
            for hook in hooks:
                try:
                    await hook(event)
                except Exception:
                    logger.exception(
                        "event hook %s failed on %s",
                        getattr(hook, "__qualname__", repr(hook)),
                        event.name,
                        extra=self._log_extra(),
                    )
        finally:
            self.running -= 1
            if self.running == 0 and self._idle is not None:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Until no hook is running (hooks started meanwhile are waited for too)."""
        while self.running and self._idle is not None:
            await self._idle.wait()


class _Subscription:
    __slots__ = ("names", "send", "subclass")

    def __init__(
        self, names: frozenset[str], subclass: str | None, send: MemoryObjectSendStream[Event]
    ) -> None:
        self.names = names
        self.subclass = subclass
        self.send = send

    def matches(self, event: Event, name: str) -> bool:
        if self.names and name not in self.names:
            return False
        return self.subclass is None or event.subclass == self.subclass


class Subscriptions:
    """Streams of events for `async for` consumers; never blocks the publisher."""

    def __init__(self) -> None:
        self._subs: list[_Subscription] = []
        self._closed = False

    def __bool__(self) -> bool:
        return bool(self._subs)

    def publish(self, event: Event, name: str | None = None) -> None:
        if name is None:
            name = event.name
        for sub in self._subs:
            if sub.matches(event, name):
                # A consumer that left is removed by its context manager; until then, skip it.
                with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                    sub.send.send_nowait(event)

    @property
    def buffered(self) -> int:
        """Events published but not yet read, over all subscribers."""
        return sum(sub.send.statistics().current_buffer_used for sub in self._subs)

    @asynccontextmanager
    async def subscribe(
        self, names: Iterable[str] = (), subclass: str | None = None
    ) -> AsyncIterator[MemoryObjectReceiveStream[Event]]:
        send, receive = anyio.create_memory_object_stream[Event](math.inf)
        sub = _Subscription(frozenset(name for name in names if name != CATCH_ALL), subclass, send)
        if self._closed:
            send.close()
        else:
            self._subs.append(sub)
        try:
            with receive:
                yield receive
        finally:
            if sub in self._subs:
                self._subs.remove(sub)
            send.close()

    def close(self) -> None:
        """End every subscriber's stream (after what is buffered) and refuse new ones."""
        self._closed = True
        for sub in self._subs:
            sub.send.close()


class EventSource:
    """The event API an outbound session and an inbound client share: hooks and streams.

    Subclasses create `_hooks` and `_subscriptions` and feed them from their reader.
    """

    _hooks: EventHooks
    _subscriptions: Subscriptions

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

        Usable as `x.on("DTMF", hook)` or as a decorator `@x.on("DTMF")`. Hooks run
        concurrently in the connection's task group and may send commands.
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
        """`async with x.events("DTMF") as events: async for event in events: ...`.

        Unbounded; the stream ends when the session's connection closes, or the client stops
        (an inbound client's stream survives reconnects).
        """
        return self._subscriptions.subscribe(names, subclass)

    @property
    def backlog(self) -> tuple[int, int]:
        """(hook invocations running, events buffered for `events()` readers): both unbounded,
        so watch them (a metric) rather than letting the library drop anything."""
        return self._hooks.running, self._subscriptions.buffered
