"""What FreeSWITCH hands to a text-to-speech engine, and which files it opens instead.

Spoken text passes through the same hands as every argument: switch_core_session_exec expands
it (ivrd.testing.expand), then the application reads its words. Past that, the two ways a text
reaches switch_ivr_speak_text differ:

- `speak ENGINE|VOICE|TEXT` (mod_dptools speak_function) splits the expanded argument with
  switch_separate_string at `|` into at most three words, but takes the text from the
  argument as it was, from where the last word begins: escapes and quotes in the text stay
  (the split's clean-up undoes them only in the engine and the voice). With two words the
  first is the voice, with one the whole argument is the text; what is missing comes from
  the channel's `tts_engine` / `tts_voice`, and without both the channel is hung up.
- A file handed to switch_ivr_play_file (play_and_get_digits' and read's prompt, after
  switch_separate_string at spaces cleaned it up; playback's argument as expanded) that starts
  with `say:` (any case) speaks the rest with `tts_engine` / `tts_voice`; `phrase:` runs a
  macro. `file_string://a!b` is a file format of mod_dptools: split at `!` by
  switch_separate_string (another clean-up), each part opened as a sound file under the sound
  prefix. A `say:` or `phrase:` part is no file: FreeSWITCH cannot open it and skips it, so
  it is never heard.

Either way switch_ivr_speak_text hands the text to switch_core_speech_feed_tts
(switch_core_speech.c), which reads the engine's parameters from its start (`feed_tts`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ivrd.testing.separate import find_end_paren, separate_string, word_starts

__all__ = [
    "FILE_STRING",
    "SpeakArguments",
    "TtsFeed",
    "feed_tts",
    "file_string_parts",
    "is_sound_file",
    "speak_arguments",
    "tts_text",
]

FILE_STRING = "file_string://"


@dataclass(frozen=True, slots=True)
class SpeakArguments:
    """speak_function's reading of its argument; None where the argument gives nothing."""

    engine: str | None
    voice: str | None
    text: str | None


def speak_arguments(data: str) -> SpeakArguments:
    """`speak`'s engine, voice and text from its (expanded) argument, as speak_function reads
    them: `text` is the argument itself from where its last word begins (switch_separate_string
    points past that word's leading spaces), not the cleaned-up word."""
    if not data:
        return SpeakArguments(None, None, None)
    words = separate_string(data, "|", 3)
    if not words:
        return SpeakArguments(None, None, None)
    starts = word_starts(data, "|", 3)
    # `data + (argv[n] - argv[0])`: an offset between the words, not a position.
    text = data[starts[-1] - starts[0] :]
    if len(words) == 1:
        return SpeakArguments(None, None, data)
    if len(words) == 2:
        return SpeakArguments(None, words[0], text)
    return SpeakArguments(words[0], words[1], text)


def tts_text(file: str) -> str | None:
    """The text switch_ivr_play_file speaks for `file` (a `say:` file), else None."""
    return file[4:] if file[:4].lower() == "say:" else None


def file_string_parts(file: str) -> list[str] | None:
    """The files a `file_string://` plays, in order (None for any other file)."""
    if not file.startswith(FILE_STRING):
        return None
    return separate_string(file[len(FILE_STRING) :], "!", 128)


def is_sound_file(part: str) -> bool:
    """Whether a file_string part can be opened as a file (`say:` and `phrase:` cannot)."""
    return not part.lower().startswith(("say:", "phrase:"))


@dataclass(frozen=True, slots=True)
class TtsFeed:
    """What switch_core_speech_feed_tts gives the engine: the parameters it sets
    (switch_core_speech_text_param_tts, in order) and the text the engine speaks."""

    params: dict[str, str]
    text: str


def feed_tts(text: str) -> TtsFeed | None:
    """switch_core_speech_feed_tts's reading of `text`, None when it hands the engine nothing.

    Leading spaces are skipped (a text of spaces only is refused); a `{` then opens a block of
    `name=value` parameters, split at `,` and each item once at `=` with switch_separate_string
    (an item without `=` is dropped), and the text is what follows the matching `}`, as it is.
    A `{` that never closes refuses the whole text: nothing is spoken.
    """
    data = text.lstrip(" ")
    if not data:
        return None
    params: dict[str, str] = {}
    if data.startswith("{"):
        end = find_end_paren(data, "{", "}")
        if end < 0:
            return None
        block, data = data[1:end], data[end + 1 :]
        for item in separate_string(block, ",", 256) if block else []:
            pair = separate_string(item, "=", 2)
            if len(pair) == 2:
                params[pair[0]] = pair[1]
    return TtsFeed(params, data)
