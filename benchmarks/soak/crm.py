"""The CRM that acme-main calls (`services.crm`), as a tiny HTTP/1.1 server on loopback.

It answers what the flow asks: `GET /api/v2/accounts/<n>` (200 with a name, VIP or not; 404 for
an unknown account), `POST /api/v2/calls` (the on.hangup report, 204) and
`POST /api/v2/callbacks` (201). A share of the lookups fail the way a real CRM does: a 500, or
an answer slower than the service's 2 s timeout, so the flow's `on_error` path is soaked too.
A request without the flow's bearer token gets a 401 (and is counted): the secret must arrive.

Every response says `Connection: close`, so the daemon keeps no idle pooled connection to us:
its file descriptors can then return exactly to their starting level.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field

import anyio
import anyio.abc
import h11

VIP_ACCOUNT = "87654321"
UNKNOWN_ACCOUNT = "55555555"
SLOW_SECONDS = 2.5
"""Longer than acme-main's `services.crm.timeout` (2 s)."""


@dataclass
class CrmServer:
    token: str
    seed: int = 0
    error_rate: float = 0.03
    slow_rate: float = 0.02
    requests: Counter[str] = field(default_factory=Counter)
    open_connections: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int]) -> None:
        """Listen on 127.0.0.1 (a free port, reported) until cancelled."""
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", backlog=4096)
        async with listener:
            task_status.started(listener.extra(anyio.abc.SocketAttribute.local_port))
            await listener.serve(self._connection)

    async def _connection(self, stream: anyio.abc.SocketStream) -> None:
        self.open_connections += 1
        try:
            async with stream:
                await self._exchange(stream)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, h11.RemoteProtocolError):
            self.requests["broken"] += 1
        finally:
            self.open_connections -= 1

    async def _exchange(self, stream: anyio.abc.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        request: h11.Request | None = None
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    conn.receive_data(await stream.receive(65536))
                except anyio.EndOfStream:
                    conn.receive_data(b"")
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                return
        assert request is not None
        status, body = await self._answer(request)
        headers = [("content-length", str(len(body))), ("connection", "close")]
        if body:
            headers.append(("content-type", "application/json"))
        events: list[h11.Event] = [h11.Response(status_code=status, headers=headers)]
        if body:
            events.append(h11.Data(data=body))
        events.append(h11.EndOfMessage())
        await stream.send(b"".join(conn.send(event) or b"" for event in events))

    async def _answer(self, request: h11.Request) -> tuple[int, bytes]:
        headers = {name.lower(): value for name, value in request.headers}
        if headers.get(b"authorization") != f"Bearer {self.token}".encode():
            self.requests["unauthorized"] += 1
            return 401, b""
        method, path = request.method.decode(), request.target.decode().split("?", 1)[0]
        if method == "GET" and path.startswith("/api/v2/accounts/"):
            account = path.rsplit("/", 1)[1]
            chance = self._random.random()
            if chance < self.error_rate:
                self.requests["lookup 500"] += 1
                return 500, b""
            if chance < self.error_rate + self.slow_rate:
                self.requests["lookup too slow"] += 1
                await anyio.sleep(SLOW_SECONDS)
                return 503, b""
            if account == UNKNOWN_ACCOUNT:
                self.requests["lookup 404"] += 1
                return 404, json.dumps({"error": "not found"}).encode()
            self.requests["lookup 200"] += 1
            vip = account == VIP_ACCOUNT
            customer = {"first_name": "Ada" if vip else "Bob", "vip": vip}
            return 200, json.dumps(customer).encode()
        if method == "POST" and path == "/api/v2/calls":
            self.requests["call report"] += 1
            return 204, b""
        if method == "POST" and path == "/api/v2/callbacks":
            self.requests["callback"] += 1
            return 201, b""
        self.requests[f"unexpected {method} {path}"] += 1
        return 404, b""
