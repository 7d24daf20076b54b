"""The event-socket library: FreeSWITCH's mod_event_socket from Python, over anyio.

- `OutboundServer` / `OutboundSession`: FreeSWITCH dials us, one session per call.
- `InboundClient`: we dial FreeSWITCH (port 8021) for events, `api` and `bgapi`.
- `CommandSocket` / `AsyncCommandSocket`: one-off commands, from plain or async code.
- `run_listeners`: several of them in one process, started and stopped together.
"""

from __future__ import annotations

# Names load their module on first use (PEP 562), so `import ivrd.esl.protocol` stays
# standard-library only and the CLI starts without importing anyio when it does not need it.
import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ivrd.esl.applications import DigitsResult, Endpoint, ExecuteResult
    from ivrd.esl.command_socket import AsyncCommandSocket, CommandSocket
    from ivrd.esl.errors import (
        ArgumentError,
        AuthenticationError,
        CallHangup,
        CommandError,
        ConnectionClosed,
        ConnectionFailed,
        ESLError,
        ESLTimeout,
        ListenError,
    )
    from ivrd.esl.inbound import Backoff, InboundClient
    from ivrd.esl.listeners import run_listeners
    from ivrd.esl.outbound import OutboundServer
    from ivrd.esl.protocol import Event, Headers
    from ivrd.esl.session import OutboundSession
    from ivrd.esl.timeouts import Timeouts

_EXPORTS = {
    "DigitsResult": "ivrd.esl.applications",
    "Endpoint": "ivrd.esl.applications",
    "ExecuteResult": "ivrd.esl.applications",
    "AsyncCommandSocket": "ivrd.esl.command_socket",
    "CommandSocket": "ivrd.esl.command_socket",
    "ArgumentError": "ivrd.esl.errors",
    "AuthenticationError": "ivrd.esl.errors",
    "CallHangup": "ivrd.esl.errors",
    "CommandError": "ivrd.esl.errors",
    "ConnectionClosed": "ivrd.esl.errors",
    "ConnectionFailed": "ivrd.esl.errors",
    "ESLError": "ivrd.esl.errors",
    "ESLTimeout": "ivrd.esl.errors",
    "ListenError": "ivrd.esl.errors",
    "Backoff": "ivrd.esl.inbound",
    "InboundClient": "ivrd.esl.inbound",
    "run_listeners": "ivrd.esl.listeners",
    "OutboundServer": "ivrd.esl.outbound",
    "Event": "ivrd.esl.protocol",
    "Headers": "ivrd.esl.protocol",
    "OutboundSession": "ivrd.esl.session",
    "Timeouts": "ivrd.esl.timeouts",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ivrd.esl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ArgumentError",
    "AsyncCommandSocket",
    "AuthenticationError",
    "Backoff",
    "CallHangup",
    "CommandError",
    "CommandSocket",
    "ConnectionClosed",
    "ConnectionFailed",
    "DigitsResult",
    "ESLError",
    "ESLTimeout",
    "Endpoint",
    "Event",
    "ExecuteResult",
    "Headers",
    "InboundClient",
    "ListenError",
    "OutboundServer",
    "OutboundSession",
    "Timeouts",
    "run_listeners",
]
