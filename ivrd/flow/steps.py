"""The step types: what each step does and which outcomes it has.

Every step has a `type` and named outcomes, each a `Route`; nothing falls through. Outcomes that can
always happen are required fields (`next`, `open`, `closed`, `answered`); the others are optional
and fall back as documented on the field, and the checker reports an outcome that still leads
nowhere as a dead end. `hangup` is the only step that ends a call.

`routes()` lists a step's outcomes with where each is written; the checker, the graph and the
engine all read outcomes through it, so a new step type is described in one place. The steps
that reach outside the call (http, transfer, voicemail, record, queue) live in `telephony.py`,
what all steps share in `stepbase.py`; this module re-exports them and defines the `Step` union.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self, get_args

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ivrd.flow.base import FlowModel, field_error
from ivrd.flow.durations import Duration
from ivrd.flow.fieldtypes import (
    AppName,
    ChannelVar,
    Flag,
    InputKey,
    Language,
    Name,
    Regex,
    TemplateText,
    VarName,
)
from ivrd.flow.prompts import PromptUse
from ivrd.flow.routes import Choice, Route
from ivrd.flow.stepbase import EndKey, StepBase, StepRoute, fallback_route
from ivrd.flow.telephony import (
    CallerId,
    HttpRequest,
    HttpStep,
    QueueStep,
    RecordStep,
    TransferStep,
    VoicemailStep,
)

__all__ = [
    "HANGUP_CAUSES",
    "STEP_TYPES",
    "AppStep",
    "AskStep",
    "EndKey",
    "CallerId",
    "CheckHoursStep",
    "ChooseStep",
    "Digits",
    "HangupStep",
    "HttpRequest",
    "HttpStep",
    "InputStep",
    "MenuStep",
    "PlayStep",
    "QueueStep",
    "RecordStep",
    "Retry",
    "RunStep",
    "SetStep",
    "Step",
    "StepBase",
    "StepRoute",
    "TransferStep",
    "VoicemailStep",
]

HangupCause = Literal[
    "NORMAL_CLEARING",
    "USER_BUSY",
    "NO_ANSWER",
    "CALL_REJECTED",
    "UNALLOCATED_NUMBER",
    "NO_ROUTE_DESTINATION",
    "NORMAL_TEMPORARY_FAILURE",
    "SERVICE_UNAVAILABLE",
    "DESTINATION_OUT_OF_ORDER",
    "INVALID_NUMBER_FORMAT",
    "FACILITY_REJECTED",
    "NORMAL_UNSPECIFIED",
]
HANGUP_CAUSES: tuple[str, ...] = get_args(HangupCause)


class Retry(FlowModel):
    """What happens after silence (`no_input`) or a wrong entry (`invalid`)."""

    prompt: PromptUse | None = None
    """Played before the next attempt (replaces the flow's default)."""
    go: Route | None = None
    """Leave at once instead of trying again."""


class Digits(FlowModel):
    """How many digits an `ask` step collects."""

    min: int = Field(default=1, ge=1, le=128)
    max: int = Field(ge=1, le=128)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise field_error(
                "Digits",
                "min",
                "digits_order",
                "must be at most 'max' ({max})",
                {"max": self.max},
                self.min,
            )
        return self


class InputStep(StepBase):
    """What `menu` and `ask` share: a prompt, timeouts and attempts (default: `defaults`)."""

    prompt: PromptUse
    """Played at each attempt. FreeSWITCH's input application plays the prompt's end: its
    sound files after its last other item, or else its last `say` or `phrase`. Keys pressed
    during that part count as input; what comes before it plays first, as an ordinary prompt,
    and keys pressed there reach only key hooks."""
    attempts: int | None = Field(default=None, ge=1, le=20)
    first_digit_timeout: Duration | None = None
    """Waiting for the first key, counted from the end of the prompt."""
    between_digits_timeout: Duration | None = None
    """Waiting for each further key."""
    no_input: Retry | None = None
    """After silence: a prompt before trying again, or a route to leave."""
    invalid: Retry | None = None
    """After a wrong entry: a prompt before trying again, or a route to leave."""
    too_many_attempts: Route | None = None
    """After `attempts` failures; defaults to `defaults.too_many_attempts`."""
    save_as: VarName | None = None
    """Store the entry in `vars.NAME`."""
    sensitive: Flag = False
    """Mask the entry in logs and traces."""

    waits_for_input: ClassVar[bool] = True

    def retry_routes(self) -> list[StepRoute]:
        routes: list[StepRoute] = []
        for outcome, retry in (("no_input", self.no_input), ("invalid", self.invalid)):
            if retry is not None and retry.go is not None:
                routes.append((outcome, (outcome, "go"), retry.go))
        routes.append(("too_many_attempts", ("too_many_attempts",), self.too_many_attempts))
        return routes

    @property
    def needs_media(self) -> bool:
        return True


class MenuStep(InputStep):
    """Play a prompt and branch on the key (or key sequence) pressed."""

    type: Literal["menu"]
    options: dict[InputKey, Route] = Field(min_length=1)
    """Key (`"1"`, `"#"`, `"*0"`) to route."""

    def routes(self) -> list[StepRoute]:
        own: list[StepRoute] = [(key, ("options", key), r) for key, r in self.options.items()]
        return own + self.retry_routes()


class AskStep(InputStep):
    """Collect digits (an account number, a PIN) and store them."""

    type: Literal["ask"]
    digits: Digits
    end_key: EndKey = "#"
    """Ends the entry early; `none` for no end key."""
    must_match: Regex | None = None
    """A regular expression the whole entry must match, else it is `invalid`."""
    next: Route

    def routes(self) -> list[StepRoute]:
        return [("next", ("next",), self.next), *self.retry_routes()]


class PlayStep(StepBase):
    """Play one or more prompts, then go on."""

    type: Literal["play"]
    prompt: PromptUse
    next: Route

    @property
    def needs_media(self) -> bool:
        return True


class CheckHoursStep(StepBase):
    """Branch on a calendar: open, closed, or a public holiday."""

    type: Literal["check_hours"]
    calendar: Name
    open: Route
    closed: Route
    holiday: Route | None = None
    """Defaults to `closed`."""

    def routes(self) -> list[StepRoute]:
        return [
            ("open", ("open",), self.open),
            ("closed", ("closed",), self.closed),
            fallback_route("holiday", self.holiday, "closed", self.closed),
        ]


class ChooseStep(StepBase):
    """Branch on conditions, without touching the call."""

    type: Literal["choose"]
    branches: Choice
    """`[{if: EXPR, go: STEP}, ..., {else: STEP}]`"""

    def routes(self) -> list[StepRoute]:
        return [("branches", ("branches",), self.branches)]


class SetStep(StepBase):
    """Set flow variables, channel variables, CDR fields or the caller's language."""

    type: Literal["set"]
    vars: dict[VarName, TemplateText] = Field(default_factory=dict)
    channel: dict[ChannelVar, TemplateText] = Field(default_factory=dict)
    """FreeSWITCH channel variables."""
    cdr: dict[ChannelVar, TemplateText] = Field(default_factory=dict)
    """Fields for the call detail record (exported channel variables)."""
    language: Language | None = None
    """The language prompts are played in from now on."""
    next: Route

    @model_validator(mode="after")
    def _sets_something(self) -> Self:
        if not (self.vars or self.channel or self.cdr or self.language):
            raise PydanticCustomError(
                "set_empty", "sets nothing: give vars, channel, cdr or language"
            )
        return self


class RunStep(StepBase):
    """Run a subflow; each of its `returns` is an outcome here."""

    type: Literal["run"]
    subflow: Name
    inputs: dict[VarName, TemplateText] = Field(default_factory=dict)
    """The subflow's inputs (templated); it reads them as `vars.NAME`."""
    returns: dict[Name, Route] = Field(min_length=1)
    """Return name to route."""
    save_as: VarName | None = None
    """Store the subflow's `outputs` as `vars.NAME.OUTPUT`."""

    def routes(self) -> list[StepRoute]:
        return [(name, ("returns", name), r) for name, r in self.returns.items()]


class HangupStep(StepBase):
    """End the call, after an optional prompt."""

    type: Literal["hangup"]
    prompt: PromptUse | None = None
    cause: HangupCause = "NORMAL_CLEARING"

    def routes(self) -> list[StepRoute]:
        return []

    @property
    def needs_media(self) -> bool:
        return self.prompt is not None


class AppStep(StepBase):
    """Run a raw FreeSWITCH application, for experts."""

    type: Literal["app"]
    name: AppName
    arg: TemplateText | None = None
    needs_answer: Flag = True
    """Whether the application needs the call answered first."""
    next: Route

    @property
    def needs_media(self) -> bool:
        return self.needs_answer


Step = Annotated[
    PlayStep
    | MenuStep
    | AskStep
    | CheckHoursStep
    | ChooseStep
    | SetStep
    | HttpStep
    | TransferStep
    | VoicemailStep
    | RecordStep
    | QueueStep
    | RunStep
    | HangupStep
    | AppStep,
    Field(discriminator="type"),
]
"""Any step, selected by its `type`."""

STEP_TYPES: tuple[str, ...] = (
    "play", "menu", "ask", "check_hours", "choose", "set", "http",
    "transfer", "voicemail", "record", "queue", "run", "hangup", "app",
)  # fmt: skip
