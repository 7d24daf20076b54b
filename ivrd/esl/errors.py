"""The event-socket library's exceptions: one class per thing that can go wrong, each saying which.

Every wait in the library ends in one of these (or returns): the caller hung up (`CallHangup`),
the socket went away (`ConnectionClosed`), FreeSWITCH said no (`CommandError`), or time ran
out (`ESLTimeout`). Catch `ESLError` for all of them.
"""

from __future__ import annotations

from ivrd.esl.protocol import LocalProtocolError, ProtocolError, RemoteProtocolError


class ESLError(Exception):
    """Base class of every error raised by `ivrd.esl`."""


class ConnectionFailed(ESLError):
    """A connection to FreeSWITCH could not be made (refused, unreachable, unknown host...)."""

    def __init__(self, message: str, *, host: str, port: int) -> None:
        super().__init__(message)
        self.host = host
        self.port = port


class ListenError(ESLError):
    """The outbound server could not listen on its address (in use, not permitted...)."""

    def __init__(self, message: str, *, host: str, port: int) -> None:
        super().__init__(message)
        self.host = host
        self.port = port


class ConnectionClosed(ESLError):
    """The event socket is closed: FreeSWITCH went away, the network dropped, or we closed it.

    Raised by every pending and later call on that connection.
    """


class AuthenticationError(ESLError):
    """FreeSWITCH refused our password or our address (ACL). Retrying will not help."""


class CommandError(ESLError):
    """FreeSWITCH answered a command with `-ERR` (or `-USAGE`); `reply` is its text."""

    def __init__(self, command: str, reply: str) -> None:
        super().__init__(f"{command}: {reply}")
        self.command = command
        self.reply = reply


class CallHangup(ESLError):
    """The call hung up while we waited for it (an application, an event).

    `cause` is FreeSWITCH's hangup cause, e.g. `NORMAL_CLEARING` or `DESTINATION_OUT_OF_ORDER`.
    """

    def __init__(
        self, cause: str, *, uuid: str | None = None, waiting_for: str | None = None
    ) -> None:
        what = f" while waiting for {waiting_for}" if waiting_for else ""
        super().__init__(f"the call hung up ({cause}){what}")
        self.cause = cause
        self.uuid = uuid
        self.waiting_for = waiting_for


class ESLTimeout(ESLError, TimeoutError):
    """FreeSWITCH did not answer in time. Also a `TimeoutError`."""


class ArgumentError(ESLError, ValueError):
    """An application argument cannot be written safely (it would break a dial string...)."""


__all__ = [
    "ArgumentError",
    "AuthenticationError",
    "CallHangup",
    "CommandError",
    "ConnectionClosed",
    "ConnectionFailed",
    "ESLError",
    "ESLTimeout",
    "ListenError",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
]
