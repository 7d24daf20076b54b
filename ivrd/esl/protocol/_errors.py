"""The protocol's exceptions: whose fault it was, and what was wrong."""

from __future__ import annotations


class ProtocolError(Exception):
    """Something about event-socket bytes or a command was wrong.

    The one class callers catch for any protocol problem. The two subclasses say whose fault it
    was, as h11 does: the peer's bytes (`RemoteProtocolError`) or the command we tried to build
    (`LocalProtocolError`).
    """


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that are not valid event-socket framing, or exceeded a limit."""


class LocalProtocolError(ProtocolError, ValueError):
    """We were asked to build a command that cannot be written safely (CR/LF in a header...)."""
