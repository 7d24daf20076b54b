"""The event-socket library: FreeSWITCH's mod_event_socket from Python, over anyio.

- `OutboundServer` / `OutboundSession`: FreeSWITCH dials us, one session per call.
- `InboundClient`: we dial FreeSWITCH (port 8021) for events, `api` and `bgapi`.
- `CommandSocket` / `AsyncCommandSocket`: one-off commands, from plain or async code.
- `run_listeners`: several of them in one process, started and stopped together.
"""

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
