"""Prompts: what the caller hears.

Every sentence lives under `prompts:`, one entry per language:

    prompts:
      main_menu:
        en: {play: en/main_menu.wav}
        de: {say: "Für den Vertrieb drücken Sie die 1"}
      balance:
        en: [{say: "Your balance is"}, {number: "{{ vars.balance }}"}, {play: en/euros.wav}]
      beep: {play: "tone_stream://%(200,0,800)"}    # the same in every language

A prompt item is one of `play` (a file or URL, FreeSWITCH `playback`), `say` (text to speech,
`speak`), `phrase` (a phrase macro), `digits` (spoken one by one with mod_say) or `number` (spoken
as a number with mod_say); a list plays its items in sequence. Steps refer to prompts by name,
or give items inline (`prompt: {say: "Hello"}`), or a list mixing both; inline items are the
same in every language. Values are templates.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Tag

from ivrd.flow.base import FlowModel
from ivrd.flow.fieldtypes import Language, Name, TemplateText

__all__ = [
    "PROMPT_KINDS",
    "DigitsItem",
    "NumberItem",
    "PhraseItem",
    "PlayItem",
    "PromptDef",
    "PromptItem",
    "PromptPart",
    "PromptSpec",
    "PromptUse",
    "SayItem",
]

PROMPT_KINDS = ("play", "say", "phrase", "digits", "number")


class PlayItem(FlowModel):
    """Play a sound file or URL (FreeSWITCH `playback`)."""

    play: TemplateText
    """A path relative to FreeSWITCH's sound directory, an absolute path, or a URL."""


class SayItem(FlowModel):
    """Speak text through a text-to-speech engine (FreeSWITCH `speak`)."""

    say: TemplateText
    """The text to speak."""
    engine: str | None = None
    """The TTS engine (e.g. `flite`); the flow's `tts.engine` by default."""
    voice: str | None = None
    """The voice; the flow's `tts.voice` by default."""


class PhraseItem(FlowModel):
    """Play a FreeSWITCH phrase macro (`phrase`)."""

    phrase: Name
    """The macro's name."""
    data: TemplateText | None = None
    """The macro's argument."""


class DigitsItem(FlowModel):
    """Speak digits one by one with mod_say (`say LANG name_spelled iterated`)."""

    digits: TemplateText


class NumberItem(FlowModel):
    """Speak a number with mod_say (`say LANG number pronounced`)."""

    number: TemplateText


_ITEM_MODELS: dict[type[FlowModel], str] = {
    PlayItem: "<play>",
    SayItem: "<say>",
    PhraseItem: "<phrase>",
    DigitsItem: "<digits>",
    NumberItem: "<number>",
}


def _item_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return next((f"<{k}>" for k in PROMPT_KINDS if k in value), None)
    return _ITEM_MODELS.get(type(value))


PromptItem = Annotated[
    Annotated[PlayItem, Tag("<play>")]
    | Annotated[SayItem, Tag("<say>")]
    | Annotated[PhraseItem, Tag("<phrase>")]
    | Annotated[DigitsItem, Tag("<digits>")]
    | Annotated[NumberItem, Tag("<number>")],
    Discriminator(
        _item_kind,
        custom_error_type="prompt_item",
        custom_error_message="a prompt item is one of play, say, phrase, digits or number",
    ),
]
"""One thing to play."""


def _sequence_kind(value: Any) -> str:
    return "<sequence>" if isinstance(value, list | tuple) else "<item>"


PromptSpec = Annotated[
    Annotated[PromptItem, Tag("<item>")] | Annotated[tuple[PromptItem, ...], Tag("<sequence>")],
    Discriminator(_sequence_kind),
]
"""One prompt item, or a list played in sequence."""


def _definition_kind(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "<sequence>"
    if _item_kind(value) is not None:
        return "<item>"
    return "<languages>"


PromptDef = Annotated[
    Annotated[dict[Language, PromptSpec], Tag("<languages>")]
    | Annotated[PromptItem, Tag("<item>")]
    | Annotated[tuple[PromptItem, ...], Tag("<sequence>")],
    Discriminator(_definition_kind),
]
"""A named prompt: per language (`{en: ..., de: ...}`), or one spec for every language."""


def _part_kind(value: Any) -> str:
    return "<name>" if isinstance(value, str) else "<inline>"


PromptPart = Annotated[
    Annotated[Name, Tag("<name>")] | Annotated[PromptItem, Tag("<inline>")],
    Discriminator(_part_kind),
]
"""A prompt's name, or an inline item."""


def _use_kind(value: Any) -> str:
    return "<list>" if isinstance(value, list | tuple) else "<one>"


PromptUse = Annotated[
    Annotated[PromptPart, Tag("<one>")] | Annotated[tuple[PromptPart, ...], Tag("<list>")],
    Discriminator(_use_kind),
]
"""What a step plays: a prompt name, an inline item, or a list of them in sequence."""
