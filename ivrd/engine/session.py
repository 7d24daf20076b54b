"""What the interpreter needs from a call: the outbound session's methods, as a Protocol.

The engine never writes protocol text; it runs applications through `execute` (so every
command it sends goes through one place and lands in the trace) and reads the channel's
variables; it follows the call's hangup and keys with `listen` (plain callbacks, in the
order FreeSWITCH sent the events, no task per event); hooks (`on`) and streams (`events`) are
there too.
`ivrd.esl.OutboundSession` satisfies this structurally; tests may pass any object
that does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from anyio.streams.memory import MemoryObjectReceiveStream

from ivrd.esl.applications import ExecuteResult
from ivrd.esl.protocol import Event

EventHook = Callable[[Event], Awaitable[None] | None]


class CallSession(Protocol):
    @property
    def uuid(self) -> str: ...

    @property
    def channel_data(self) -> Mapping[str, str]: ...

    def variable(self, name: str) -> str | None: ...

    async def execute(
        self, app: str, arg: str = "", *, loops: int | None = None
    ) -> ExecuteResult: ...

    def enqueue(self, app: str, arg: str = "") -> None: ...

    def stop_events(self, *names: str) -> None: ...

    async def uuid_break(self) -> Any: ...

    async def api(self, command: str) -> Any: ...

    def on(self, name: str, hook: Any, *, subclass: str | None = None) -> Any: ...

    def listen(self, callback: Callable[[Event], None], *names: str) -> Callable[[], None]: ...

    def events(
        self, *names: str, subclass: str | None = None
    ) -> AbstractAsyncContextManager[MemoryObjectReceiveStream[Event]]: ...
