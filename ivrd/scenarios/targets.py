"""Where a caller acts: a step name turned into the FreeSWITCH application that step waits in.

The fake FreeSWITCH sees applications, not steps, so `press: "1", during: main_menu` needs to
know which application is main_menu's. Each step type waits in one kind of application:

    menu, ask         play_and_get_digits (its file string carries the step's prompt)
    play, hangup      the first prompt item: playback, speak, phrase or say
    transfer          bridge (its dial string carries the targets)
    queue             callcenter        voicemail  voicemail        record  record
    app               the application it runs

and the application's argument tells the steps apart: it must contain the constant text of
the step's prompt (every language), targets or argument. Template parts cannot be known before
the call except flow variables' start values (the flow's `variables`, and a scenario's), so a
step whose text depends on other data matches any application of its kind. When two
steps play the same thing, the first such application that runs is taken (`nth:` picks
another). Steps that run no application (check_hours, choose, set, http, run) cannot be acted
"during". Besides steps, a target may be an application name, `prompt` (any prompt
application) or `question` (play_and_get_digits or read).

`heard` turns the applications a call ran into what the caller heard, for `expect.prompts`
and `ivrd simulate`: it reads each argument as FreeSWITCH would (ivrd.testing.speech): the
expansion's escapes undone (channel variables, unknown here, stay as `${name}`), speak's text
as speak takes it, play_and_get_digits' words cut as mod_dptools cuts them, `say:` and
`phrase:` parts of a file string left out (FreeSWITCH cannot open them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from ivrd.flow import (
    AppStep,
    DigitsItem,
    Flow,
    HangupStep,
    InputStep,
    NumberItem,
    PhraseItem,
    PlayItem,
    PlayStep,
    PromptItem,
    QueueStep,
    RecordStep,
    SayItem,
    Template,
    TemplateRenderError,
    TransferStep,
    VoicemailStep,
)
from ivrd.testing.expand import expand_variables
from ivrd.testing.input import split_arguments
from ivrd.testing.speech import (
    feed_tts,
    file_string_parts,
    is_sound_file,
    speak_arguments,
    tts_text,
)

__all__ = [
    "PROMPT_APPS",
    "QUESTION_APPS",
    "AppTarget",
    "TargetError",
    "all_steps",
    "heard",
    "resolve_target",
    "start_variables",
    "step_targets",
]

PROMPT_APPS = ("playback", "speak", "phrase", "say", "play_and_get_digits", "read")
QUESTION_APPS = ("play_and_get_digits", "read")
_ITEM_APPS = {PlayItem: "playback", SayItem: "speak", PhraseItem: "phrase"}


class TargetError(Exception):
    """A `during`/`after` that names nothing the caller could act in; the message says why."""


@dataclass(frozen=True, slots=True)
class AppTarget:
    """Applications a caller action waits for: any of `apps` whose argument holds a marker."""

    label: str
    apps: tuple[str, ...]
    markers: tuple[str, ...] = ()

    def matches(self, app: str, arg: str) -> bool:
        if app not in self.apps:
            return False
        return not self.markers or any(marker in arg for marker in self.markers)


def all_steps(flow: Flow) -> Iterator[tuple[Flow, str]]:
    """Every step of the flow and of the subflows it runs (each subflow once)."""
    seen: set[int] = set()
    pending = [flow]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        for name in current.steps:
            yield current, name
        pending.extend(current.subflow(name) for name in current.subflows)


def _constant(template: Template, variables: Mapping[str, str] | None = None) -> str:
    """What is known of a template's text before the call: all of it when it reads only flow
    variables given in `variables`, else the text up to its first `{{ }}`."""
    if variables is not None and not template.is_constant:
        context = {"vars": dict(variables), "call": {}, "secrets": {}, "result": {}, "flow": {}}
        try:
            return template.render(context).strip()
        except TemplateRenderError:
            pass
    source = template.source
    for marker in ("{{", "{%", "{#"):
        source = source.split(marker, 1)[0]
    return source.strip()


def _item_text(item: PromptItem) -> str:
    if isinstance(item, PlayItem):
        return _constant(item.play)
    if isinstance(item, SayItem):
        return _constant(item.say)
    if isinstance(item, PhraseItem):
        return item.phrase
    if isinstance(item, DigitsItem):
        return _constant(item.digits)
    assert isinstance(item, NumberItem)
    return _constant(item.number)


def _prompt_markers(flow: Flow, use: object, first_only: bool) -> tuple[str, tuple[str, ...]]:
    """The application of a prompt's (first) item and the constant texts of its items."""
    app = "playback"
    markers: list[str] = []
    for language in flow.languages.codes:
        items = flow.prompt_items(use, language)  # type: ignore[arg-type]
        if first_only:
            items = items[:1]
            if items:
                first = items[0]
                app = _ITEM_APPS.get(type(first), "say")
        markers.extend(text for text in (_item_text(item) for item in items) if text)
    return app, tuple(dict.fromkeys(markers))


def start_variables(flow: Flow, given: Mapping[str, str] | None = None) -> dict[str, str]:
    """The flow variables known before the call: the flow's constant ones, then `given`."""
    known = {k: t.source for k, t in flow.variables.items() if t.is_constant}
    known.update(given or {})
    return known


def step_targets(flow: Flow, name: str, variables: Mapping[str, str] | None = None) -> AppTarget:
    """The application step `name` of `flow` waits in; TargetError for steps that run none.

    `variables` (default: `start_variables(flow)`) fill templates in targets and arguments.
    """
    step = flow.steps[name]
    known = start_variables(flow) if variables is None else variables
    label = f"step {name}"
    if isinstance(step, InputStep):
        _, markers = _prompt_markers(flow, step.prompt, first_only=False)
        return AppTarget(f"{label} (play_and_get_digits)", ("play_and_get_digits",), markers)
    if isinstance(step, PlayStep | HangupStep) and step.prompt is not None:
        app, markers = _prompt_markers(flow, step.prompt, first_only=True)
        return AppTarget(f"{label} ({app})", (app,), markers)
    if isinstance(step, TransferStep):
        targets = tuple(text for text in (_constant(t, known) for t in step.to) if text)
        return AppTarget(f"{label} (bridge)", ("bridge",), targets)
    if isinstance(step, QueueStep):
        queue = _constant(step.name, known)
        return AppTarget(f"{label} (callcenter)", ("callcenter",), (queue,) if queue else ())
    if isinstance(step, VoicemailStep):
        return AppTarget(f"{label} (voicemail)", ("voicemail",))
    if isinstance(step, RecordStep):
        return AppTarget(f"{label} (record)", ("record",))
    if isinstance(step, AppStep):
        arg = _constant(step.arg, known) if step.arg is not None else ""
        return AppTarget(f"{label} ({step.name})", (step.name,), (arg,) if arg else ())
    raise TargetError(
        f"step '{name}' ({step.type}) runs no FreeSWITCH application to act during; "
        "name a step that plays, asks or transfers, or use 'at:'"
    )


def resolve_target(flow: Flow, name: str, variables: Mapping[str, str] | None = None) -> AppTarget:
    """A step of the flow or its subflows, `prompt`, `question`, or an application name;
    `variables` are the scenario's start values, over the flow's."""
    for owner, step in all_steps(flow):
        if step == name:
            return step_targets(owner, name, start_variables(owner, variables))
    if name == "prompt":
        return AppTarget("a prompt", PROMPT_APPS)
    if name == "question":
        return AppTarget("a question", QUESTION_APPS)
    return AppTarget(f"application {name}", (name,))


def _file_heard(file: str) -> list[str]:
    """What switch_ivr_play_file plays of `file`: TTS as its text, a phrase as
    `phrase:NAME:DATA`, sound files as named (silence left out)."""
    text = tts_text(file)
    if text is not None:
        return _spoken(text)
    if file[:7].lower() == "phrase:":
        return [file]
    parts = file_string_parts(file)
    return [
        part
        for part in ([file] if parts is None else parts)
        if part and is_sound_file(part) and not part.startswith("silence_stream://")
    ]


def _spoken(text: str) -> list[str]:
    """What a TTS engine speaks of `text`: switch_core_speech_feed_tts reads a leading
    `{name=value}` block as parameters (and nothing at all if it never closes)."""
    fed = feed_tts(text)
    return [] if fed is None else [fed.text]


def _said(arg: str) -> str:
    words = arg.split(" ", 3)
    if len(words) == 4 and words[1] == "number":
        if words[2] == "iterated":
            return f"digits:{words[3]}"
        if words[2] == "pronounced":
            return f"number:{words[3]}"
    return f"say:{arg}"


def heard(app: str, arg: str) -> list[str]:
    """What the caller hears from one application (its argument as sent): files as named, TTS
    as its text, `phrase:NAME`, `digits:123` / `number:42` (mod_say); nothing for other
    applications."""
    # No channel here: its variables stay as written (`${name}`).
    arg = expand_variables(arg, lambda name: None, keep_unknown=True)
    if app == "playback":
        return _file_heard(arg) if arg else []
    if app == "speak":
        text = speak_arguments(arg).text
        return _spoken(text) if text is not None else []
    if app == "phrase":
        macro, _, data = arg.partition(",")
        return [f"phrase:{macro}:{data}" if data else f"phrase:{macro}"]
    if app == "say":
        return [_said(arg)]
    if app in ("play_and_get_digits", "read"):
        words = split_arguments(arg)
        index = 5 if app == "play_and_get_digits" else 2
        return _file_heard(words[index]) if len(words) > index and words[index] else []
    return []


def heard_all(apps: Sequence[tuple[str, str]]) -> list[str]:
    """Everything heard, in order, from (application, argument) pairs."""
    return [text for app, arg in apps for text in heard(app, arg)]
