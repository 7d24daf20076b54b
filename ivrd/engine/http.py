"""`http` steps and hangup hooks: requests to the flow's services with httpx.

A response of any status is a result (`result.status`, `result.body`, `result.headers`) and
goes to `next`; only no usable response at all (refused, timed out, too large, not UTF-8)
is a failure, which goes to `on_error`. A JSON body is parsed, anything else kept as text.
Header values, paths and bodies are rendered from templates here and never reach FreeSWITCH.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import httpx

from ivrd.engine.call import Call, Frame
from ivrd.flow.escaping import Escape
from ivrd.flow.steps import HttpRequest
from ivrd.flow.templating import TemplateRenderError

log = logging.getLogger("ivrd.engine.http")

MAX_RESPONSE_BYTES = 1024 * 1024


class HttpFailed(Exception):
    """No usable response: the message says what went wrong, with secrets masked."""


def _join(base: str, path: str | None) -> str:
    if not path:
        return base
    return base.rstrip("/") + "/" + path.lstrip("/")


async def _send(
    client: httpx.AsyncClient,
    method: str,
    url: httpx.URL,
    headers: dict[str, str],
    body: dict[str, str] | None,
    seconds: float,
    shown: str,
) -> tuple[httpx.Response, bytes]:
    try:
        async with client.stream(
            method, url, headers=headers, json=body, timeout=seconds
        ) as response:
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > MAX_RESPONSE_BYTES:
                    raise HttpFailed(
                        f"{shown}: the response is larger than {MAX_RESPONSE_BYTES} bytes"
                    )
    except httpx.TimeoutException:
        raise HttpFailed(f"{shown}: no response within {seconds:g}s") from None
    except httpx.HTTPError as exc:
        raise HttpFailed(f"{shown}: {type(exc).__name__}: {exc}") from None
    return response, bytes(data)


async def request(
    call: Call, frame: Frame, client: httpx.AsyncClient, spec: HttpRequest
) -> dict[str, Any]:
    """Send the request; the result as flows see it. Raises HttpFailed."""
    service = frame.flow.services[spec.service]
    try:
        url = _join(
            call.value(service.base_url, frame),
            # Each value one path segment: `../admin?x=` from a caller ID stays a segment.
            call.render(spec.path, frame, escape=Escape.URL_PATH) if spec.path else None,
        )
        headers = {name: call.value(value, frame) for name, value in service.headers.items()}
        headers.update({name: call.value(value, frame) for name, value in spec.headers.items()})
        params = {name: call.value(value, frame) for name, value in spec.query.items()}
        body = (
            None if spec.body is None else {k: call.value(v, frame) for k, v in spec.body.items()}
        )
    except TemplateRenderError as exc:
        # A request that cannot be written (a secret not set, a variable missing) got no
        # response either: the flow's `on_error` decides, as for a refused connection.
        raise HttpFailed(f"{spec.method} {spec.service}: {exc}") from None
    # httpx would drop a query written in the path for `params`, even empty ones: merge them.
    try:
        target = httpx.URL(url).copy_merge_params(params)
    except (httpx.InvalidURL, ValueError) as exc:
        raise HttpFailed(call.trace.redact(f"{spec.method} {url}: {exc}")) from None
    timeout = (spec.timeout or service.timeout).total_seconds()
    shown = call.trace.redact(f"{spec.method} {target}")
    call.trace.command("http", shown)
    # httpx's timeout bounds each network operation; the service's timeout is for the whole
    # request (a server that trickles its reply must not hold the caller longer).
    with anyio.move_on_after(timeout) as deadline:
        try:
            response, data = await _send(client, spec.method, target, headers, body, timeout, shown)
        except HttpFailed as exc:
            raise HttpFailed(call.trace.redact(str(exc))) from None
    if deadline.cancelled_caught:
        raise HttpFailed(f"{shown}: no response within {timeout:g}s")
    try:
        text = data.decode(response.encoding or "utf-8")
    except (UnicodeDecodeError, LookupError):
        raise HttpFailed(f"{shown}: the response is not valid text") from None
    content_type = response.headers.get("content-type", "")
    parsed: Any = text
    if "json" in content_type or text[:1] in ("{", "["):
        try:
            parsed = json.loads(text)
        except ValueError:
            if "json" in content_type:
                raise HttpFailed(f"{shown}: the response says JSON but is not") from None
    return {"status": response.status_code, "body": parsed, "headers": dict(response.headers)}
