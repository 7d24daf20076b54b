"""switch_separate_string and the `{variables}` of a dial string, as FreeSWITCH reads them."""

from __future__ import annotations

import pytest

from ivrd.testing.separate import separate_string, take_variables


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("  a   b  ", ["a", "b"]),
        ("a 'b c' d", ["a", "b c", "d"]),
        (
            "{x='Acme Dental'}user/1 '&socket(h:1 async full)'",
            [
                "{x=Acme Dental}user/1",  # quotes go, wherever they are in a word
                "&socket(h:1 async full)",
            ],
        ),
        ("a\\ b c", ["a\\ b", "c"]),  # an escaped space joins, and stays escaped
        ("a\\sb \\'q\\' \\\\ \\n", ["a b", "'q'", "\\", "\n"]),
        ("a b'c d", ["a", "b'c d"]),  # an open quote runs to the end (and stays)
        ("^^,a b,c", ["a b", "c"]),
        ("", []),
    ],
)
def test_words_at_spaces(text: str, words: list[str]) -> None:
    assert separate_string(text) == words


def test_the_last_word_allowed_keeps_the_rest() -> None:
    assert separate_string("a b  c d ", " ", 2) == ["a", "b  c d"]
    assert separate_string("a=b=c", "=", 2) == ["a", "b=c"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a,'b,c',d\\,e,,f,", ["a", "b,c", "d,e", "", "f"]),
        ("a,b'c,d", ["a", "b'c", "d"]),  # a quote with no partner is a character
        (" a , b ", ["a", "b"]),
    ],
)
def test_words_at_a_character(text: str, words: list[str]) -> None:
    assert separate_string(text, ",") == words


def test_dial_string_variables() -> None:
    assert take_variables("{a=1,b='x,y',c=,d}{e=${f}}[g=2]user/1") == (
        {"a": "1", "b": "x,y", "e": "${f}"},  # `c=` and `d` have no value: dropped
        "[g=2]user/1",
    )
    assert take_variables("{^^;a=1,2;b=x=y}user/1|user/2") == (
        {"a": "1,2", "b": "x=y"},
        "user/1|user/2",
    )
    assert take_variables("user/1") == ({}, "user/1")
    assert take_variables("{a=1") == ({}, "{a=1")  # never closed: no variables


def test_leg_and_enterprise_variables() -> None:
    assert take_variables("[a=1,b=[x]] [c=2]user/1", "[", "]") == (
        {"a": "1", "b": "[x]", "c": "2"},
        "user/1",
    )
    assert take_variables("<a=1>{b=2}user/1", "<", ">") == ({"a": "1"}, "{b=2}user/1")
    assert take_variables("[a=1]user/1") == ({}, "[a=1]user/1")  # only the brackets asked for
