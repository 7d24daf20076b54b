"""Header blocks: parsed once into raw strings, percent-decoded only when a value is read.

FreeSWITCH percent-encodes every value of a `text/event-plain` body and of the `connect`
reply (the channel data), and nothing else. Decoding every value of every event up front is
where the Python peers spend most of their time, although a daemon reads a handful of headers
per event; so a `Headers` keeps the raw text and decodes a value when it is looked up.
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
        name, sep, value = line.partition(":")
        if not sep or not name:
            if not line:
                continue
            shown = line if len(line) <= 60 else line[:57] + "..."
            raise RemoteProtocolError(f"{where}: header line without a name and colon: {shown!r}")
        if value.startswith(" "):
            value = value[1:]
        pairs.append((name, value))
    return pairs


class Headers(Mapping[str, str]):
    """An ordered, read-only multi-map of header names to values.

    `headers[name]` and `get` return the first value of that name, decoded. Names match
    exactly first, then ignoring case and `-`/`_` (so `event_name` finds `Event-Name`).
    `get_all` returns every value of a repeated header; `raw` the value as it came.
    """

    __slots__ = ("_encoded", "_first", "_folded", "_pairs")

    def __init__(self, pairs: list[tuple[str, str]], *, encoded: bool = False) -> None:
        self._pairs = pairs
        self._encoded = encoded
        # reversed: the first of repeated names wins, as switch_event_get_header does.
        self._first: dict[str, str] = dict(reversed(pairs))
        self._folded: dict[str, str] | None = None

    def _lookup(self, name: str) -> str | None:
        value = self._first.get(name)
        if value is not None:
            return value
        if self._folded is None:
            self._folded = {_fold(key): key for key in reversed(list(self._first))}
        key = self._folded.get(_fold(name))
        return None if key is None else self._first[key]

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
            for key, value in self._pairs
            if key == name or _fold(key) == folded
        ]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._lookup(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def pairs(self) -> list[tuple[str, str]]:
        """Every header in order, repeated ones included, decoded."""
        if not self._encoded:
            return list(self._pairs)
        return [(key, decode_value(value)) for key, value in self._pairs]

    def raw_pairs(self) -> list[tuple[str, str]]:
        return list(self._pairs)

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
