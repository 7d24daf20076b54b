"""The command side of an outbound session: commands, `api`, `bgapi`, variables, channel data.

A mixin of OutboundSession, as SessionEvents is: the commands a handler sends on the call's
own socket, each answered in order (`connection.py`), and what the session sends after
`connect` (`setup_commands`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from ivrd.esl import _requests
from ivrd.esl._requests import BackgroundJobs
from ivrd.esl.applications import normalise_variable
from ivrd.esl.connection import Connection
from ivrd.esl.protocol import CommandReply, Event, Headers, commands
from ivrd.esl.timeouts import Timeouts

EventFormat = Literal["plain", "json"]


@lru_cache(maxsize=16)
def setup_commands(
    event_format: EventFormat, unneeded: tuple[str, ...], linger: bool | int, divert: bool
) -> tuple[tuple[bytes, ...], bytes | None]:
    """What a session sends after `connect` (the same for every call of a server), and
    which of it is the `nixevent`."""
    setup = [commands.myevents(format=None if event_format == "plain" else "json")]
    nixevent = commands.nixevent(unneeded) if unneeded else None
    if nixevent is not None:
        setup.append(nixevent)  # after myevents, it takes those back (mod_event_socket.c)
    if linger is not False:
        setup.append(commands.linger(None if linger is True else int(linger)))
    if divert:
        setup.append(commands.divert_events(True))
    return tuple(setup), nixevent


class SessionCommands:
    uuid: str
    timeouts: Timeouts
    event_format: EventFormat
    _conn: Connection
    _jobs: BackgroundJobs
    _jobs_subscribed: bool
    _channel_data: Headers

    async def command(self, data: bytes) -> CommandReply:
        """Send a command built with `ivrd.esl.protocol.commands`; `-ERR` raises CommandError."""
        return await _requests.request(self._conn, data, self.timeouts.reply)

    async def api(self, command: str) -> str:
        """`api <command>` on this socket; its output, or CommandError on `-ERR`."""
        return await _requests.api(self._conn, command, self.timeouts)

    async def bgapi(self, command: str) -> str:
        """`bgapi <command>` with our own Job-UUID; the output from its BACKGROUND_JOB."""
        return await self._jobs.run(
            self._conn,
            command,
            subscribe=self._subscribe_jobs,
            timeouts=self.timeouts,
        )

    async def _subscribe_jobs(self) -> None:
        # myevents does not include BACKGROUND_JOB; FreeSWITCH passes our own jobs to a
        # myevents socket (by Job-Owner-UUID) once we ask for the event.
        if not self._jobs_subscribed:
            await self.command(commands.event(["BACKGROUND_JOB"], format=self.event_format))
            self._jobs_subscribed = True

    async def getvar(self, name: str) -> str | None:
        reply = await self.command(commands.getvar(normalise_variable(name)))
        value = reply.headers.get("Reply-Text")
        return None if value in (None, "", "_undef_") else value

    async def update_channel_data(self) -> Headers:
        """Refresh the channel data with `uuid_dump` and return it."""
        dump = await self.api(f"uuid_dump {self.uuid}")
        self._channel_data = Event.from_bytes(dump.strip("\n").encode() + b"\n", "plain").headers
        return self._channel_data
