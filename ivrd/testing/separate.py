"""How FreeSWITCH cuts a command line into words and reads a dial string's `{variables}`.

`separate_string` is switch_separate_string (switch_utils.c): words split at a delimiter
outside single quotes, a backslash keeping the next character in its word, then each word
cleaned up (cleanup_separated_string): leading spaces dropped, quotes removed, `\\'`, `\\"`,
`\\\\`, `\\` + the delimiter and `\\n` `\\r` `\\t` `\\s` unescaped, trailing spaces cut. A text
starting `^^X` is split at `X` instead. With a space as the delimiter runs of spaces count as
one; the last word allowed takes the rest of the text. `word_starts` says where in the text
each word begins (mod_dptools' speak takes its text from there, not cleaned up).

`take_variables` reads the leading `{name=value,...}` blocks of a dial string (or `[...]`,
`<...>`) as switch_event_create_brackets does: brackets may nest, items split at `,` (or
`^^X`), each item split once at `=`; an item without a value is dropped.
"""

from __future__ import annotations

__all__ = ["separate_string", "take_variables", "word_starts"]

ESCAPE = "\\"
_UNESCAPED = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def _cleanup(word: str, delimiter: str) -> str:
    """cleanup_separated_string: quotes and escapes out, surrounding spaces cut."""
    start = len(word) - len(word.lstrip(" "))
    out: list[str] = []
    end: int | None = None
    quoted = False
    index = start
    while index < len(word):
        char = word[index]
        if char == ESCAPE and index + 1 < len(word):
            following = word[index + 1]
            unescaped = _UNESCAPED.get(following, following)
            if following in ("'", '"', ESCAPE, delimiter) or unescaped != following:
                out.append(unescaped)
                end = len(out)
                index += 2
                continue
        if char == "'" and (quoted or "'" in word[index + 1 :]):
            quoted = not quoted
            if quoted:
                end = len(out)
        else:
            out.append(char)
            if char != " " or quoted:
                end = len(out)
        index += 1
    return "".join(out if end is None else out[:end])


def _split_at_spaces(text: str, limit: int) -> list[tuple[int, int]]:
    """separate_string_blank_delim, before the clean-up: where each word starts and ends."""
    words: list[tuple[int, int]] = []
    index, size = 0, len(text)
    while index < size and len(words) < limit:
        start = index
        while index < size and text[index] == " ":
            index += 1
        quoted = False
        while index < size:
            char = text[index]
            if char == ESCAPE:
                index += 1
            elif char == "'":
                quoted = not quoted
            elif char == " " and not quoted:
                break
            index += 1
        if len(words) + 1 == limit:
            words.append((start, size))  # the last word allowed keeps the rest
            break
        words.append((start, min(index, size)))
        while index < size and text[index] == " ":
            index += 1
    return words


def _split_at(text: str, delimiter: str, limit: int) -> list[tuple[int, int]]:
    """separate_string_char_delim, before the clean-up: where each word starts and ends."""
    words: list[tuple[int, int]] = []
    index, size = 0, len(text)
    while index < size and len(words) < limit:
        start = index
        if len(words) + 1 == limit:
            words.append((start, size))
            break
        quoted = False
        while index < size:
            char = text[index]
            if char == ESCAPE:
                index += 1
            elif char == "'" and (quoted or "'" in text[index + 1 :]):
                quoted = not quoted
            elif char == delimiter and not quoted:
                break
            index += 1
        words.append((start, min(index, size)))
        index += 1
    return words


def _spans(text: str, delimiter: str, limit: int) -> tuple[str, list[tuple[int, int]]]:
    """switch_separate_string's `^^X` prefix (another delimiter), then the words' spans."""
    offset = 0
    if text.startswith("^^") and len(text) > 3:
        delimiter, offset = text[2], 3
    rest = text[offset:]
    spans = _split_at_spaces(rest, limit) if delimiter == " " else _split_at(rest, delimiter, limit)
    return delimiter, [(start + offset, end + offset) for start, end in spans]


def separate_string(text: str, delimiter: str = " ", limit: int = 1024) -> list[str]:
    """switch_separate_string(text, delimiter, array of `limit`): the cleaned-up words."""
    delimiter, spans = _spans(text, delimiter, limit)
    cleanup_delimiter = "" if delimiter == " " else delimiter
    return [_cleanup(text[start:end], cleanup_delimiter) for start, end in spans]


def word_starts(text: str, delimiter: str = " ", limit: int = 1024) -> list[int]:
    """Where in `text` each word of separate_string begins: the pointers it returns point
    there (past the word's leading spaces), which mod_dptools' `speak` uses to take its text
    from the argument as it was, escapes and quotes included."""
    starts = []
    for start, end in _spans(text, delimiter, limit)[1]:
        while start < end and text[start] == " ":
            start += 1
        starts.append(start)
    return starts


def find_end_paren(text: str, opening: str, closing: str) -> int:
    """switch_find_end_paren for a text starting with `opening`: where it closes (nested
    blocks counted), or -1."""
    depth = 0
    for index, char in enumerate(text):
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if not depth:
                return index
    return -1


def take_variables(
    dial_string: str, opening: str = "{", closing: str = "}"
) -> tuple[dict[str, str], str]:
    """The variables of the leading `{...}` blocks, and the rest of the dial string.

    `[...]` (one leg's variables) and `<...>` (an enterprise originate's) are read by the same
    code in FreeSWITCH (switch_event_create_brackets with other brackets), hence the arguments.
    """
    variables: dict[str, str] = {}
    rest = dial_string.lstrip(" ")
    while rest.startswith(opening):
        end = find_end_paren(rest, opening, closing)
        if end < 0:
            break
        block, rest = rest[1:end], rest[end + 1 :].lstrip(" ")
        delimiter = ","
        if block.startswith("^^") and len(block) > 2:
            delimiter, block = block[2], block[3:]
        for item in separate_string(block, delimiter):
            pair = separate_string(item, "=", 2)
            if len(pair) == 2:
                variables[pair[0]] = pair[1]
    return variables, rest
