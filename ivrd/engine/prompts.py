"""Playing prompts: what the caller hears, in the caller's language.

Outside input steps each prompt item is one application, so the trace shows what was played
and a key hook can stop it between items: `play` is `playback`, `say` is `speak` (the flow's
TTS engine and voice), `phrase` is `phrase`, `digits` and `number` are mod_say's `say`.

An input step has one play_and_get_digits per attempt, which takes one file; what it cannot
take is played first, as ordinary prompts. switch_ivr_play_file speaks a file `say:TEXT` (with
the channel's `tts_engine`/`tts_voice`) and runs `phrase:macro:data`, but only as the whole
file: in `file_string://a!b` every part is opened as a sound file, and a `say:` or `phrase:`
part, which is none, is skipped unheard. So the file is the last item if it is a `say` or a
`phrase`, else the sound files at the end (joined into a file string); mod_say has no file
form at all.

Spoken text reaches the engine as rendered. FreeSWITCH expands the argument (`\\\\` becomes
`\\`, `\\'` disappears, `\\$` and `$$` are one `$`) and play_and_get_digits cuts it into words
with switch_separate_string (quotes kept together and dropped, `\\n`, `\\s`, `\\\\`...
undone): the text is escaped for each of these passes (ivrd.esl.verbatim, through
`speak_arg` for speak), while the author's `${...}` still expands. In play_and_get_digits'
word, spaces collapse to one and a `'` (which would end the quotes) becomes a typographic
apostrophe (U+2019), which the voice reads the same. A text starting with `{` would have its
`{...}` read as the engine's parameters (switch_core_speech_feed_tts): an empty block `{}` in
front keeps all of it spoken (ivrd.esl.verbatim.spoken_whole, in both `speak_arg` and
`file_word`).
"""

from __future__ import annotations

from ivrd.engine.call import Call, Frame
from ivrd.esl import applications as args
from ivrd.esl.verbatim import file_word
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
        await call.app("speak", args.speak_arg(call.render(item.say, frame), engine, voice))
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
    return " ".join(text.replace("'", "\u2019").split())


def _file_part(call: Call, frame: Frame, item: PromptItem) -> str:
    if isinstance(item, PlayItem):
        return call.render(item.play, frame)
    if isinstance(item, SayItem):
        return "say:" + _spoken(call.render(item.say, frame))
    assert isinstance(item, PhraseItem)
    data = _spoken(call.render(item.data, frame)) if item.data is not None else ""
    return f"phrase:{item.phrase}:{data}" if data else f"phrase:{item.phrase}"


def argument_word(file: str) -> str:
    """`file` as one word of play_and_get_digits' space-separated argument, such that
    FreeSWITCH plays or speaks exactly `file` (see ivrd.esl.verbatim.file_word)."""
    return file_word(file)


def _file_start(parts: tuple[PromptItem, ...]) -> int:
    """Where the items play_and_get_digits can take as its file begin: the sound files at the
    end, or else a last `say` or `phrase` alone (nothing after a `digits` or `number`)."""
    start = len(parts)
    while start and isinstance(parts[start - 1], PlayItem):
        start -= 1
    if start == len(parts) and start and isinstance(parts[-1], SayItem | PhraseItem):
        start -= 1
    return start


async def input_file(call: Call, frame: Frame, use: PromptUse) -> str:
    """The file for play_and_get_digits, after playing what cannot be part of it (as it
    should be played: `argument_word` makes it one word of the argument)."""
    parts = items(call, frame, use)
    start = _file_start(parts)
    for item in parts[:start]:
        await play_item(call, frame, item)
    rest = [_file_part(call, frame, item) for item in parts[start:]]
    if not rest:
        return NEUTRAL_INVALID_FILE
    if len(rest) == 1:
        return rest[0]
    return "file_string://" + "!".join(rest)
