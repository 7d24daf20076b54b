"""The command socket: connect, authenticate, run one-off commands, close.

`CommandSocket` is for plain synchronous code (scripts, the CLI): a blocking socket and the
sans-I/O parser, nothing else. `AsyncCommandSocket` is the same for async code, an
`InboundClient` that subscribes to nothing and does not reconnect.

    with CommandSocket("127.0.0.1", 8021, "ClueCon") as fs:
        print(fs.api("status"))
"""

from __future__ import annotations

import socket
from types import TracebackType
from typing import Self

from ivrd.esl import _requests, _transport
from ivrd.esl._requests import api_text, checked_reply, what_of
from ivrd.esl.connection import Reply
from ivrd.esl.errors import CommandError, ConnectionClosed, ESLError, ESLTimeout
from ivrd.esl.inbound import InboundClient
from ivrd.esl.protocol import (
    CLOSED,
    DEFAULT_MAX_FRAME_SIZE,
    NEED_DATA,
    ApiResponse,
    AuthRequest,
    CommandReply,
    Parser,
    RemoteProtocolError,
    RudeRejection,
    commands,
)
from ivrd.esl.timeouts import DEFAULT_TIMEOUTS, Timeouts

_REPLY_TYPES = (CommandReply, ApiResponse, AuthRequest, RudeRejection)


class CommandSocket:
    """A blocking inbound connection for one-off commands. Not thread-safe; one per thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8021,
        password: str = "ClueCon",
        *,
        timeout: float = 10.0,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        self.host = host
        self.port = port
        self.peer = _transport.peer_name(host, port)
        self.timeout = timeout
        self._password = password
        self._max_frame_size = max_frame_size
        self._sock: socket.socket | None = None
        self._parser = Parser(max_frame_size=max_frame_size)

    def connect(self) -> None:
        """Connect and authenticate (AuthenticationError on a wrong password)."""
        if self._sock is not None:
            return
        self._parser = Parser(max_frame_size=self._max_frame_size)
        self._sock = _transport.connect_blocking(self.host, self.port, self.timeout)
        try:
            _requests.check_greeting(self._read_reply("the greeting"), self.host, self.port)
            try:
                self.command(commands.auth(self._password))
            except CommandError as exc:
                raise _requests.password_refused(self.peer, exc) from None
        except BaseException:
            self._drop()
            raise

    def command(self, data: bytes) -> CommandReply:
        """Send a command built with `ivrd.esl.protocol.commands`; `-ERR` raises CommandError."""
        what = what_of(data)
        return checked_reply(self._request(data, what), what)

    def api(self, command: str) -> str:
        """`api <command>`: FreeSWITCH's output; `-ERR` raises CommandError with the text."""
        data = commands.api(command)
        what = what_of(data)
        return api_text(self._request(data, what), what)

    def bgapi(self, command: str) -> str:
        """`bgapi <command>`; returns the Job-UUID (this socket does not wait for the result)."""
        reply = self.command(commands.bgapi(command))
        return reply.headers.get("Job-UUID") or reply.reply_text.removeprefix("+OK Job-UUID: ")

    def close(self) -> None:
        """Send `exit` (best effort) and close the socket."""
        if self._sock is None:
            return
        try:
            self._request(commands.exit(), "exit")
        except ESLError:
            pass
        finally:
            self._drop()

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _request(self, data: bytes, what: str) -> Reply:
        sock = self._socket()
        try:
            sock.sendall(data)
        except OSError as exc:
            self._drop()
            raise _transport.closed_error(self.peer, exc) from exc
        return self._read_reply(what)

    def _socket(self) -> socket.socket:
        if self._sock is None:
            raise ConnectionClosed(f"not connected to FreeSWITCH at {self.peer}")
        return self._sock

    def _read_reply(self, what: str) -> Reply:
        """The next reply; events and log lines (we subscribed to none) are skipped."""
        sock = self._socket()
        parser = self._parser
        try:
            while True:
                message = parser.next_message()
                if message is NEED_DATA:
                    data = sock.recv(65536)
                    if data:
                        parser.feed(data)
                    else:
                        parser.feed_eof()
                elif message is CLOSED:
                    raise _transport.closed_error(self.peer)
                elif isinstance(message, _REPLY_TYPES):
                    return message
        except TimeoutError:
            self._drop()
            raise ESLTimeout(
                f"no answer from FreeSWITCH at {self.peer} to `{what}` within {self.timeout:g} s"
            ) from None
        except RemoteProtocolError as exc:
            self._drop()
            raise ConnectionClosed(f"FreeSWITCH at {self.peer} broke the protocol: {exc}") from exc
        except OSError as exc:
            self._drop()
            raise _transport.closed_error(self.peer, exc) from exc
        except ConnectionClosed:
            self._drop()
            raise


class AsyncCommandSocket(InboundClient):
    """One-off commands from async code: `async with AsyncCommandSocket(...) as fs:`.

    An InboundClient that subscribes to no events and does not reconnect.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8021,
        password: str = "ClueCon",
        *,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        super().__init__(
            host,
            port,
            password,
            events=(),
            reconnect=False,
            timeouts=timeouts,
            max_frame_size=max_frame_size,
        )
