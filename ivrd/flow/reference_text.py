"""The words of the generated reference: type names, notes for undocumented fields, intros.

Data only, for `ivrd.flow.reference`. A field's docstring always wins over a note here; a test
fails when a note is no longer needed (the model gained a docstring) or names no field.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ivrd.flow.calendar import Calendar, ClosedDates, Hours, PublicHolidays, SpecialHours
from ivrd.flow.durations import Duration
from ivrd.flow.fieldtypes import (
    AppName,
    ChannelVar,
    Flag,
    InputKey,
    Language,
    Name,
    Regex,
    TemplateExpr,
    TemplateText,
    TimeZone,
    VarName,
)
from ivrd.flow.models import (
    Defaults,
    Flow,
    HangupAction,
    Hooks,
    Languages,
    LongCallHook,
    SchemaVersion,
    Service,
    SetAction,
    SubflowInput,
    Tts,
)
from ivrd.flow.prompts import (
    DigitsItem,
    NumberItem,
    PhraseItem,
    PlayItem,
    PromptDef,
    PromptItem,
    PromptUse,
    SayItem,
)
from ivrd.flow.routes import ElseBranch, Go, IfBranch, Route
from ivrd.flow.stepbase import EndKey, StepBase
from ivrd.flow.steps import Digits
from ivrd.flow.telephony import CallerId, HttpRequest

__all__ = [
    "FIELD_NOTES",
    "INTRO",
    "LOADER_DEFAULTS",
    "MODEL_NOTES",
    "PARTS",
    "SETTING_NOTES",
    "STEPS_INTRO",
    "VALUE_TYPES",
    "ValueType",
]

ValueType = tuple[Any, str, str]

VALUE_TYPES: list[ValueType] = [
    (
        Route,
        "route",
        "Where an outcome leads: a step name, `{go: STEP, set: {...}}`, or a list "
        "of conditions (see [Routes](#routes)).",
    ),
    (
        PromptUse,
        "prompt",
        "What a step plays: the name of a prompt under `prompts:`, an inline "
        "item (`{say: ...}`), or a list of both, played in order (see [Prompts](#prompts)).",
    ),
    (
        PromptDef,
        "prompt definition",
        "A named prompt: one item or list for every language, or "
        "one per language code (`{en: ..., de: ...}`).",
    ),
    (
        PromptItem,
        "prompt item",
        "One of `play`, `say`, `phrase`, `digits`, `number` (see [Prompts](#prompts)).",
    ),
    (
        Duration,
        "duration",
        "A number with a unit: `500ms`, `5s`, `2m`, `1h`, `1m30s`. A bare "
        "number is refused: it could mean seconds or milliseconds.",
    ),
    (
        TemplateText,
        "template",
        "Text that may contain `{{ ... }}` (sandboxed Jinja2) with "
        "`call`, `vars`, `result`, `secrets` and `flow`; numbers and true/false are read as text. "
        "A value filled in stays data: where it would take part in a FreeSWITCH `${...}` "
        "expansion the step fails (`on.error`), so write FreeSWITCH's own `${...}` outside "
        "`{{ }}`; in an `http` path each value is one URL-encoded segment.",
    ),
    (
        TemplateExpr,
        "expression",
        "A Jinja2 expression without braces, e.g. `result.status == 200 and vars.customer.vip`.",
    ),
    (
        Name,
        "name",
        "A step, prompt, calendar, service or subflow name: letters, digits, `_` "
        "and `-`, starting with a letter or `_`.",
    ),
    (
        VarName,
        "variable name",
        "Letters, digits and `_`, starting with a letter or `_`: read as `vars.NAME`.",
    ),
    (InputKey, "key", "A key or key sequence on the keypad: `1`, `#`, `*0` (up to 16 keys)."),
    (EndKey, "end key", "One key (`0`-`9`, `*`, `#`) or `none`."),
    (Language, "language", "A language code such as `en`, `de` or `pt-BR`."),
    (
        ChannelVar,
        "channel variable",
        "A FreeSWITCH channel variable name: letters, digits, `_`, `-` and `.`.",
    ),
    (AppName, "application", "A FreeSWITCH dialplan application name (`a-z`, `0-9`, `_`)."),
    (
        Flag,
        "true/false",
        "`true` or `false`; `yes`, `no`, `on` and `off` are refused as ambiguous.",
    ),
    (Regex, "regular expression", "A Python regular expression, checked when the flow loads."),
    (TimeZone, "time zone", "An IANA time zone such as `Europe/Berlin` or `UTC`."),
    (SchemaVersion, "`1`", "The version of the file format."),
    (
        Hours,
        "weekly hours",
        'Days to opening times: `{mon-fri: "08:00-18:00", sat: '
        '"09:00-12:00, 13:00-15:00", sun: closed}`; a range may wrap past midnight.',
    ),
    (
        ClosedDates,
        "closed dates",
        "A list of dates (`2026-12-24`) or inclusive spans (`2026-12-27..2026-12-31`).",
    ),
    (
        SpecialHours,
        "special hours",
        "Dates to opening times for that day: "
        '`{"2026-12-23": "08:00-13:00"}`; `closed` closes the day.',
    ),
]
"""The field types a flow author meets, with the name and explanation the reference uses."""

FIELD_NOTES: dict[tuple[type[BaseModel], str], str] = {
    (Flow, "description"): "What the flow is for; shown by `ivrd validate` and in graphs.",
    (Flow, "languages"): "The languages the flow's prompts exist in.",
    (Flow, "tts"): "The text-to-speech engine and voice for `say` prompts.",
    (Flow, "defaults"): "Settings inherited by every `menu` and `ask` step.",
    (Flow, "prompts"): "Every sentence the flow plays, by name, per language.",
    (Flow, "calendars"): "Opening hours and holidays, by name, for `check_hours` steps.",
    (Flow, "services"): "HTTP APIs, by name, for `http` steps and hangup hooks.",
    (Flow, "steps"): "The steps, by name; each has a `type` (see [Steps](#steps)).",
    (Flow, "on"): "Hooks: events that interrupt the flow wherever it is.",
    (Languages, "default"): "The language a call starts in.",
    (Tts, "engine"): "The FreeSWITCH TTS module (`flite`, `unimrcp`...).",
    (Tts, "voice"): "The engine's voice.",
    (Defaults, "first_digit_timeout"): "For every input step: waiting for the first key, "
    "counted from the end of the prompt.",
    (Defaults, "between_digits_timeout"): "For every input step: waiting for each further key.",
    (Defaults, "attempts"): "For every input step: failures (silence or wrong entries) "
    "allowed before `too_many_attempts`.",
    (Defaults, "no_input"): "For every input step: what happens after silence.",
    (Defaults, "invalid"): "For every input step: what happens after a wrong entry.",
    (Defaults, "too_many_attempts"): "For every input step: where to go after `attempts` failures.",
    (DigitsItem, "digits"): "The digits to speak one by one.",
    (NumberItem, "number"): "The number to speak.",
    (Calendar, "hours"): "Opening times per weekday; days not named are closed.",
    (Calendar, "public_holidays"): "Public holidays that close the calendar.",
    (Calendar, "closed"): "Extra closed dates (company holidays); they count as holidays.",
    (Calendar, "special_hours"): "Opening times for single dates, which win over everything "
    "else for that date (even a public holiday).",
    (Calendar, "timezone"): "The calendar's own time zone; the flow's `timezone` if not set.",
    (PublicHolidays, "country"): "An ISO country code, e.g. `DE`.",
    (PublicHolidays, "region"): "A subdivision of the country, e.g. `BY` for Bavaria.",
    (PublicHolidays, "observed"): "Include days a holiday is moved to when it falls on a weekend.",
    (PublicHolidays, "categories"): "Which of the `holidays` package's lists count (e.g. "
    "`catholic` adds Assumption Day in Bavaria).",
    (Service, "base_url"): "The URL requests start with, e.g. `https://crm.example/api`.",
    (Service, "headers"): "Sent with every request, e.g. "
    '`Authorization: "Bearer {{ secrets.CRM_TOKEN }}"`.',
    (Service, "timeout"): "How long a request may take; past it the request has failed.",
    (SubflowInput, "type"): "What the input holds.",
    (SubflowInput, "required"): "Whether a `run` step must give it.",
    (SubflowInput, "default"): "The value when a `run` step does not give it.",
    (Digits, "min"): "The fewest digits that make an entry.",
    (Digits, "max"): "The most digits; the entry ends by itself when they are in.",
    (HttpRequest, "service"): "The service (under `services:`) to call.",
    (HttpRequest, "method"): "The HTTP method.",
    (HttpRequest, "query"): "Query parameters (templated values).",
    (CallerId, "name"): "The caller ID name.",
    (CallerId, "number"): "The caller ID number.",
    (Hooks, "call_longer_than"): "Go somewhere once the call has lasted a while.",
    (HangupAction, "http"): "An HTTP request to one of the flow's services.",
    (HangupAction, "set"): "Channel variables or CDR fields to set.",
    (SetAction, "channel"): "FreeSWITCH channel variables.",
    (SetAction, "cdr"): "Fields for the call detail record.",
    (LongCallHook, "after"): "How long the call may last before the hook fires.",
    (StepBase, "prompt"): "Played first.",
    (StepBase, "next"): "Where to go when the step is done.",
    (StepBase, "attempts"): "Failures (silence or wrong entries) allowed before "
    "`too_many_attempts`; defaults to `defaults.attempts`.",
    (StepBase, "digits"): "How many digits to collect.",
    (StepBase, "calendar"): "The calendar (under `calendars:`) to ask.",
    (StepBase, "open"): "Where to go while the calendar is open.",
    (StepBase, "closed"): "Where to go while it is closed.",
    (StepBase, "vars"): "Flow variables to set (templated values), read as `vars.NAME`.",
    (StepBase, "service"): "The service (under `services:`) to call.",
    (StepBase, "method"): "The HTTP method.",
    (StepBase, "query"): "Query parameters (templated values).",
    (StepBase, "caller_id"): "The caller ID the destination sees.",
    (StepBase, "box"): "The mailbox.",
    (StepBase, "profile"): "The voicemail profile.",
    (StepBase, "beep"): "Play a beep before recording.",
    (StepBase, "max_length"): "The longest recording.",
    (StepBase, "silence_threshold"): "The energy level below which sound counts as silence.",
    (StepBase, "end_key"): "The key that ends the recording; `none` for no key.",
    (StepBase, "subflow"): "The subflow (under `subflows:`) to run.",
    (StepBase, "cause"): "The hangup cause FreeSWITCH reports.",
    (StepBase, "name"): "The application's name.",
    (StepBase, "arg"): "Its argument (templated).",
}
"""Descriptions for fields whose model has no docstring for them. `(StepBase, NAME)` applies to
the field NAME of every step type. A note never replaces a docstring (tested)."""

PARTS: list[tuple[str, str, list[type[BaseModel]]]] = [
    (
        "Routes",
        "Every outcome of every step is a route, written one of three ways:\n\n"
        "```yaml\n"
        "next: goodbye                                   # a step name\n"
        "next: {go: account, set: {queue: support}}      # set flow variables, then go\n"
        "next:                                           # conditions, tried in order\n"
        '  - if: "result.status == 200 and vars.customer.vip"\n'
        "    go: vip\n"
        "  - else: support\n"
        "```\n\n"
        "A list of conditions ends with exactly one `else`, so every route leads somewhere. "
        "There is no special end target: `hangup` is the only step that ends a call. Inside a "
        "subflow the names listed under `returns` are targets too.",
        [Go, IfBranch, ElseBranch],
    ),
    (
        "Prompts",
        "Every sentence lives under `prompts:`, one entry per language (or one for all):\n\n"
        "```yaml\n"
        "prompts:\n"
        "  main_menu:\n"
        "    en: {play: en/main_menu.wav}\n"
        '    de: {say: "Für den Vertrieb drücken Sie die 1"}\n'
        "  balance:\n"
        '    en: [{say: "Your balance is"}, {number: "{{ vars.balance }}"}, '
        "{play: en/euros.wav}]\n"
        '  beep: {play: "tone_stream://%(200,0,800)"}    # the same in every language\n'
        "```\n\n"
        "Steps name a prompt (`prompt: main_menu`), give an item inline "
        '(`prompt: {say: "Hello"}`), or a list mixing both. Values are templates.',
        [PlayItem, SayItem, PhraseItem, DigitsItem, NumberItem],
    ),
    (
        "Other parts",
        "The remaining parts of a flow file, in the order the file names them.",
        [],
    ),
]


LOADER_DEFAULTS: dict[tuple[type[BaseModel], str], str] = {
    (Flow, "name"): "the file's name",
}
"""Fields the model requires but the loader fills in when a file leaves them out."""


MODEL_NOTES: dict[type[BaseModel], str] = {
    Calendar: "For the local date of the call, the first rule that applies decides: "
    "`special_hours` for that date (open in its ranges, else closed, even on a holiday); then "
    "`closed` dates and `public_holidays` (the `holiday` outcome); then the weekly `hours` "
    "(open inside a range, else closed). A range whose end is before its start runs past "
    "midnight and belongs to the day it starts. Times are local wall-clock times.",
}
"""Text added after a model's docstring, where the docstring points at code for the rules."""


INTRO = """\
One YAML file is one flow: a state machine of named steps. `ivrd validate` checks a file
against everything below; `ivrd schema` prints the same rules as a JSON Schema for editors.

```yaml
ivr: 1
name: hello
start: hello
steps:
  hello:
    type: play
    prompt: {say: "Hello, and thank you for calling. Goodbye!"}
    next: goodbye
  goodbye:
    type: hangup
```

Reading the tables: **required** fields must be written; the others show their default.
Unknown fields are errors (with a "did you mean"). Every value is read as text and converted
by the field's type, so `0123` stays `0123` and `no` is not a boolean. Types are explained under
[Value types](#value-types).
"""

STEPS_INTRO = """\
Every step has a `type` and named outcomes; nothing falls through to the next step in the file.
Outcomes that can always happen are required; the others are optional and, where the table
says so, fall back to another outcome or to the flow's `defaults` and `on.error`. An outcome
that leads nowhere is a dead end, and `ivrd validate` reports it. Input steps (`menu`, `ask`)
retry by themselves: after silence (`no_input`) or a wrong entry (`invalid`) the caller hears
the matching prompt and tries again, until `attempts` failures lead to `too_many_attempts`.
"""


SETTING_NOTES: dict[tuple[str, str], str] = {
    ("listen", "host"): "The address to listen on; `0.0.0.0` (or `::`) for every interface.",
    ("listen", "backlog"): "Connections the kernel queues while ivrd accepts (call bursts).",
    ("flows", "directory"): "Every `*.yaml` under it is a flow; files with `returns:` are "
    "subflows. Relative to the config file.",
    ("flows", "watch"): "Reload when a flow file or the config file changes, without a SIGHUP.",
    ("flows", "watch_interval"): "How often `watch` looks at the files' modification times.",
    ("routing", "variable"): "The channel variable naming the flow (set in the dialplan "
    "before `socket`, or by `ivrd originate`); empty turns it off.",
    ("routing", "routes"): "Rules tried in order when the variable is not set: the first "
    "whose `destination` regex is found in the destination number wins (anchor it: `^5000$`).",
    ("routing", "default"): "The flow for every other call; without one such calls are hung "
    "up (UNALLOCATED_NUMBER).",
    ("freeswitch", "host"): "FreeSWITCH's inbound event socket address (its "
    "event_socket.conf.xml `listen-ip`), for `api`, `ivrd originate` and events.",
    ("freeswitch", "port"): "Its port (`listen-port`).",
    ("freeswitch", "password"): "Its password; set it with IVRD_FREESWITCH_PASSWORD, never in "
    "the file. Never logged.",
    ("limits", "max_calls"): "Concurrent calls; the next one is refused at once (see `when_full`).",
    ("limits", "when_full"): "`hangup`: refuse with NORMAL_TEMPORARY_FAILURE (SIP 503, the "
    "network may reroute); `resume`: hand the call back to the dialplan's next action, e.g. a "
    "second `socket` to another ivrd.",
    ("limits", "max_steps"): "Steps per call (a flow's `defaults.max_steps` may set fewer).",
    ("limits", "drain_timeout"): "On SIGTERM: how long running calls may go on before they "
    "are hung up (SYSTEM_SHUTDOWN).",
    ("limits", "call_timeout"): "A call still running after this is hung up (ALLOTTED_TIMEOUT).",
    ("logging", "level"): "`debug` adds each call's full trace.",
    ("logging", "format"): "`text`, or `json`: one object per line, with `call_uuid` and `flow`.",
    ("logging", "file"): "Empty: stderr. A file is reopened on SIGHUP (logrotate).",
    ("http", "enabled"): "Serve `/metrics`, `/healthz` and `/readyz`.",
    ("http", "host"): "The address to listen on; `0.0.0.0` for Prometheus or a kubelet on "
    "another host.",
    ("RouteRule", "destination"): "A regular expression searched for in the destination number.",
    ("RouteRule", "flow"): "The flow the matching calls run.",
}
"""Descriptions of the daemon's settings whose config models have no docstring for them (the
same rule as FIELD_NOTES: a note never replaces a docstring)."""
