"""The messages FreeSWITCH sends on an event socket, one class per content type."""

from __future__ import annotations

from dataclasses import dataclass

from ivrd.esl.protocol._events import Event
from ivrd.esl.protocol._headers import Headers


@dataclass(frozen=True, slots=True, eq=False)
class Message:
    """One frame: its outer headers and its body bytes (`Content-Length` of them)."""

    headers: Headers
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type") or ""

    @property
    def text(self) -> str:
        """The body as text (UTF-8; undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other)
            and isinstance(other, Message)
            and self.headers == other.headers
            and self.body == other.body
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True, eq=False)
class AuthRequest(Message):
    """`auth/request`: an inbound connection's greeting; answer with `auth`."""


@dataclass(frozen=True, slots=True, eq=False)
class CommandReply(Message):
    """`command/reply`: the answer to a command. The `connect` reply also carries channel data."""

    @property
    def reply_text(self) -> str:
        return (self.headers.get("Reply-Text") or "").rstrip("\n")

    @property
    def ok(self) -> bool:
        return self.reply_text.startswith("+OK")

    @property
    def is_channel_data(self) -> bool:
        """True for the reply to `connect`, whose headers are the channel's data."""
        return self.headers.encoded


@dataclass(frozen=True, slots=True, eq=False)
class ApiResponse(Message):
    """`api/response`: the output of an `api` command, in the body."""

    @property
    def ok(self) -> bool:
        return not self.body.startswith((b"-ERR", b"-USAGE"))


@dataclass(frozen=True, slots=True, eq=False)
class EventMessage(Message):
    """`text/event-plain`, `text/event-json` or `text/event-xml`: one event."""

    event: Event


@dataclass(frozen=True, slots=True, eq=False)
class DisconnectNotice(Message):
    """`text/disconnect-notice`: the channel is gone (linger) or the socket closes (disconnect)."""

    @property
    def disposition(self) -> str:
        return self.headers.get("Content-Disposition") or ""

    @property
    def lingering(self) -> bool:
        return self.disposition == "linger"

    @property
    def linger_time(self) -> int | None:
        """Seconds FreeSWITCH lingers for; -1 means until we send `exit`."""
        value = self.headers.get("Linger-Time")
        try:
            return None if value is None else int(value)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True, eq=False)
class RudeRejection(Message):
    """`text/rude-rejection`: FreeSWITCH refused the connection (ACL) and closes it."""


@dataclass(frozen=True, slots=True, eq=False)
class LogData(Message):
    """`log/data`: one log line, after the `log` command."""

    @property
    def level(self) -> int | None:
        value = self.headers.get("Log-Level")
        return int(value) if value is not None and value.isdigit() else None


@dataclass(frozen=True, slots=True, eq=False)
class RawMessage(Message):
    """A content type this library does not know; passed through untouched."""


MESSAGE_TYPES: dict[str, type[Message]] = {
    "auth/request": AuthRequest,
    "command/reply": CommandReply,
    "api/response": ApiResponse,
    "text/disconnect-notice": DisconnectNotice,
    "text/rude-rejection": RudeRejection,
    "log/data": LogData,
}
