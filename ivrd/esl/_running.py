"""The application a session is running: its Event-UUID, its completion, its `sendmsg` reply.

`OutboundSession.execute` sends one application at a time and waits for its completion; the
reply to the `sendmsg` comes on the side (`on_reply`, in the reader), so the waiting task is
woken once per application, by the completion or by what ends the wait.
"""

from __future__ import annotations

import itertools
import math
from uuid import uuid4

import anyio

from ivrd.esl import _requests
from ivrd.esl._requests import Completion
from ivrd.esl.connection import ReplyWaiter
from ivrd.esl.errors import CommandError, ConnectionClosed

# Event-UUIDs only need to be unique (FreeSWITCH echoes them back as Application-UUID): a
# random prefix for this process and a counter, shaped like a uuid4, without a system call each.
_EVENT_UUID_PREFIX = str(uuid4())[:24]
_event_numbers = itertools.count()


def new_event_uuid() -> str:
    return f"{_EVENT_UUID_PREFIX}{next(_event_numbers) & 0xFFFFFFFFFFFF:012x}"


def deadline(seconds: float | None) -> float:
    return math.inf if seconds is None else anyio.current_time() + seconds


class RunningApp(Completion):
    """The application in progress: its completion, and what its `sendmsg`'s reply said."""

    __slots__ = ("_limit", "event_uuid", "interrupted", "name", "replied")

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.event_uuid = new_event_uuid()
        self.interrupted = False
        self.replied = False
        self._limit: tuple[anyio.CancelScope, float | None] | None = None

    def limit(self, scope: anyio.CancelScope, after_reply: float | None) -> None:
        """`scope` bounds the wait; once FreeSWITCH accepted the `sendmsg`, by `after_reply`."""
        self._limit = scope, after_reply

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
        if self._limit is not None:
            scope, after_reply = self._limit
            scope.deadline = deadline(after_reply)
