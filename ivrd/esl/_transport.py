"""The one place where transport exceptions (anyio's, the OS's) become `ivrd.esl` errors.

Each message names the peer and says what a person can check, because these are the errors an
operator sees when FreeSWITCH is down, firewalled or misconfigured.
"""

from __future__ import annotations

import errno
import socket

import anyio
import anyio.abc
from anyio.streams.stapled import MultiListener

from ivrd.esl.errors import ConnectionClosed, ConnectionFailed, ListenError


def peer_name(host: str, port: int) -> str:
    """`127.0.0.1:8021`, `[::1]:8021`: the address as a person would type it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _root_cause(exc: BaseException) -> BaseException:
    """anyio wraps the real reason (`All connection attempts failed`); dig it out."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, ExceptionGroup):
            cause = cause.exceptions[0]
            continue
        if cause.__cause__ is None:
            return cause
        cause = cause.__cause__
    return exc


def connect_error(host: str, port: int, exc: BaseException, timeout: float) -> ConnectionFailed:
    """Why a connection to FreeSWITCH could not be made, for a person."""
    peer = peer_name(host, port)
    reason = _root_cause(exc)
    if isinstance(reason, socket.gaierror):
        message = f"cannot resolve FreeSWITCH host {host!r}: {reason.strerror or reason}"
    elif isinstance(reason, ConnectionRefusedError):
        message = (
            f"FreeSWITCH at {peer} refused the connection: "
            "is mod_event_socket loaded and listening on that address?"
        )
    elif isinstance(reason, TimeoutError):
        message = (
            f"FreeSWITCH at {peer} did not answer within {timeout:g} s: "
            "is the host up and the port open (firewall)?"
        )
    elif isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        message = f"FreeSWITCH at {peer} is unreachable ({reason.strerror}): check the address"
    else:
        message = f"cannot connect to FreeSWITCH at {peer}: {reason}"
    return ConnectionFailed(message, host=host, port=port)


async def connect(host: str, port: int, limit: float) -> anyio.abc.SocketStream:
    """Open a TCP connection to FreeSWITCH within `limit` s, or raise ConnectionFailed."""
    try:
        with anyio.fail_after(limit):
            return await anyio.connect_tcp(host, port)
    except TimeoutError as exc:
        raise connect_error(host, port, exc, limit) from None
    except OSError as exc:
        raise connect_error(host, port, exc, limit) from exc


def connect_blocking(host: str, port: int, limit: float) -> socket.socket:
    """The same as `connect`, for synchronous callers (the command socket)."""
    try:
        return socket.create_connection((host, port), timeout=limit)
    except OSError as exc:
        raise connect_error(host, port, exc, limit) from exc


async def create_listener(
    host: str, port: int, *, backlog: int
) -> MultiListener[anyio.abc.SocketStream]:
    """Listen for FreeSWITCH's outbound connections, or raise ListenError saying why not."""
    where = peer_name(host, port)
    try:
        return await anyio.create_tcp_listener(local_host=host, local_port=port, backlog=backlog)
    except socket.gaierror as exc:
        message = f"cannot listen on {where}: unknown host ({exc.strerror or exc})"
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            message = (
                f"cannot listen on {where}: the address is already in use "
                "(another ivrd, or another program on that port?)"
            )
        elif exc.errno == errno.EACCES:
            message = f"cannot listen on {where}: permission denied (ports below 1024 need root)"
        elif exc.errno == errno.EADDRNOTAVAIL:
            message = f"cannot listen on {where}: {host} is not an address of this machine"
        else:
            message = f"cannot listen on {where}: {exc.strerror or exc}"
    raise ListenError(message, host=host, port=port)


def closed_error(peer: str, exc: BaseException | None = None) -> ConnectionClosed:
    """Why an established connection is gone, for a person."""
    if exc is None or isinstance(exc, anyio.EndOfStream):
        return ConnectionClosed(f"FreeSWITCH at {peer} closed the connection")
    if isinstance(exc, anyio.ClosedResourceError):
        return ConnectionClosed(f"the connection to FreeSWITCH at {peer} is closed")
    reason = exc.__cause__ if isinstance(exc, anyio.BrokenResourceError) else exc
    if isinstance(reason, OSError) and reason.strerror:
        detail = reason.strerror.lower()
    else:
        detail = str(reason) or type(reason).__name__
    return ConnectionClosed(f"the connection to FreeSWITCH at {peer} broke: {detail}")
