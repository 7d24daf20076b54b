"""The flow document: `Flow` and its top-level parts (languages, defaults, services, hooks).

A `Flow` is what the engine interprets. It is frozen; the loader attaches where it came from
(`source`, for diagnostics and traces) and the subflows it runs (`subflow(name)`), neither of
which is part of the JSON Schema. The helpers at the end answer the engine's questions with the
fallbacks applied: where an outcome leads (`outcome_routes`), what an input step's timeouts and
retry prompts are (`input_settings`), what to play (`prompt_items`).

A file with `returns:` is a subflow: `run` steps call it with `inputs` (read as `vars.NAME`), and
its `returns` names are targets inside it that end it with that outcome. Hooks (`on:`) belong to
the calling flow and are refused in subflows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, PlainValidator, PrivateAttr, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from ivrd.flow.base import FlowModel, field_error
from ivrd.flow.calendar import Calendar
from ivrd.flow.durations import Duration
from ivrd.flow.fieldtypes import (
    ChannelVar,
    Flag,
    InputKey,
    Language,
    Name,
    TemplateText,
    TimeZone,
    VarName,
)
from ivrd.flow.prompts import PromptDef, PromptItem, PromptUse
from ivrd.flow.routes import Go, Route
from ivrd.flow.steps import (
    HttpRequest,
    InputStep,
    Retry,
    Step,
    StepRoute,
)

if TYPE_CHECKING:
    from ivrd.flow.yamlpos import SourceMap

__all__ = [
    "SCHEMA_VERSION",
    "Defaults",
    "Flow",
    "HangupAction",
    "Hooks",
    "InputSettings",
    "KeyHook",
    "Languages",
    "LongCallHook",
    "Service",
    "SetAction",
    "SubflowInput",
    "Tts",
]

SCHEMA_VERSION = 1


def _version(value: Any) -> int:
    if str(value).strip() == str(SCHEMA_VERSION) and not isinstance(value, bool):
        return SCHEMA_VERSION
    raise PydanticCustomError(
        "version",
        "unsupported version '{value}'; this ivrd reads 'ivr: {supported}'",
        {"value": value, "supported": SCHEMA_VERSION},
    )


SchemaVersion = Annotated[
    int, PlainValidator(_version), WithJsonSchema({"enum": [SCHEMA_VERSION, str(SCHEMA_VERSION)]})
]


class Languages(FlowModel):
    """The languages prompts exist in; calls start in `default`."""

    default: Language = "en"
    available: tuple[Language, ...] = ()
    """Every language the flow speaks; just `default` when empty."""

    @model_validator(mode="after")
    def _default_available(self) -> Languages:
        if self.available and self.default not in self.available:
            raise field_error(
                "Languages",
                "default",
                "language",
                "'{value}' is not in 'available' ({available})",
                {"value": self.default, "available": ", ".join(self.available)},
                self.default,
            )
        return self

    @property
    def codes(self) -> tuple[str, ...]:
        return self.available or (self.default,)


class Tts(FlowModel):
    """The text-to-speech engine and voice for `say` prompts."""

    engine: str = "flite"
    voice: str = "kal"


class Defaults(FlowModel):
    """Inherited by every `menu` and `ask`, and the call's answer mode and step limit."""

    first_digit_timeout: Duration = timedelta(seconds=5)
    between_digits_timeout: Duration = timedelta(seconds=3)
    attempts: int = Field(default=3, ge=1, le=20)
    no_input: Retry | None = None
    invalid: Retry | None = None
    too_many_attempts: Route | None = None
    answer: Literal["answer", "early_media", "none"] = "answer"
    """Answer before the first step that needs media, use early media, or never answer."""
    max_steps: int | None = Field(default=None, ge=1)
    """Steps one call may take before it is stopped; the daemon's limit when not set."""


class Service(FlowModel):
    """A named HTTP API; headers usually carry `{{ secrets.NAME }}`."""

    base_url: TemplateText
    headers: dict[str, TemplateText] = Field(default_factory=dict)
    timeout: Duration = timedelta(seconds=5)


class KeyHook(Go):
    """A key sequence that interrupts the current step."""

    not_during: tuple[Name, ...] = ()
    """Steps during which the keys are ordinary input."""


class LongCallHook(Go):
    """Go somewhere once the call has lasted `after`."""

    after: Duration

    shorthand_schema: ClassVar[dict[str, Any] | None] = None


class SetAction(FlowModel):
    """Channel variables and CDR fields set when the call ends."""

    channel: dict[ChannelVar, TemplateText] = Field(default_factory=dict)
    cdr: dict[ChannelVar, TemplateText] = Field(default_factory=dict)


class HangupAction(FlowModel):
    """One thing done after the caller hung up: an HTTP request or setting CDR fields."""

    http: HttpRequest | None = None
    set_fields: SetAction | None = Field(default=None, alias="set")

    @model_validator(mode="after")
    def _exactly_one(self) -> HangupAction:
        if (self.http is None) == (self.set_fields is None):
            raise PydanticCustomError("hangup_action", "give exactly one of 'http' or 'set'")
        return self


class Hooks(FlowModel):
    """Events that interrupt the flow, wherever it is."""

    key: dict[InputKey, KeyHook] = Field(default_factory=dict)
    """Key sequences (e.g. `*0`) and where they lead."""
    hangup: tuple[HangupAction, ...] = ()
    """Run once when the call ends, even mid-step; no media."""
    error: Route | None = None
    """Where any unhandled failure leads."""
    call_longer_than: LongCallHook | None = None


class SubflowInput(FlowModel):
    """One input of a subflow; `NAME: digits` is short for `{type: digits}`."""

    type: Literal["string", "number", "boolean", "digits"] = "string"
    required: Flag = True
    default: TemplateText | None = None

    shorthand_schema: ClassVar[dict[str, Any] | None] = {
        "enum": ["string", "number", "boolean", "digits"]
    }

    @model_validator(mode="before")
    @classmethod
    def _from_type(cls, data: Any) -> Any:
        return {"type": data} if isinstance(data, str) else data


@dataclass(frozen=True, slots=True)
class InputSettings:
    """An input step's settings with the flow's defaults filled in."""

    attempts: int
    first_digit_timeout: timedelta
    between_digits_timeout: timedelta
    no_input: Retry
    invalid: Retry
    too_many_attempts: Route | None


class Flow(FlowModel):
    """One call flow: a state machine of named steps."""

    ivr: SchemaVersion
    """The file format's version: 1."""
    name: Name
    """Defaults to the file's name."""
    description: str | None = None
    timezone: TimeZone = ZoneInfo("UTC")
    """For calendars that do not name their own."""
    languages: Languages = Languages()
    tts: Tts = Tts()
    defaults: Defaults = Defaults()
    prompts: dict[Name, PromptDef] = Field(default_factory=dict)
    calendars: dict[Name, Calendar] = Field(default_factory=dict)
    services: dict[Name, Service] = Field(default_factory=dict)
    variables: dict[VarName, TemplateText] = Field(default_factory=dict)
    """Flow variables set when the call starts."""
    subflows: dict[Name, str] = Field(default_factory=dict)
    """Subflow name to file, relative to this file."""
    inputs: dict[VarName, SubflowInput] = Field(default_factory=dict)
    """A subflow's inputs."""
    returns: tuple[Name, ...] = ()
    """A subflow's ways out; makes this file a subflow."""
    outputs: tuple[VarName, ...] = ()
    """Variables a subflow hands back to `run`'s `save_as`."""
    start: Name
    """The first step."""
    steps: dict[Name, Step] = Field(min_length=1)
    on: Hooks = Hooks()

    _source: SourceMap | None = PrivateAttr(default=None)
    _subflows: dict[str, Flow] = PrivateAttr(default_factory=dict)
    _input_settings: dict[int, tuple[InputStep, InputSettings]] = PrivateAttr(default_factory=dict)

    @property
    def is_subflow(self) -> bool:
        return bool(self.returns)

    @property
    def source(self) -> SourceMap | None:
        """Where the flow was read from, with every value's position; None if built in code."""
        return self._source

    def subflow(self, name: str) -> Flow:
        """The loaded subflow `name`; KeyError when the loader did not attach it."""
        return self._subflows[name]

    def attach(self, source: SourceMap | None, subflows: dict[str, Flow]) -> None:
        """Used by the loader once: remember the source and the loaded subflows."""
        self._source = source
        self._subflows = dict(subflows)

    def outcome_routes(self, step_name: str) -> list[StepRoute]:
        """Every outcome of a step, with its route after all fallbacks, paths absolute."""
        step = self.steps[step_name]
        routes: list[StepRoute] = []
        for outcome, path, route in step.routes():
            found: StepRoute = (outcome, ("steps", step_name, *path), route)
            if route is None:
                found = self._fallback(outcome, found)
            routes.append(found)
        if isinstance(step, InputStep):
            have = {outcome for outcome, _, _ in routes}
            for outcome in ("no_input", "invalid"):
                retry = getattr(self.defaults, outcome)
                if outcome not in have and retry is not None and retry.go is not None:
                    routes.append((outcome, ("defaults", outcome, "go"), retry.go))
        return routes

    def _fallback(self, outcome: str, found: StepRoute) -> StepRoute:
        if outcome == "too_many_attempts" and self.defaults.too_many_attempts is not None:
            return (outcome, ("defaults", "too_many_attempts"), self.defaults.too_many_attempts)
        if outcome == "on_error" and self.on.error is not None:
            return (outcome, ("on", "error"), self.on.error)
        return found

    def route(self, step_name: str, outcome: str) -> Route | None:
        """Where `outcome` of the step leads, or None (a retry for no_input/invalid)."""
        for name, _, route in self.outcome_routes(step_name):
            if name == outcome:
                return route
        return None

    def input_settings(self, step: InputStep) -> InputSettings:
        """The step's settings, its own or the flow's defaults: worked out once per step (a
        loaded flow does not change; a reload makes new flows)."""
        known = self._input_settings.get(id(step))
        if known is not None and known[0] is step:
            return known[1]
        d = self.defaults
        settings = InputSettings(
            attempts=step.attempts or d.attempts,
            first_digit_timeout=step.first_digit_timeout or d.first_digit_timeout,
            between_digits_timeout=step.between_digits_timeout or d.between_digits_timeout,
            no_input=_merge_retry(step.no_input, d.no_input),
            invalid=_merge_retry(step.invalid, d.invalid),
            too_many_attempts=step.too_many_attempts or d.too_many_attempts,
        )
        self._input_settings[id(step)] = (step, settings)
        return settings

    def prompt_items(self, use: PromptUse, language: str) -> tuple[PromptItem, ...]:
        """The items to play for `use` in `language` (the default language if it has none)."""
        parts = use if isinstance(use, tuple) else (use,)
        items: list[PromptItem] = []
        for part in parts:
            if not isinstance(part, str):
                items.append(part)
                continue
            definition = self.prompts[part]
            if isinstance(definition, dict):
                spec = definition.get(language) or definition[self.languages.default]
            else:
                spec = definition
            items.extend(spec if isinstance(spec, tuple) else (spec,))
        return tuple(items)


def _merge_retry(step: Retry | None, default: Retry | None) -> Retry:
    if step is None:
        return default or Retry()
    if default is None:
        return step
    return Retry(prompt=step.prompt or default.prompt, go=step.go or default.go)
