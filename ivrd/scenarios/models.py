"""The scenario file: what a test call does and what it must show, as pydantic models.

A scenario file names a flow, `defaults` every scenario shares, and `scenarios` by name. Each
scenario gives the call's channel data, a fixed clock, what the caller does (`caller:`), how
the world answers (mocked HTTP services, transfer targets, prompt lengths) and what must be seen
(`expect:`). The models share the flow models' base, so an unknown field gets the same "did you
mean" and every error is located the same way (`file:line:col: path: message`).

Scalars arrive as text from the positions loader; pydantic converts numbers. The one place a
type is taken from how YAML reads a scalar is an HTTP mock's `json:` body (see `typedyaml`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ivrd.flow.base import FlowModel, field_error
from ivrd.flow.durations import Duration
from ivrd.flow.errors import did_you_mean
from ivrd.flow.fieldtypes import AppName, ChannelVar, Flag, TimeZone, VarName
from ivrd.scenarios.fields import (
    DISPOSITIONS,
    NEXT_QUESTION,
    Cause,
    Disposition,
    Keys,
    Moment,
    Silence,
    Target,
)

__all__ = [
    "DISPOSITIONS",
    "CallerAction",
    "Expect",
    "HttpReply",
    "QueueResult",
    "Scenario",
    "ScenarioFile",
    "ScenarioSettings",
    "TransferResult",
]


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class HttpReply(FlowModel):
    """One mocked answer of an HTTP service; `method`/`path`/`times` say which requests get it."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] | None = None
    """Only requests with this method (default: any)."""
    path: str | None = None
    """Only requests to this path below the service's base URL; `*` matches any text."""
    times: int | None = Field(default=None, ge=1)
    """Answer only the first N matching requests; later ones go to the next rule."""
    status: int = Field(default=200, ge=100, le=599)
    json_body: Any = Field(default=None, alias="json")
    """A JSON body; scalars are typed as YAML 1.2 reads them (`true`, `42`, `"42"`)."""
    text: str | None = None
    """A text body."""
    headers: dict[str, str] = Field(default_factory=dict)
    delay: Duration = timedelta(0)
    """How long the service takes to answer; past the flow's timeout the request times out."""
    failure: Literal["refused", "timeout"] | None = None
    """No answer at all: the connection is refused, or the request times out."""

    @model_validator(mode="after")
    def _one_body(self) -> HttpReply:
        if self.json_body is not None and self.text is not None:
            raise field_error(
                "HttpReply", "text", "body", "give either 'json' or 'text', not both", {}, self.text
            )
        return self


class TransferResult(FlowModel):
    """What a transfer target does; `busy` is short for `{result: busy}`."""

    result: Literal["answered", "busy", "no_answer", "failed"]
    talk: Duration = timedelta(seconds=10)
    """answered: how long the conversation lasts before the target hangs up."""
    ring: Duration | None = None
    """How long it rings before answering, being busy or failing."""
    cause: Cause = "NO_ROUTE_DESTINATION"
    """failed: the hangup cause (USER_NOT_REGISTERED, CALL_REJECTED...)."""

    shorthand_schema: ClassVar[dict[str, Any] | None] = {
        "enum": ["answered", "busy", "no_answer", "failed"]
    }

    @model_validator(mode="before")
    @classmethod
    def _from_word(cls, data: Any) -> Any:
        return {"result": data} if isinstance(data, str) else data


class QueueResult(FlowModel):
    """What a mod_callcenter queue does with the caller; `missing` is short for
    `{result: missing}`."""

    result: Literal["answered", "timeout", "no_agent", "missing"]
    wait: Duration | None = None
    """How long the caller waits: until an agent answers (answered, default 10s), the queue's
    max-wait-time (timeout, default 60s), or until the queue gives up for want of agents
    (no_agent, default 15s)."""
    talk: Duration = timedelta(seconds=10)
    """answered: how long the agent talks before hanging up."""
    agent: str = "1000@default"
    """answered: the agent's name (`cc_agent`)."""

    shorthand_schema: ClassVar[dict[str, Any] | None] = {
        "enum": ["answered", "timeout", "no_agent", "missing"]
    }

    @model_validator(mode="before")
    @classmethod
    def _from_word(cls, data: Any) -> Any:
        return {"result": data} if isinstance(data, str) else data


class CallerAction(FlowModel):
    """One thing the caller does: `press`, `silence` or `hangup`, each at its trigger.

    Triggers: `during` a step (the application it waits in) or an application, `after` one ended,
    `at` a time into the call; then `delay`. Without a trigger, `press` and bare `silence` wait
    for the next question (menu or ask), `hangup` and `silence: DURATION` act at once.
    """

    press: Keys | None = None
    """Keys to press, `interval` apart."""
    silence: Silence | None = None
    """`silence: 6s` does nothing for 6 s; a bare `silence` lets the next question time out."""
    hangup: Annotated[
        bool,
        WithJsonSchema(
            {"anyOf": [{"type": "null"}, {"type": "boolean"}, {"type": "object"}]},
        ),
    ] = False
    """Hang up (with `cause`); `hangup: {during: STEP}` puts the trigger inside."""
    during: Target | None = None
    """While this step's application (or this application) runs."""
    after: Target | None = None
    """Once this step's application (or this application) has ended."""
    at: Duration | None = None
    """This long after the call reached ivrd."""
    nth: int | None = Field(default=None, ge=1)
    """The n-th matching application of the call (default: the next one not used yet)."""
    delay: Duration = timedelta(0)
    """Wait this long after the trigger."""
    interval: Duration = timedelta(milliseconds=100)
    """Between keys."""
    cause: Cause = "NORMAL_CLEARING"
    """The hangup cause of `hangup`."""

    shorthand_schema: ClassVar[dict[str, Any] | None] = {"enum": ["silence", "hangup"]}

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        """`silence` / `hangup` alone, and `hangup: {during: X}`, to the flat form."""
        if data == "silence":
            return {"silence": NEXT_QUESTION}
        if data == "hangup":
            return {"hangup": True}
        if isinstance(data, str):
            raise PydanticCustomError(
                "action",
                "a caller action is press: KEYS, silence, silence: DURATION or hangup, "
                "not '{value}'{hint}",
                {"value": data, "hint": did_you_mean(data, ("silence", "hangup"))},
            )
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "silence" in data and data["silence"] is None:
            data["silence"] = NEXT_QUESTION
        if "hangup" in data:
            value = data["hangup"]
            if isinstance(value, dict):
                clash = sorted(set(value) & set(data))
                if clash:
                    raise PydanticCustomError(
                        "action", "'{field}' is given twice", {"field": clash[0]}
                    )
                data.update(value)
                data["hangup"] = True
            elif value is None:
                data["hangup"] = True
        return data

    @model_validator(mode="after")
    def _one_action(self) -> CallerAction:
        given = [
            word
            for word, present in (
                ("press", self.press is not None),
                ("silence", self.silence is not None),
                ("hangup", self.hangup),
            )
            if present
        ]
        if len(given) != 1:
            found = f"; found {', '.join(given)}" if given else ""
            raise PydanticCustomError(
                "action", "give exactly one of press, silence or hangup{found}", {"found": found}
            )
        triggers = [name for name in ("during", "after", "at") if getattr(self, name) is not None]
        if len(triggers) > 1:
            raise field_error(
                "CallerAction",
                triggers[1],
                "trigger",
                "give one trigger: during, after or at",
                {},
                getattr(self, triggers[1]),
            )
        if self.nth is not None and self.during is None and self.after is None:
            raise field_error(
                "CallerAction", "nth", "trigger", "'nth' counts 'during' or 'after'", {}, self.nth
            )
        return self

    @property
    def kind(self) -> str:
        if self.press is not None:
            return "press"
        return "hangup" if self.hangup else "silence"

    def describe(self) -> str:
        """The action as a person would write it, for reports."""
        if self.press is not None:
            what = f"press {self.press}"
        elif self.hangup:
            what = "hangup" if self.cause == "NORMAL_CLEARING" else f"hangup ({self.cause})"
        elif isinstance(self.silence, timedelta):
            what = f"silence {_seconds(self.silence)}"
        else:
            what = "silence"
        if self.during is not None:
            what += f" during {self.during}"
        elif self.after is not None:
            what += f" after {self.after}"
        elif self.at is not None:
            what += f" at {_seconds(self.at)}"
        if self.nth is not None:
            what += f" (#{self.nth})"
        if self.delay:
            what += f" +{_seconds(self.delay)}"
        return what


def _seconds(value: timedelta) -> str:
    return f"{value.total_seconds():g}s"


class Expect(FlowModel):
    """What the call must show. Only what is given is checked."""

    path: tuple[str, ...] | None = None
    """The steps visited, exactly and in order (a subflow's steps by their own names)."""
    path_contains: tuple[str, ...] | None = None
    """Steps visited in this order, others allowed in between."""
    prompts: tuple[str, ...] | None = None
    """What the caller heard, exactly and in order: file names, TTS text, `phrase:NAME`,
    `digits:123`, `number:42`."""
    prompts_contain: tuple[str, ...] | None = None
    """Prompts heard in this order, others allowed in between."""
    variables: dict[VarName, Any] | None = None
    """Flow variables at the end (sensitive ones read `****`; null: not set)."""
    channel_variables: dict[ChannelVar, str | None] | None = None
    """FreeSWITCH channel variables at the end (null: not set)."""
    disposition: Disposition | None = None
    """How the call ended: hangup (a hangup step), caller_hangup, error, max_steps..."""
    hangup_cause: Cause | None = None
    apps: tuple[str, ...] | None = None
    """Every FreeSWITCH application run, in order: `playback`, or `set language=de` to also
    check the start of its argument."""
    apps_contain: tuple[str, ...] | None = None
    """Applications run in this order, others allowed in between."""


Replies = Annotated[tuple[HttpReply, ...], BeforeValidator(_as_list)]


class ScenarioSettings(FlowModel):
    """What a scenario sets up; `defaults` gives it to every scenario of the file."""

    at: Moment | None = None
    """The clock when the call starts (default: now); it runs on with the call."""
    timezone: TimeZone | None = None
    """For an `at` without offset (default: the flow's)."""
    caller_id: str | None = None
    """The caller's number."""
    caller_name: str | None = None
    destination: str | None = None
    """The number dialled."""
    channel: dict[ChannelVar, str] = Field(default_factory=dict)
    """Channel variables the dialplan set before handing the call over."""
    variables: dict[VarName, str] = Field(default_factory=dict)
    """Flow variables at the start, over the flow's `variables`."""
    secrets: dict[str, str] = Field(default_factory=dict)
    """`secrets.NAME` values (default: `test-NAME`)."""
    http: dict[str, Replies] = Field(default_factory=dict)
    """Mocked HTTP services by service name or URL prefix; a list is tried in order."""
    transfers: dict[str, TransferResult] = Field(default_factory=dict)
    """What each transfer target does (`*`: any other; default: answers, talks 10 s)."""
    queues: dict[str, QueueResult] = Field(default_factory=dict)
    """What each mod_callcenter queue does, by the name the flow's queue step gives (`*`: any
    other; default: no such queue)."""
    files: dict[str, Duration] = Field(default_factory=dict)
    """How long sound files play (default: 1s)."""
    durations: dict[AppName, Duration] = Field(default_factory=dict)
    """How long other applications take: `record` and `voicemail` (how long the caller talks,
    default 5s and 10s), `speak` (default: by the text's length)..."""
    hangup_after_voicemail: Flag | None = None
    """Whether the caller hangs up after leaving a voicemail (default: true)."""
    max_duration: Duration | None = None
    """The longest the call may last (default: 1h); the clock is simulated."""


class Scenario(ScenarioSettings):
    """One test call."""

    flow: str | None = None
    """The flow file, relative to the scenario file (default: the file's `flow`)."""
    description: str | None = None
    caller: tuple[CallerAction, ...] = ()
    """What the caller does, in order."""
    expect: Expect = Expect()


class ScenarioFile(FlowModel):
    """A scenario file: `*.test.yaml`, usually next to its flow."""

    flow: str | None = None
    """The flow file, relative to this file."""
    defaults: ScenarioSettings = ScenarioSettings()
    scenarios: dict[str, Scenario] = Field(min_length=1)
    """Scenarios by name."""
