"""Headers: first of repeated names wins, names fold, values decode only when read."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ivrd.esl.protocol import Headers, RemoteProtocolError
from ivrd.esl.protocol._headers import decode_value, decode_values, parse_header_lines


def test_first_of_repeated_names_wins_and_get_all_returns_every_one() -> None:
    headers = Headers([("Event-Name", "A"), ("X", "1"), ("Event-Name", "B"), ("event_name", "C")])

    assert headers["Event-Name"] == "A"
    assert headers.get("Event-Name") == "A"
    assert headers.get_all("Event-Name") == ["A", "B", "C"]
    assert headers.get_all("x") == ["1"]
    assert headers.get_all("missing") == []


def test_names_fold_case_and_underscores_but_an_exact_name_comes_first() -> None:
    headers = Headers([("Event-Name", "A"), ("event_name", "B")])

    assert headers["event_name"] == "B"  # exact
    assert headers["EVENT-NAME"] == "A"  # folded: the first name that folds to it
    assert headers["Event_Name"] == "A"
    assert headers.get("eventname") is None
    assert "EVENT_NAME" in headers
    assert "Unique-ID" not in headers
    assert 1 not in headers


def test_missing_names() -> None:
    headers = Headers([("A", "1")])

    assert headers.get("B") is None
    assert headers.get("B", "default") == "default"
    assert headers.raw("B") is None
    with pytest.raises(KeyError, match="'B'"):
        headers["B"]


def test_iteration_is_in_wire_order_one_name_each() -> None:
    headers = Headers([("C", "1"), ("A", "2"), ("B", "3"), ("A", "4"), ("a", "5")])

    assert list(headers) == ["C", "A", "B", "a"]
    assert len(headers) == 4
    assert dict(headers) == {"C": "1", "A": "2", "B": "3", "a": "5"}
    assert headers.pairs() == [("C", "1"), ("A", "2"), ("B", "3"), ("A", "4"), ("a", "5")]


def test_encoded_values_are_percent_decoded_when_read() -> None:
    headers = Headers(
        [
            ("Caller-Name", "Mr%20Switchy"),
            ("Plus", "a+b%2Bc"),
            ("Empty", "_undef_"),
            ("Bad", "100%zz%"),
            ("Latin1", "caf%E9"),
            ("Utf8", "caf%C3%A9"),
            ("Repeated", "x%20y"),
            ("Repeated", "%7C"),
        ],
        encoded=True,
    )

    assert headers.encoded
    assert headers["Caller-Name"] == "Mr Switchy"
    assert headers["Plus"] == "a+b+c"  # `+` stays `+`: percent-decoding, not form-decoding
    assert headers["Empty"] == ""
    assert headers["Bad"] == "100%zz%"  # invalid percent-encoding stays literal
    assert headers["Latin1"] == "caf\ufffd"  # not UTF-8 once decoded: replaced, no error
    assert headers["Utf8"] == "café"
    assert headers.get_all("repeated") == ["x y", "|"]
    assert headers.raw("Caller-Name") == "Mr%20Switchy"
    assert headers.pairs()[0] == ("Caller-Name", "Mr Switchy")
    assert headers.raw_pairs()[0] == ("Caller-Name", "Mr%20Switchy")
    assert dict(headers)["Plus"] == "a+b+c"


def test_plain_values_are_never_decoded() -> None:
    headers = Headers([("Reply-Text", "+OK 50%20done"), ("Empty", "_undef_")])

    assert not headers.encoded
    assert headers["Reply-Text"] == "+OK 50%20done"
    assert headers["Empty"] == "_undef_"


def test_equality_compares_decoded_pairs_in_order() -> None:
    encoded = Headers([("A", "x%20y")], encoded=True)

    assert encoded == Headers([("A", "x y")])
    assert Headers([("A", "1"), ("B", "2")]) != Headers([("B", "2"), ("A", "1")])
    assert Headers([("A", "1"), ("A", "2")]) != Headers([("A", "1")])
    assert encoded == {"A": "x y"}  # and as a mapping
    assert repr(encoded) == "Headers([('A', 'x y')])"
    with pytest.raises(TypeError, match="unhashable"):
        hash(encoded)


def test_a_block_with_a_malformed_line_equals_only_its_own_text() -> None:
    # Its lines are checked when all of them are read; comparing must not raise for it.
    bad = "A: 1\na line without a colon"
    same = Headers.from_text(bad, "frame")

    assert same == Headers.from_text(bad, "frame")
    assert same != Headers.from_text(bad, "frame", encoded=True)
    assert same != Headers.from_text("A: 1", "frame")
    assert Headers([("A", "1")]) != same
    with pytest.raises(RemoteProtocolError, match="without a name and colon"):
        same.pairs()


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("", ""),
        ("_undef_", ""),
        ("plain", "plain"),
        ("%3A%3A", "::"),
        ("%", "%"),
        ("%2", "%2"),
        ("%%41", "%A"),
        ("%F0%9F%93%9E", "\U0001f4de"),
        ("%FF%FE", "\ufffd\ufffd"),
        ("+%2B+", "+++"),
    ],
)
def test_decode_value(raw: str, decoded: str) -> None:
    assert decode_value(raw) == decoded


def test_header_lines_strip_one_space_and_keep_colons_in_values() -> None:
    text = "A: 1\nB:2\nC:  3\nD: a: b\nE:\nF: \n\nG: x"

    assert parse_header_lines(text, "frame") == [
        ("A", "1"),
        ("B", "2"),
        ("C", " 3"),
        ("D", "a: b"),
        ("E", ""),
        ("F", ""),
        ("G", "x"),
    ]


LINE_TEXT = st.text(st.sampled_from(": aB_") | st.characters(exclude_characters="\n"), max_size=12)


@given(st.lists(LINE_TEXT, max_size=8))
@example(["a:b: c", "d:  e", "f:"])
@example([":g"])
def test_header_lines_split_at_the_first_colon_and_drop_one_space(lines: list[str]) -> None:
    expected = []
    for line in lines:
        name, colon, value = line.partition(":")
        if line and (not colon or not name):
            with pytest.raises(RemoteProtocolError):
                parse_header_lines("\n".join(lines), "x")
            return
        if line:
            expected.append((name, value[1:] if value.startswith(" ") else value))

    assert parse_header_lines("\n".join(lines), "x") == expected


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("no colon here", "'no colon here'"),
        (": no name", "': no name'"),
        ("x" * 70, "'" + "x" * 57 + "...'"),
    ],
)
def test_header_line_without_a_name_and_colon_is_an_error(line: str, shown: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_header_lines(f"A: 1\n{line}\nB: 2", "text/event-plain")

    assert str(caught.value) == (f"text/event-plain: header line without a name and colon: {shown}")


# A header block kept as text: each lookup finds its own line.

NAME = st.text(st.characters(exclude_characters=":\n"), min_size=1, max_size=8) | st.sampled_from(
    ["Event-Name", "event_name", "EVENT-NAME", "Unique-ID", "unique_id", "K", "k", "\u212a", "İ"]
)
VALUE = st.text(st.characters(exclude_characters="\n"), max_size=8)


@settings(max_examples=300)
@given(
    lines=st.lists(
        st.tuples(NAME, st.sampled_from([": ", ":", ":  "]), VALUE) | st.just(("a", ":", "b: c")),
        max_size=8,
    ),
    lookups=st.lists(NAME | st.sampled_from(["", "a:b", "a\nb", "Event"]), max_size=8),
    encoded=st.booleans(),
)
def test_a_text_block_answers_every_lookup_as_its_split_lines_do(
    lines: list[tuple[str, str, str]], lookups: list[str], encoded: bool
) -> None:
    text = "\n".join(name + colon + value for name, colon, value in lines)
    split = Headers(parse_header_lines(text, "x"), encoded=encoded)
    names = [name for name, _, _ in lines]
    # The names that are there, as written and folded the other way round.
    candidates = lookups + names + [name.upper().replace("-", "_") for name in names]

    for name in candidates:
        kept = Headers.from_text(text, "x", encoded=encoded)  # each lookup the first one
        assert kept.raw(name) == split.raw(name), name
        assert kept.get(name) == split.get(name), name
        assert (name in kept) == (name in split), name
    kept = Headers.from_text(text, "x", encoded=encoded)
    for name in candidates:
        assert kept.get(name) == split.get(name), name
        # `last`: the last value spelled exactly so, else what `get` finds.
        exact = [value for key, value in split.raw_pairs() if key == name]
        if exact:
            expected = decode_value(exact[-1]) if encoded else exact[-1]
        else:
            expected = split.get(name)
        assert kept.last(name) == expected, name
        assert split.last(name) == expected, name
    assert kept.pairs() == split.pairs()
    assert list(kept) == list(split)
    assert kept == split


# ASCII names that differ only in case, `-`/`_` or a regular expression's metacharacters: the
# exact-then-folded search of an ASCII block, against the split lines.
ASCII_NAME = st.text(st.sampled_from("aAbB-_.*[\\"), min_size=1, max_size=4)


@settings(max_examples=300)
@given(
    lines=st.lists(st.tuples(ASCII_NAME, st.text("xy: ", max_size=3)), max_size=8),
    lookups=st.lists(ASCII_NAME, max_size=8),
)
def test_an_ascii_block_answers_every_spelling_as_its_split_lines_do(
    lines: list[tuple[str, str]], lookups: list[str]
) -> None:
    text = "\n".join(f"{name}: {value}" for name, value in lines)
    split = Headers(parse_header_lines(text, "x"))

    for name in lookups + [name.swapcase() for name, _ in lines]:
        assert Headers.from_text(text, "x").raw(name) == split.raw(name), name


def test_a_text_block() -> None:
    headers = Headers.from_text(
        "Event-Name: DTMF\nDTMF-Digit: %23\nX: 1\nx: 2\nEmpty: _undef_\nLast:", "e", encoded=True
    )

    assert headers["Event-Name"] == "DTMF"
    assert headers["dtmf_digit"] == "#"
    assert headers.raw("DTMF-Digit") == "%23"
    assert (headers["x"], headers["X"], headers["Empty"], headers["last"]) == ("2", "1", "", "")
    assert headers.get("Missing") is None
    assert "event-name" in headers
    assert headers.get_all("X") == ["1", "2"]
    assert len(headers) == 6
    assert headers.encoded


def test_last_finds_a_header_after_the_channel_data_from_the_end() -> None:
    variables = "".join(f"variable_v{i}: {'x' * 20}\n" for i in range(200))
    text = f"Event-Name: X\n{variables}Application-UUID: a\nDTMF-Digit: %23\nApplication-UUID: b"
    for headers in (
        Headers.from_text(text, "e", encoded=True),
        Headers(parse_header_lines(text, "e"), encoded=True),
    ):
        assert headers.last("DTMF-Digit") == "#" == headers.get("DTMF-Digit")
        assert (headers.last("Application-UUID"), headers.get("Application-UUID")) == ("b", "a")
        assert headers.last("dtmf_digit") == "#"  # not spelled so: as `get` finds it
        assert headers.last("Missing") is None
        assert headers.last("Missing", "-") == "-"


def test_a_text_block_that_is_not_ascii_still_folds_names() -> None:
    headers = Headers.from_text("Caller-Name: Jürgen\nbroken line\nİ-Header: 1", "e")

    assert headers["caller_name"] == "Jürgen"
    assert headers["İ-Header"] == "1"
    assert headers.get("i-header") is None
    assert headers.get("broken line") is None
    with pytest.raises(RemoteProtocolError, match=r"^e: header line without a name and colon"):
        headers.pairs()


# Whole blocks at once (a full event's pairs): the same as line by line and value by value.


def split_line_by_line(text: str) -> list[tuple[str, str]] | None:
    """The header rules, one line at a time, written plainly; None for a malformed line."""
    pairs = []
    for line in text.split("\n"):
        name, colon, value = line.partition(":")
        if not line:
            continue
        if not colon or not name:
            return None
        pairs.append((name, value[1:] if value.startswith(" ") else value))
    return pairs


# Values as FreeSWITCH encodes them, and what else may come: bad or lower-case escapes, `%00`,
# `=`, NUL, `_undef_`, text that is not ASCII, and halves of UTF-8 sequences in separate values.
ENCODED_VALUE = st.lists(
    st.sampled_from(
        [
            *("%20", "%3A", "%0A", "%0D%0A", "%25", "%C3", "%A9", "%e2%82%ac", "%zz", "%", "%4"),
            *("%00", "=", "=3D", "\0", "_undef_", "é", "a", "sip:x@y", ": ", ":", "%3a%20"),
        ]
    ),
    max_size=6,
).map("".join)
LINE = st.tuples(
    st.sampled_from(["Event-Name", "variable_sip_h_X", "A", "a:b", "", "Name%20"]),
    st.sampled_from([": ", ":", ":  ", ""]),
    ENCODED_VALUE,
).map("".join)
# Enough lines to be longer than the 400 characters below which lines are split one by one.
PADDING = "\n".join(f"Padding-{i}: value%20{i}" for i in range(24))


@settings(max_examples=300)
@given(lines=st.lists(LINE, max_size=10), padded=st.booleans(), encoded=st.booleans())
@example(lines=["A: x%0Ay", "B: %C3", "C: %A9"], padded=True, encoded=True)
@example(lines=["A: 1", "", "B: 2"], padded=True, encoded=True)
@example(lines=["A: 1: 2", "B"], padded=True, encoded=False)
@example(lines=["A: b: c: d", "B: e"], padded=True, encoded=False)  # 3 pieces too many
@example(lines=["A: b: c: d%00", "B: e"], padded=True, encoded=True)  # ... and a NUL too
def test_a_whole_block_splits_and_decodes_as_line_by_line_and_value_by_value(
    lines: list[str], padded: bool, encoded: bool
) -> None:
    text = "\n".join([PADDING, *lines] if padded else lines)
    expected = split_line_by_line(text)

    if expected is None:
        with pytest.raises(RemoteProtocolError):
            parse_header_lines(text, "x")
        with pytest.raises(RemoteProtocolError):
            Headers.from_text(text, "x", encoded=encoded).pairs()
        return
    decoded = [(name, decode_value(value) if encoded else value) for name, value in expected]
    assert parse_header_lines(text, "x") == expected
    assert Headers.from_text(text, "x", encoded=encoded).pairs() == decoded
    assert Headers(expected, encoded=encoded).pairs() == decoded


@settings(max_examples=300)
@given(st.lists(ENCODED_VALUE | st.text(max_size=6), max_size=12))
@example(["%C3", "%A9"])  # a UTF-8 sequence split across two values stays two errors
@example(["a%00b", "c"])
@example(["x\0y", "%41"])
@example(["%5Fundef%5F", "_undef_", "a%20b"])  # only the one sent as `_undef_` is empty
def test_decode_values_is_decode_value_of_each(values: list[str]) -> None:
    assert decode_values(values) == [decode_value(value) for value in values]
