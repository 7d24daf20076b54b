"""Header blocks: split into lines only when needed, percent-decoded only when a value is read.

FreeSWITCH percent-encodes every value of a `text/event-plain` body and of the `connect`
reply (the channel data), and nothing else. Decoding every value of every event up front is
where the Python peers spend most of their time, although a daemon reads a handful of headers
per event; so a `Headers` keeps the raw text and decodes a value when it is looked up.

An event's header block goes further (`Headers.from_text`): a SIP call's event has one or two
hundred lines, and splitting them all costs several times what finding the few the daemon
reads does (benchmarks/bench_parser.py). Such a block stays one string; a lookup finds its
line with `str.find`, and the lines are split (and each checked) only when all of them are
needed: iteration, `pairs`, `get_all`, equality. A lookup finds exactly what it would in the
split lines.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from urllib.parse import unquote

from ivrd.esl.protocol._errors import RemoteProtocolError

# FreeSWITCH writes `_undef_` for a header whose value is the empty string.
UNDEFINED = "_undef_"


def _fold(name: str) -> str:
    return name.lower().replace("_", "-")


def decode_value(raw: str) -> str:
    """Percent-decode one value the way FreeSWITCH encoded it (`+` stays `+`)."""
    if raw == UNDEFINED:
        return ""
    if "%" not in raw:
        return raw
    # errors="replace": a value that is not UTF-8 once decoded must not cost the call.
    return unquote(raw, errors="replace")


def parse_header_lines(text: str, where: str) -> list[tuple[str, str]]:
    """Split `Name: value` lines (no trailing blank line) into raw pairs."""
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
        "_folded_text",
        "_pairs",
        "_text",
        "_where",
    )

    def __init__(self, pairs: list[tuple[str, str]], *, encoded: bool = False) -> None:
        self._encoded = encoded
        self._text: str | None = None
        self._where = ""
        self._folded_text: str | None = None
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
        headers._folded_text = None
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
            self._text = self._folded_text = None
        return self._pairs

    def _lookup(self, name: str) -> str | None:
        if self._text is not None:
            return self._find(self._text, name)
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
        folded = self._folded_text
        if folded is None:
            if not text.isascii():
                return self._find_slowly(text, name)
            folded = self._folded_text = _fold(text)
        # One search finds the first line with the name in any spelling (so a header that is
        # not there costs one); only if that line spells it otherwise can an exact one follow.
        needle = "\n" + _fold(name) + ":"
        at = folded.find(needle)
        if at < 0:
            return None
        if not text.startswith(name, at + 1):
            exact = text.find("\n" + name + ":", at)
            if exact >= 0:
                at = exact
        return _value_at(text, at + len(needle))

    def _find_slowly(self, text: str, name: str) -> str | None:
        # Not ASCII (FreeSWITCH encodes what is not): lower() may change lengths, so the
        # folded text's positions would not be the text's. Fold line by line instead.
        needle = "\n" + name + ":"
        at = text.find(needle)
        if at >= 0:
            return _value_at(text, at + len(needle))
        folded = _fold(name)
        for line in text.split("\n"):
            key, colon, value = line.partition(":")
            if colon and _fold(key) == folded:
                return value[1:] if value.startswith(" ") else value
        return None

    def __getitem__(self, name: str) -> str:
        value = self._lookup(name)
        if value is None:
            raise KeyError(name)
        return decode_value(value) if self._encoded else value

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        value = self._lookup(name)
        if value is None:
            return default
        return decode_value(value) if self._encoded else value

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
        pairs = self._all()
        if not self._encoded:
            return list(pairs)
        return [
            (key, value if "%" not in value and value != UNDEFINED else decode_value(value))
            for key, value in pairs
        ]

    def raw_pairs(self) -> list[tuple[str, str]]:
        return list(self._all())

    @property
    def encoded(self) -> bool:
        return self._encoded

    def __repr__(self) -> str:
        return f"Headers({self.pairs()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self.pairs() == other.pairs()
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]
