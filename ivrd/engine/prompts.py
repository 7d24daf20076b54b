"""Playing prompts: what the caller hears, in the caller's language.

Outside input steps each prompt item is one application, so the trace shows what was played
and a key hook can stop it between items: `play` is `playback`, `say` is `speak` (the flow's
TTS engine and voice), `phrase` is `phrase`, `digits` and `number` are mod_say's `say`.

An input step has one play_and_get_digits per attempt, which takes one file string; its items
are joined into `file_string://a!b` with FreeSWITCH's own prefixes (`say:` speaks with the
channel's `tts_engine`/`tts_voice`, `phrase:macro:data`). mod_say has no file-string form, so
`digits`/`number` items and everything before them are played first, as ordinary prompts.

The file string is one word of play_and_get_digits' space-separated argument, so text with
spaces (a `say:` sentence) is put in single quotes, which FreeSWITCH's switch_separate_string
keeps together and strips. Inside it, a `'` would end the quotes and a `!` would split the file
string, so in spoken text they become a typographic apostrophe (U+2019) and `.` (the voice
reads them the same).
"""

from __future__ import annotations

from ivrd.engine.call import Call, Frame
from ivrd.flow.prompts import (
    DigitsItem,
    NumberItem,
    PhraseItem,
    PlayItem,
    PromptItem,
    PromptUse,
    SayItem,
)

# Played by play_and_get_digits after every failed try; ivrd plays its own retry prompts.
NEUTRAL_INVALID_FILE = "silence_stream://250"


def items(call: Call, frame: Frame, use: PromptUse) -> tuple[PromptItem, ...]:
    return frame.flow.prompt_items(use, call.language)


async def play_item(call: Call, frame: Frame, item: PromptItem) -> None:
    if isinstance(item, PlayItem):
        await call.app("playback", call.render(item.play, frame))
    elif isinstance(item, SayItem):
        tts = frame.flow.tts
        engine, voice = item.engine or tts.engine, item.voice or tts.voice
        await call.app("speak", f"{engine}|{voice}|{call.render(item.say, frame)}")
    elif isinstance(item, PhraseItem):
        data = call.render(item.data, frame) if item.data is not None else ""
        await call.app("phrase", f"{item.phrase},{data}" if data else item.phrase)
    elif isinstance(item, DigitsItem):
        digits = call.render(item.digits, frame)
        await call.app("say", f"{call.language} number iterated {digits}")
    else:
        assert isinstance(item, NumberItem)
        number = call.render(item.number, frame)
        await call.app("say", f"{call.language} number pronounced {number}")


async def play(call: Call, frame: Frame, use: PromptUse | None) -> None:
    if use is None:
        return
    for item in items(call, frame, use):
        await play_item(call, frame, item)


def _spoken(text: str) -> str:
    return " ".join(text.replace("'", "\u2019").replace("!", ".").split())


def _file_part(call: Call, frame: Frame, item: PromptItem) -> str:
    if isinstance(item, PlayItem):
        return call.render(item.play, frame)
    if isinstance(item, SayItem):
        return "say:" + _spoken(call.render(item.say, frame))
    assert isinstance(item, PhraseItem)
    data = _spoken(call.render(item.data, frame)) if item.data is not None else ""
    return f"phrase:{item.phrase}:{data}" if data else f"phrase:{item.phrase}"


def argument_word(text: str) -> str:
    """`text` as one word of a space-separated application argument."""
    return f"'{text}'" if " " in text else text


async def input_file(call: Call, frame: Frame, use: PromptUse) -> str:
    """The file string for play_and_get_digits, after playing what cannot be part of it."""
    parts = items(call, frame, use)
    last_said = max(
        (i for i, item in enumerate(parts) if isinstance(item, DigitsItem | NumberItem)),
        default=-1,
    )
    for item in parts[: last_said + 1]:
        await play_item(call, frame, item)
    rest = [_file_part(call, frame, item) for item in parts[last_said + 1 :]]
    if not rest:
        return NEUTRAL_INVALID_FILE
    if len(rest) == 1:
        return rest[0]
    return "file_string://" + "!".join(rest)
