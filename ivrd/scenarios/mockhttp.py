"""The flow's HTTP services, mocked: an httpx transport that answers from the scenario.

The engine's own httpx client gets this transport, so requests are built exactly as in
production (templates, headers, query, JSON body) and only the network is replaced. A
request is matched against the scenario's replies in order: the service's base URL (or the URL
given instead of a service name) must start the request's URL, then `method`, `path` (a glob
below the base URL, query string ignored) and `times` must fit. A `delay` longer than the
request's timeout, and `failure: timeout`, end with httpx's ReadTimeout once the timeout has
passed (on the simulated clock); `failure: refused`, and any request no reply matches, with a
ConnectError, as a service that is down would.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import anyio
import httpx

from ivrd.flow import Flow, TemplateRenderError
from ivrd.scenarios.models import HttpReply
from ivrd.scenarios.targets import all_steps

__all__ = ["MockServices", "SeenRequest"]


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """A request the flow made and how the mock answered it."""

    method: str
    url: str
    answer: str
    """`200`, `refused`, `timeout`, or `refused (no mock matches)`."""

    def __str__(self) -> str:
        return f"{self.method} {self.url} -> {self.answer}"


def base_urls(flow: Flow, secrets: Mapping[str, str]) -> dict[str, list[str]]:
    """Each service name of the flow and its subflows, with the base URLs it stands for."""
    found: dict[str, list[str]] = {}
    for owner in {id(owner): owner for owner, _ in all_steps(flow)}.values():
        for name, service in owner.services.items():
            try:
                url = service.base_url.render({"secrets": dict(secrets)})
            except TemplateRenderError:
                continue  # a base URL built from call data: mock it by URL instead
            urls = found.setdefault(name, [])
            if url not in urls:
                urls.append(url)
    return found


class MockServices(httpx.AsyncBaseTransport):
    """Answers the flow's HTTP requests from the scenario's `http:` replies."""

    def __init__(
        self,
        flow: Flow,
        replies: Mapping[str, tuple[HttpReply, ...]],
        secrets: Mapping[str, str],
        *,
        on_request: Callable[[SeenRequest], None] | None = None,
    ) -> None:
        self.on_request = on_request
        services = base_urls(flow, secrets)
        self.rules: list[tuple[str, HttpReply]] = []
        for key, answers in replies.items():
            bases = services.get(key, [key])
            self.rules += [(base.rstrip("/"), reply) for reply in answers for base in bases]
        self.used = [0] * len(self.rules)
        self.seen: list[SeenRequest] = []

    def _match(self, request: httpx.Request) -> int | None:
        url = str(request.url.copy_with(query=None))
        for index, (base, reply) in enumerate(self.rules):
            if url != base and not url.startswith(base + "/"):
                continue
            if reply.method is not None and reply.method != request.method:
                continue
            if reply.path is not None:
                relative = url[len(base) :] or "/"
                wanted = reply.path if reply.path.startswith("/") else "/" + reply.path
                if not fnmatch.fnmatchcase(relative, wanted):
                    continue
            if reply.times is not None and self.used[index] >= reply.times:
                continue
            return index
        return None

    def _saw(self, request: SeenRequest) -> None:
        self.seen.append(request)
        if self.on_request is not None:
            self.on_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = self._match(request)
        shown = str(request.url)
        if index is None:
            self._saw(SeenRequest(request.method, shown, "refused (no mock matches)"))
            raise httpx.ConnectError("connection refused (no mock matches)", request=request)
        self.used[index] += 1
        reply = self.rules[index][1]
        timeout = request.extensions.get("timeout", {}).get("read")
        if reply.failure == "refused":
            self._saw(SeenRequest(request.method, shown, "refused"))
            raise httpx.ConnectError("connection refused (mocked)", request=request)
        delay = reply.delay.total_seconds()
        if reply.failure == "timeout" or (timeout is not None and delay > timeout):
            self._saw(SeenRequest(request.method, shown, "timeout"))
            await anyio.sleep(timeout or 0)
            raise httpx.ReadTimeout("timed out (mocked)", request=request)
        await anyio.sleep(delay)
        self._saw(SeenRequest(request.method, shown, str(reply.status)))
        headers = dict(reply.headers)
        if reply.json_body is not None:
            return httpx.Response(reply.status, json=reply.json_body, headers=headers)
        return httpx.Response(reply.status, text=reply.text or "", headers=headers)
