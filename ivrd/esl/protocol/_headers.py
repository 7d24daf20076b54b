"""Header blocks: split into lines only when needed, percent-decoded only when a value is read.

FreeSWITCH percent-encodes every value of a `text/event-plain` body and of the `connect`
reply (the channel data), and nothing else. Decoding every value of every event up front is
where the Python peers spend most of their time, although a daemon reads a handful of headers
per event; so a `Headers` keeps the raw text and decodes a value when it is looked up.

An event's header block goes further (`Headers.from_text`): a SIP call's event has one or two
hundred lines, and splitting them all costs several times what finding the few the daemon
reads does (benchmarks/bench_parser.py). Such a block stays one string; a lookup finds its
line with one search of the text (no folded copy of it), and the lines are split (and each
checked) only when all of them are needed: iteration, `pairs`, `get_all`, equality. A lookup
finds exactly what it would in the split lines.

Reading every header of an event (`pairs`, what the Python peers do for each event) takes the
whole block at once where the rules allow it: its lines are split and its values decoded by
a few C calls (`_split_block`, `_decode_joined`), with the line-by-line and value-by-value
rules as the fallback for anything unusual.
"""

from __future__ import annotations

import re
from binascii import a2b_qp
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from urllib.parse import unquote

from ivrd.esl.protocol._errors import RemoteProtocolError

# FreeSWITCH writes `_undef_` for a header whose value is the empty string.
UNDEFINED = "_undef_"


def _fold(name: str) -> str:
    return name.lower().replace("_", "-")


@lru_cache(maxsize=256)
def _folded_pattern(name: str) -> re.Pattern[str] | None:
    """Finds a line named `name` in any spelling in ASCII text, as a search of `_fold(text)`.

    None when no ASCII text can hold one: the folded name is not ASCII. Otherwise each ASCII
    letter matches either case (ASCII rules only) and `-` or `_` match each other, which is
    exactly which text folds to the name.
    """
    folded = _fold(name)
    if not folded.isascii():
        return None
    spelled = "".join("[-_]" if char == "-" else re.escape(char) for char in folded)
    return re.compile("\n" + spelled + ":", re.IGNORECASE | re.ASCII)


def decode_value(raw: str) -> str:
    """Percent-decode one value the way FreeSWITCH encoded it (`+` stays `+`)."""
    if raw == UNDEFINED:
        return ""
    if "%" not in raw:
        return raw
    if len(raw) <= 64:
        return _decode_short(raw)  # a key (`%23`), a cause, a channel name: the same ones
    return _unquote(raw)


def _unquote(raw: str) -> str:
    # errors="replace": a value that is not UTF-8 once decoded must not cost the call.
    return unquote(raw, errors="replace")


_decode_short = lru_cache(maxsize=512)(_unquote)


def decode_values(values: Sequence[str]) -> list[str]:
    """`decode_value` of each value, all in one pass when that gives the same."""
    decoded = _decode_joined("\0".join(values), len(values))
    if decoded is None:
        return [decode_value(value) for value in values]
    return decoded


def _decode_joined(joined: str, count: int) -> list[str] | None:
    """`decode_value` of each of the `count` values joined by NUL, or None if not in one pass.

    Most values of an event need no decoding, and the few that do (an SDP has hundreds of
    escapes) cost urllib's `unquote` a Python loop turn per escape. Joined, the values are
    decoded at once by binascii's quoted-printable decoder, a C loop: with every `=` escaped
    first and every `%` turned into `=`, its `=XX` escapes are exactly the `%XX` ones, and
    UTF-8 decoding restarts at each NUL, so each value comes out as if decoded alone.

    What it would decode otherwise is left to the value-by-value rules: text that is not ASCII,
    a line break (quoted-printable's soft line break, `=` before one, would drop it), a `%`
    that starts no escape (unquote keeps it), and `%00` (a NUL, which separates the values
    here: FreeSWITCH's values are C strings, they never hold one). These are found by
    counting, not by a search of the text: each escape decoded takes three characters to one,
    every other thing quoted-printable does with an `=` (keep it, keep it for `==`, drop one at
    the end) shrinks the text less, and a decoded NUL adds a value (more than `count`; a NUL
    in a value given makes more too).
    """
    if "%" not in joined:
        decoded = joined.split("\0")
    elif joined.isascii() and "\n" not in joined and "\r" not in joined:
        # FreeSWITCH encodes `=` too: the replace (a count and a copy) is seldom needed.
        escaped = joined.replace("=", "=3D") if "=" in joined else joined
        data = a2b_qp(escaped.replace("%", "="))
        if len(data) != len(joined) - 2 * joined.count("%"):
            return None
        decoded = data.decode("utf-8", "replace").split("\0")
    else:
        return None
    if len(decoded) != count:
        return None
    if UNDEFINED in joined:  # one search of the text: cheaper than comparing every value
        given = joined.split("\0") if "%" in joined else decoded
        decoded = ["" if value == UNDEFINED else decoded[i] for i, value in enumerate(given)]
    return decoded


def parse_header_lines(text: str, where: str) -> list[tuple[str, str]]:
    """Split `Name: value` lines (no trailing blank line) into raw pairs."""
    # A few lines (a frame's own head) are split faster one by one than by the C calls.
    split = _split_block(text, encoded=False) if len(text) > 400 else None
    if split is not None:
        return split
    pairs: list[tuple[str, str]] = []
    for line in text.split("\n"):
        # `Name: value`, as FreeSWITCH writes every line, in one step; then the general rule:
        # the first colon ends the name, and one space after it is dropped.
        name, sep, value = line.partition(": ")
        if not sep or ":" in name or not name:
            name, sep, value = line.partition(":")
            if not sep or not name:
                if not line:
                    continue
                shown = line if len(line) <= 60 else line[:57] + "..."
                raise RemoteProtocolError(
                    f"{where}: header line without a name and colon: {shown!r}"
                )
            if value.startswith(" "):
                value = value[1:]
        pairs.append((name, value))
    return pairs


def _split_block(text: str, *, encoded: bool) -> list[tuple[str, str]] | None:
    """Every line split (and with `encoded`, every value decoded) by a few C calls.

    For blocks whose every line is `Name: value` with no other `: `, as in every event:
    FreeSWITCH percent-encodes colons and spaces in values. With each newline turned into NUL
    + `: `, one split on `: ` gives name, value + NUL, name, value + NUL, ..., name, value.
    Checked, not assumed: if line i holds k(i) of `: `, the piece ending in its NUL is at
    place k(1) + ... + k(i) + i - 1. No NUL in the text, and none in a name (an even place),
    make every k(i) odd; and the number of pieces, k(1) + ... + k(n) + n, being twice the
    number of lines n (counted from the length the newlines added) makes every k(i) 1. Names
    must also be non-empty and hold no colon (the first colon ends a name). Anything else
    returns None, for the line-by-line rules.
    """
    if "\0" in text:
        return None
    replaced = text.replace("\n", "\0: ")
    lines = (len(replaced) - len(text)) // 2 + 1
    pieces = replaced.split(": ")
    names = pieces[0::2]
    spelled = "".join(names)
    if len(pieces) != 2 * lines or "\0" in spelled or ":" in spelled or not all(names):
        return None
    # The values, each ending in its line's NUL but the last: `lines` of them, once joined.
    joined = "".join(pieces[1::2])
    values = _decode_joined(joined, lines) if encoded else joined.split("\0")
    if values is None:
        return None
    return list(zip(names, values, strict=True))


def _value_at(text: str, start: int) -> str:
    """The value that starts at `start` (after its colon), to the end of its line."""
    if text.startswith(" ", start):
        start += 1
    end = text.find("\n", start)
    return text[start:] if end < 0 else text[start:end]


class Headers(Mapping[str, str]):
    """An ordered, read-only multi-map of header names to values.

    `headers[name]` and `get` return the first value of that name, decoded. Names match
    exactly first, then ignoring case and `-`/`_` (so `event_name` finds `Event-Name`).
    `get_all` returns every value of a repeated header; `raw` the value as it came.
    """

    __slots__ = (
        "_encoded",
        "_first",
        "_folded",
        "_folded_names",
        "_pairs",
        "_text",
        "_where",
    )

    def __init__(self, pairs: list[tuple[str, str]], *, encoded: bool = False) -> None:
        self._encoded = encoded
        self._text: str | None = None
        self._where = ""
        self._split(pairs)

    @classmethod
    def from_text(cls, text: str, where: str, *, encoded: bool = False) -> Headers:
        """Header lines, not split until all of them are needed.

        A malformed line raises RemoteProtocolError (naming `where`) then, not here.
        """
        headers = cls.__new__(cls)
        headers._encoded = encoded
        headers._text = "\n" + text  # every line, the first too, starts after a newline
        headers._where = where
        return headers

    def _split(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        # The first of repeated names wins, as switch_event_get_header does; names keep the
        # order they came in. Both in C: dict() keeps each name at its first position, and
        # re-assigning the values in reverse leaves the first value there.
        first = dict(pairs)
        if len(first) != len(pairs):
            first.update(reversed(pairs))
        self._first: dict[str, str] = first
        self._folded: dict[str, str] | None = None
        self._folded_names: str | None = None

    def _all(self) -> list[tuple[str, str]]:
        text = self._text
        if text is not None:
            self._split(parse_header_lines(text[1:], self._where))
            self._text = None
        return self._pairs

    def _lookup(self, name: str) -> str | None:
        text = self._text
        return self._find(text, name) if text is not None else self._lookup_split(name)

    def _lookup_split(self, name: str) -> str | None:
        value = self._first.get(name)
        if value is not None:
            return value
        # Most misses are headers that are not there at all: rule those out with one search of
        # the folded names before building the folded map.
        folded_names = self._folded_names
        if folded_names is None:
            folded_names = self._folded_names = _fold("\n" + "\n".join(self._first) + "\n")
        if "\n" + _fold(name) + "\n" not in folded_names:
            return None
        if self._folded is None:
            self._folded = {_fold(key): key for key in reversed(list(self._first))}
        key = self._folded.get(_fold(name))
        return None if key is None else self._first[key]

    def _find(self, text: str, name: str) -> str | None:
        # A split line's name is what precedes its first colon, and holds no newline.
        if not name or ":" in name or "\n" in name:
            return None
        # The exact spelling wins wherever it is (as in the split lines' map), and it is what
        # FreeSWITCH writes: one plain search of the text (a SIP event's block is ~6 KB; no
        # folded copy of it) finds it. Only a name not spelled so needs the folded search.
        start = text.find("\n" + name + ":")
        if start >= 0:
            # `_value_at`, written out: this is every event's lookup.
            start += len(name) + 2
            if text.startswith(" ", start):
                start += 1
            end = text.find("\n", start)
            return text[start:] if end < 0 else text[start:end]
        if not text.isascii():
            return self._find_slowly(text, name)
        pattern = _folded_pattern(name)
        found = None if pattern is None else pattern.search(text)
        return None if found is None else _value_at(text, found.end())

    def _find_slowly(self, text: str, name: str) -> str | None:
        # Not ASCII (FreeSWITCH encodes what is not): lower() may change lengths, so a folded
        # search's positions would not be the text's. Fold line by line instead.
        folded = _fold(name)
        for line in text.split("\n"):
            key, colon, value = line.partition(":")
            if colon and _fold(key) == folded:
                return value[1:] if value.startswith(" ") else value
        return None

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        text = self._text
        value = self._find(text, name) if text is not None else self._lookup_split(name)
        if value is None:
            return default
        if self._encoded and ("%" in value or value == UNDEFINED):
            return decode_value(value)
        return value

    def last(self, name: str, default: str | None = None) -> str | None:
        """The value of the last header spelled exactly `name`; if none, what `get` finds.

        The same as `get` for a header that does not repeat, and for the headers FreeSWITCH
        adds after an event's channel data (`Application-UUID`, `DTMF-Digit`) much quicker:
        in a SIP call's event they follow 5 KB of variables, which a search from the end of
        the text does not read.
        """
        text = self._text
        raw: str | None = None
        if text is None:
            raw = next((value for key, value in reversed(self._pairs) if key == name), None)
        elif name and ":" not in name and "\n" not in name:
            start = text.rfind("\n" + name + ":")
            if start >= 0:
                raw = _value_at(text, start + len(name) + 2)
        if raw is None:
            return self.get(name, default)
        return decode_value(raw) if self._encoded else raw

    def raw(self, name: str) -> str | None:
        """The value as it was on the wire, not decoded."""
        return self._lookup(name)

    def get_all(self, name: str) -> list[str]:
        folded = _fold(name)
        return [
            decode_value(value) if self._encoded else value
            for key, value in self._all()
            if key == name or _fold(key) == folded
        ]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._lookup(name) is not None

    def __iter__(self) -> Iterator[str]:
        self._all()
        return iter(self._first)

    def __len__(self) -> int:
        self._all()
        return len(self._first)

    def pairs(self) -> list[tuple[str, str]]:
        """Every header in order, repeated ones included, decoded."""
        text = self._text
        if text is None:
            pairs = self._pairs
        else:
            # Straight from the text: no lookup map needed, and lookups keep using the text.
            split = _split_block(text[1:], encoded=self._encoded)
            if split is not None:
                return split
            pairs = parse_header_lines(text[1:], self._where)
        if not self._encoded or not pairs:
            return list(pairs)
        keys, values = zip(*pairs, strict=True)
        return list(zip(keys, decode_values(values), strict=True))

    def raw_pairs(self) -> list[tuple[str, str]]:
        return list(self._all())

    @property
    def encoded(self) -> bool:
        return self._encoded

    def __repr__(self) -> str:
        return f"Headers({self.pairs()!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return super().__eq__(other)
        if self._text is not None and self._text == other._text:
            # The same lines: the same headers, or (a malformed line) the same error.
            return self._encoded == other._encoded
        try:
            return self.pairs() == other.pairs()
        except RemoteProtocolError:
            return False  # a malformed block equals only its own text

    __hash__ = None  # type: ignore[assignment]
