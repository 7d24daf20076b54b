"""FreeSWITCH's event-socket wire protocol, sans-I/O: bytes in, messages out; commands to bytes.

Imports nothing but the standard library. Typical use::

    parser = Parser()
    parser.feed(data)
    for message in parser:
        ...
    sock.send(commands.execute("playback", "ivr/welcome.wav", event_uuid=uuid))
"""

from ivrd.esl.protocol import _commands as commands
from ivrd.esl.protocol import _writers as writers
from ivrd.esl.protocol._errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from ivrd.esl.protocol._events import Event, EventFormat
from ivrd.esl.protocol._headers import Headers
from ivrd.esl.protocol._messages import (
    ApiResponse,
    AuthRequest,
    CommandReply,
    DisconnectNotice,
    EventMessage,
    LogData,
    Message,
    RawMessage,
    RudeRejection,
)
from ivrd.esl.protocol._parser import (
    CLOSED,
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_HEAD_SIZE,
    NEED_DATA,
    Command,
    CommandParser,
    Parser,
    Sentinel,
)

__all__ = [
    "CLOSED",
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_HEAD_SIZE",
    "NEED_DATA",
    "ApiResponse",
    "AuthRequest",
    "Command",
    "CommandParser",
    "CommandReply",
    "DisconnectNotice",
    "Event",
    "EventFormat",
    "EventMessage",
    "Headers",
    "LocalProtocolError",
    "LogData",
    "Message",
    "Parser",
    "ProtocolError",
    "RawMessage",
    "RemoteProtocolError",
    "RudeRejection",
    "Sentinel",
    "commands",
    "writers",
]
