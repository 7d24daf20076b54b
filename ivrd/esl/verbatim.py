"""Text that FreeSWITCH hands on verbatim: what ivrd writes in an application's argument so
that, after FreeSWITCH's own passes over it, the application gets exactly the text meant.

Two passes undo escapes: switch_channel_expand_variables (switch_channel.c), which
switch_core_session_exec runs on every argument, and switch_separate_string (switch_utils.c),
with which many applications cut their argument into words. Each is undone here by escaping
for it, in the order it runs; `${...}` is left for FreeSWITCH to expand. Spoken text has one
more reader, switch_core_speech_feed_tts, which takes a leading `{...}` as the engine's
parameters (`spoken_whole`).
"""

from __future__ import annotations

import re

__all__ = ["file_word", "spoken_whole", "surviving_expansion"]


def _expands(text: str) -> bool:
    """Whether switch_channel_expand_variables reads `text` at all: a `$` followed (backslashes
    apart) by `{` (switch_string_var_check_const), or a `\\` before `\\`, `n`, `s`, `t` or
    `'` (switch_string_has_escaped_data). Otherwise it hands the text on untouched."""
    dollar = False
    for index, char in enumerate(text):
        if char == "$":
            dollar = True
        elif dollar and char == "{":
            return True
        elif char != "\\":
            dollar = False
        if char == "\\" and text[index + 1 : index + 2] in ("\\", "n", "s", "t", "'"):
            return True
    return False


# A run of two or more `$` that opens no `${`: the expansion would read `$$` as one `$`.
_DOLLAR_RUN = re.compile(r"(?<!\$)\$\$+(?![{$])")


def _escape_dollar_runs(text: str) -> str:
    """Each `$` of such a run as `\\$`, which the expansion reads as exactly one `$`."""
    return _DOLLAR_RUN.sub(lambda run: "\\$" * len(run.group()), text)


def surviving_expansion(text: str) -> str:
    """`text` such that switch_channel_expand_variables gives back `text` exactly, with the
    author's `${...}` expanded and nothing else touched.

    FreeSWITCH expands every application argument before the application runs, and when it
    does it turns `\\\\` into `\\`, drops `\\'`, reads `\\$` as `$` and `$$` as `$`. So each
    backslash is doubled and each `$` of a `$$` escaped; and when nothing else would make
    FreeSWITCH expand the text, a `\\'` (which the expansion drops) makes it read the escapes.
    """
    escaped = _escape_dollar_runs(text.replace("\\", "\\\\"))
    if escaped == text or _expands(escaped):
        return escaped
    return escaped + "\\'"


def spoken_whole(text: str) -> str:
    """`text` such that the text-to-speech engine speaks all of it and sets nothing.

    switch_core_speech_feed_tts (switch_core_speech.c), which every spoken text reaches
    (`speak`, a `say:` file), skips leading spaces and, if the text then starts with `{`,
    reads up to the matching `}` as `name=value,...` parameters for the engine and speaks
    only what follows. So a text that starts with `{` (a caller's name, an HTTP reply) would
    set parameters and lose its start. An empty block `{}` in front sets nothing (its
    parameter string is empty) and the text after it is spoken as it is. A text starting with
    `$` gets one too: FreeSWITCH's expansion of a leading `${...}` may start with `{`. The
    leading spaces go, as feed_tts would drop them.
    """
    start = text.lstrip(" ")
    return "{}" + start if start.startswith(("{", "$")) else text


def file_word(file: str) -> str:
    """`file` as one word of play_and_get_digits'/read's space-separated argument, such that
    switch_ivr_play_file is handed `file`: what it speaks (`say:`) or opens is what was given.

    mod_dptools splits the (expanded) argument with switch_separate_string, which keeps a
    single-quoted word together, then drops its quotes and undoes `\\\\`, `\\'`, `\\n`,
    `\\s`... So a file with a space is quoted, a quote in it (which would end the word early)
    becomes a typographic apostrophe, which text-to-speech reads the same, and each backslash
    is doubled for that split, twice inside a `file_string://` (whose files are split again,
    at `!`); then the word is made to survive the expansion (`surviving_expansion`). The text
    of a `say:` file (any case, as switch_ivr_play_file reads it) is spoken whole
    (`spoken_whole`).
    """
    if file[:4].lower() == "say:":
        file = file[:4] + spoken_whole(file[4:])
    splits = 2 if file.startswith("file_string://") else 1
    word = file.replace("\\", "\\" * 2**splits)
    if "'" in word or (word and word.split() != [word]):  # (split: at any whitespace)
        word = "'" + word.replace("'", "\u2019") + "'"
    return surviving_expansion(word)
