"""The application a session is running: its Event-UUID, its completion, its `sendmsg` reply.

`OutboundSession.execute` sends one application at a time and waits for its completion; the
reply to the `sendmsg` comes on the side (`on_reply`, in the reader), so the waiting task is
woken once per application, by the completion or by what ends the wait.
"""

from __future__ import annotations

import asyncio
import itertools
from uuid import uuid4

from ivrd.esl import _requests
from ivrd.esl._requests import Completion
from ivrd.esl.connection import ReplyWaiter
from ivrd.esl.errors import CommandError, ConnectionClosed
from ivrd.esl.timeouts import deadline, loop_clock

# Event-UUIDs only need to be unique (FreeSWITCH echoes them back as Application-UUID): a
# random prefix for this process and a counter, shaped like a uuid4, without a system call each.
_EVENT_UUID_PREFIX = str(uuid4())[:24]
_event_numbers = itertools.count()


def new_event_uuid() -> str:
    return f"{_EVENT_UUID_PREFIX}{next(_event_numbers) & 0xFFFFFFFFFFFF:012x}"


class RunningApp(Completion):
    """The application in progress: its completion, and what its `sendmsg`'s reply said."""

    __slots__ = ("_after_reply", "_clock", "event_uuid", "interrupted", "name", "replied")

    def __init__(
        self,
        name: str,
        *,
        reply: float | None,
        after_reply: float | None,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        """`reply` seconds bound the wait until FreeSWITCH accepts the `sendmsg`; from then
        on `after_reply` do (None: no limit). `loop`: the session's running asyncio loop, if
        any (see `timeouts.current_clock`)."""
        super().__init__(loop)
        self.name = name
        self.event_uuid = new_event_uuid()
        self.interrupted = False
        self.replied = False
        self._after_reply = after_reply
        self._clock = clock = loop_clock(loop)
        self.limit(deadline(reply, clock))

    def on_reply(self, waiter: ReplyWaiter) -> None:
        """The `sendmsg`'s reply, in the reader: `-ERR` fails the application; `+OK` moves
        the time limit on from the reply's to the application's own. The waiting task is
        woken only by the completion (or a failure), never just for the `+OK`."""
        if waiter.error is not None:
            self.fail(ConnectionClosed(str(waiter.error)))
            return
        assert waiter.message is not None
        try:
            _requests.checked_reply(waiter.message, "sendmsg")
        except CommandError as exc:
            self.fail(exc)
            return
        self.replied = True
        self.limit(deadline(self._after_reply, self._clock))
