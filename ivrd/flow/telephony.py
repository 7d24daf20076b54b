"""Steps that reach outside the call: HTTP requests, transfers, voicemail, recordings, queues.

How the engine classifies their outcomes is documented on each model: a transfer by
`originate_disposition` (busy, no answer, anything else unavailable), a queue (mod_callcenter)
by whether an agent answered, an HTTP request by whether any response came back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from ivrd.flow.base import FlowModel
from ivrd.flow.durations import Duration
from ivrd.flow.fieldtypes import TEXT_SCHEMA, Flag, Name, TemplateText, VarName
from ivrd.flow.prompts import PromptUse
from ivrd.flow.routes import Route
from ivrd.flow.stepbase import EndKey, StepBase, StepRoute, fallback_route

__all__ = [
    "CallerId",
    "HttpRequest",
    "HttpStep",
    "QueueStep",
    "RecordStep",
    "TransferStep",
    "VoicemailStep",
]


def _targets(value: Any) -> Any:
    return value if isinstance(value, list | tuple) else [value]


class HttpRequest(FlowModel):
    """A request to one of the flow's `services`."""

    service: Name
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: TemplateText | None = None
    """Appended to the service's `base_url`."""
    query: dict[str, TemplateText] = Field(default_factory=dict)
    headers: dict[str, TemplateText] = Field(default_factory=dict)
    """Added to (and overriding) the service's headers."""
    body: dict[str, TemplateText] | None = None
    """Sent as a JSON object of strings."""
    timeout: Duration | None = None
    """Defaults to the service's timeout."""


class HttpStep(StepBase, HttpRequest):
    """Call an HTTP API. Any response, whatever its status, goes to `next` with `result.status`;
    `on_error` is for no response at all (refused, timed out, unreadable)."""

    type: Literal["http"]
    save_as: VarName | None = None
    """Store the response body (parsed JSON, else text) in `vars.NAME`."""
    next: Route
    on_error: Route | None = None
    """Defaults to the flow's `on.error` hook."""

    def routes(self) -> list[StepRoute]:
        return [("next", ("next",), self.next), ("on_error", ("on_error",), self.on_error)]


class CallerId(FlowModel):
    """The caller ID shown to the transfer target."""

    name: TemplateText | None = None
    number: TemplateText | None = None


class TransferStep(StepBase):
    """Bridge the caller to one or more destinations; the flow goes on when the bridge ends."""

    type: Literal["transfer"]
    to: Annotated[
        tuple[TemplateText, ...],
        BeforeValidator(_targets),
        Field(min_length=1),
        WithJsonSchema(
            {"anyOf": [TEXT_SCHEMA, {"type": "array", "items": TEXT_SCHEMA, "minItems": 1}]}
        ),
    ]
    """A FreeSWITCH dial string (`user/2001`, `sofia/gateway/gw/+4989...`), or a list."""
    all_at_once: Flag = False
    """Ring a list together instead of one by one."""
    ring_for: Duration | None = None
    """How long each destination rings before it counts as `no_answer` (the bridge's
    `originate_timeout`, whole seconds; with `all_at_once`, how long they all ring together)."""
    caller_id: CallerId | None = None
    prompt: PromptUse | None = None
    """Played before ringing, e.g. "please hold"."""
    answered: Route
    """After a bridge ends with the caller still on the line."""
    busy: Route | None = None
    """Defaults to `unavailable`."""
    no_answer: Route | None = None
    """Defaults to `unavailable`."""
    unavailable: Route | None = None
    """Any other failure."""

    def routes(self) -> list[StepRoute]:
        return [
            ("answered", ("answered",), self.answered),
            fallback_route("busy", self.busy, "unavailable", self.unavailable),
            fallback_route("no_answer", self.no_answer, "unavailable", self.unavailable),
            ("unavailable", ("unavailable",), self.unavailable),
        ]

    @property
    def needs_media(self) -> bool:
        return self.prompt is not None


class VoicemailStep(StepBase):
    """Leave a voicemail with mod_voicemail (`voicemail PROFILE DOMAIN BOX`)."""

    type: Literal["voicemail"]
    box: TemplateText
    domain: TemplateText | None = None
    """Defaults to the channel's `domain_name`."""
    profile: Name = "default"
    next: Route
    """After the caller has left a message (if still on the line)."""

    @property
    def needs_media(self) -> bool:
        return True


class RecordStep(StepBase):
    """Record the caller to a file (FreeSWITCH `record`)."""

    type: Literal["record"]
    path: TemplateText
    """Where the file goes, e.g. `/var/lib/ivrd/{{ call.uuid }}.wav`."""
    prompt: PromptUse | None = None
    beep: Flag = True
    max_length: Duration = timedelta(minutes=2)
    silence: Duration | None = None
    """Stop after this much silence."""
    silence_threshold: int = Field(default=200, ge=0, le=10000)
    end_key: EndKey = "#"
    save_as: VarName | None = None
    """Store the file's path in `vars.NAME`."""
    next: Route

    @property
    def needs_media(self) -> bool:
        return True


class QueueStep(StepBase):
    """Wait in a mod_callcenter queue for an agent (`callcenter QUEUE`)."""

    type: Literal["queue"]
    name: TemplateText
    """The queue, e.g. `support@default`."""
    prompt: PromptUse | None = None
    answered: Route
    """After talking to an agent, with the caller still on the line."""
    no_answer: Route | None = None
    """Left the queue without an agent (timeout, break-out); defaults to `unavailable`."""
    unavailable: Route | None = None
    """No agent logged in, or no such queue."""

    def routes(self) -> list[StepRoute]:
        return [
            ("answered", ("answered",), self.answered),
            fallback_route("no_answer", self.no_answer, "unavailable", self.unavailable),
            ("unavailable", ("unavailable",), self.unavailable),
        ]

    @property
    def needs_media(self) -> bool:
        return True
