"""Commands both sides send the same way: reply checks, `api`, `bgapi` and its Job-UUID wait."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from uuid import uuid4

from ivrd.esl._transport import peer_name
from ivrd.esl._wakeup import Wakeup
from ivrd.esl.connection import Connection, Reply
from ivrd.esl.errors import (
    AuthenticationError,
    CommandError,
    ConnectionClosed,
    ConnectionFailed,
    ESLError,
    ESLTimeout,
)
from ivrd.esl.protocol import (
    ApiResponse,
    AuthRequest,
    CommandReply,
    Event,
    RudeRejection,
    commands,
)
from ivrd.esl.timeouts import Timeouts, deadline

_SECRET_WORDS = frozenset({"auth", "userauth"})


def what_of(data: bytes) -> str:
    """A command's first line, for messages (`sendmsg`, `api status`...); for `auth` only the
    word: the rest is the password, and these messages are logged and printed."""
    line = data.split(b"\n", 1)[0].decode(errors="replace")
    word = line.split(" ", 1)[0]
    return word if word in _SECRET_WORDS else line


def checked_reply(reply: Reply, what: str) -> CommandReply:
    """The reply if it says `+OK` (or anything but `-ERR`), else CommandError with its text."""
    if isinstance(reply, CommandReply):
        text = reply.reply_text
        if text.startswith(("-ERR", "-USAGE")):
            raise CommandError(what, text)
        return reply
    raise CommandError(what, f"unexpected answer {reply.content_type or type(reply).__name__}")


def api_text(reply: Reply, what: str) -> str:
    """An `api` answer's body; `-ERR`/`-USAGE` raise CommandError (the raw body is kept there)."""
    if isinstance(reply, ApiResponse):
        if not reply.ok:
            raise CommandError(what, reply.text.rstrip("\n"))
        return reply.text
    # FreeSWITCH answers with a command/reply when it refuses `api` itself (no `full` control).
    checked_reply(reply, what)
    return reply.headers.get("Reply-Text") or ""


def check_greeting(hello: Reply, host: str, port: int) -> None:
    """An inbound connection must start with `auth/request`; say clearly what else it was."""
    peer = peer_name(host, port)
    if isinstance(hello, RudeRejection):
        raise AuthenticationError(
            f"FreeSWITCH at {peer} refused us: {hello.text.strip()} "
            "(is this address allowed by apply-inbound-acl in event_socket.conf.xml?)"
        )
    if not isinstance(hello, AuthRequest):
        raise ConnectionFailed(
            f"{peer} did not ask for a password (it sent {hello.content_type!r}): "
            "is it FreeSWITCH's event socket?",
            host=host,
            port=port,
        )


def password_refused(peer: str, error: CommandError) -> AuthenticationError:
    return AuthenticationError(
        f"FreeSWITCH at {peer} refused the password ({error.reply}): "
        "check the password in event_socket.conf.xml"
    )


async def request(conn: Connection, data: bytes, limit: float | None) -> CommandReply:
    """Send a command; its `+OK` reply, or CommandError, or ESLTimeout past `limit` seconds."""
    what = what_of(data)
    return checked_reply(await _answer(conn, data, what, limit), what)


async def api(conn: Connection, command: str, timeouts: Timeouts) -> str:
    data = commands.api(command)
    what = what_of(data)
    return api_text(await _answer(conn, data, what, timeouts.api), what)


async def _answer(conn: Connection, data: bytes, what: str, limit: float | None) -> Reply:
    reply = await conn.request(data, deadline(limit))
    if reply is None:
        assert limit is not None  # without a limit, only the reply (or an error) ends the wait
        raise conn.no_answer(what, limit)
    return reply


class Completion:
    """A one-shot result delivered by the reader: an event, or the error that ended the wait."""

    __slots__ = ("_done", "error", "event")

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._done = Wakeup(loop)
        self.event: Event | None = None
        self.error: ESLError | None = None

    def finish(self, event: Event) -> None:
        if not self._done.is_set():
            self.event = event
            self._done.set()

    def fail(self, error: ESLError) -> None:
        if not self._done.is_set():
            self.error = error
            self._done.set()

    def limit(self, deadline: float) -> None:
        """The wait ends at `deadline` (in `anyio.current_time()`'s clock), if nothing came."""
        self._done.move(deadline)

    async def wait(self) -> Event | None:
        """The event; None if the deadline (`limit`) passed first; the error is raised."""
        if not await self._done.wait():
            return None
        if self.error is not None:
            raise self.error
        assert self.event is not None
        return self.event


class BackgroundJobs:
    """`bgapi` with our own Job-UUID; the result comes back in a BACKGROUND_JOB event."""

    def __init__(self) -> None:
        self._pending: dict[str, Completion] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def on_event(self, event: Event) -> None:
        job = self._pending.get(event.get("Job-UUID") or "")
        if job is not None:
            job.finish(event)

    def fail_all(self, error: Callable[[], ConnectionClosed]) -> None:
        for job in self._pending.values():
            job.fail(error())

    async def run(
        self,
        conn: Connection,
        command: str,
        *,
        subscribe: Callable[[], Awaitable[None]],
        timeouts: Timeouts,
    ) -> str:
        """Send `bgapi command` and return the job's output; `-ERR` output raises CommandError."""
        await subscribe()
        job_uuid = str(uuid4())
        data = commands.bgapi(command, job_uuid)
        what = what_of(data)
        job = self._pending[job_uuid] = Completion()
        try:
            await request(conn, data, timeouts.reply)
            job.limit(deadline(timeouts.job))
            event = await job.wait()
        finally:
            del self._pending[job_uuid]
        if event is None:
            raise ESLTimeout(
                f"no result from FreeSWITCH at {conn.peer} for `{what}` within {timeouts.job:g} s"
            )
        output = event.body or ""
        if output.startswith(("-ERR", "-USAGE")):
            raise CommandError(what, output.rstrip("\n"))
        return output
