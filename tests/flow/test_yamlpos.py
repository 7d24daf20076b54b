"""The YAML loader: strings stay strings, values know their place, syntax errors are reported."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from ivrd.flow.yamlpos import Position, format_path, load_yaml

TRAPS = """\
account: 0123
octal: 0o17
time: 17:30
norway: no
yes_word: yes
on: true
float: 1e3
version: 1.10
empty:
tilde: ~
null_word: null
quoted_null: "null"
key_one:
  1: one
"""


def test_every_scalar_is_a_string_except_empty_and_null() -> None:
    document = load_yaml(TRAPS, "traps.yaml")
    assert document.diagnostics == []
    assert document.data == {
        "account": "0123",
        "octal": "0o17",
        "time": "17:30",
        "norway": "no",
        "yes_word": "yes",
        "on": "true",
        "float": "1e3",
        "version": "1.10",
        "empty": None,
        "tilde": None,
        "null_word": None,
        "quoted_null": "null",
        "key_one": {"1": "one"},
    }
    # What PyYAML would have made of the same text, for contrast.
    native = yaml.safe_load(TRAPS)
    assert (native["account"], native["time"], native["norway"], native[True]) == (
        83,
        1050,
        False,
        True,
    )


def test_positions_of_keys_and_values() -> None:
    text = "steps:\n  menu:\n    type: menu\n    options: {'1': sales, '#': operator}\n"
    source = load_yaml(text, "f.yaml").source
    assert source.key_position(("steps", "menu")) == Position(2, 3)
    assert source.value_position(("steps", "menu", "type")) == Position(3, 11)
    assert source.key_position(("steps", "menu", "options", "#")) == Position(4, 27)
    assert source.value_position(("steps", "menu", "options", "#")) == Position(4, 32)
    # A mapping is pointed at by its key, a scalar by its value.
    assert source.position(("steps", "menu")) == Position(2, 3)
    assert source.position(("steps", "menu", "type")) == Position(3, 11)
    assert source.position(("steps", "menu", "type"), at_key=True) == Position(3, 5)
    assert list(source.line_span(("steps", "menu"))) == [3, 4]
    assert list(source.line_span(("steps", "menu"), with_key=True)) == [2, 3, 4]


def test_list_positions_and_paths() -> None:
    source = load_yaml("to:\n  - user/1\n  - user/2\n", "f.yaml").source
    assert source.value_position(("to", 1)) == Position(3, 5)
    assert format_path(("to", 1)) == "to.1"


def test_resolve_skips_union_tags_and_stops_at_what_was_written() -> None:
    source = load_yaml("steps:\n  a:\n    type: menu\n    next: b\n", "f.yaml").source
    assert source.resolve(("steps", "a", "menu", "next", "<target>", "go")) == (
        ("steps", "a", "next"),
        False,
    )
    assert source.resolve(("steps", "a", "[key]")) == (("steps", "a"), True)
    assert source.resolve(("nothing", "here")) == ((), False)


def test_a_position_for_a_path_never_written_is_the_start_of_the_file() -> None:
    source = load_yaml("a: 1\n", "f.yaml").source
    assert source.position(("b",)) == Position(1, 1)
    assert source.key_position(("b",)) == Position(1, 1)
    assert list(source.line_span(("b",))) == []


def test_duplicate_keys_are_reported_at_the_second_and_the_last_one_wins() -> None:
    document = load_yaml("a: 1\nb: 2\na: 3\n", "d.yaml")
    assert document.data == {"b": "2", "a": "3"}
    assert [str(d) for d in document.diagnostics] == [
        "d.yaml:3:1: a: duplicate key 'a' (first on line 1); YAML keeps only one"
    ]


def test_merge_keys_work_and_explicit_keys_win() -> None:
    text = "base: &base {attempts: 3, end_key: '#'}\nask:\n  <<: *base\n  attempts: 5\n"
    document = load_yaml(text, "m.yaml")
    assert document.diagnostics == []
    assert document.data["ask"] == {"attempts": "5", "end_key": "#"}


def test_merge_of_a_list_of_mappings_and_a_bad_merge() -> None:
    text = "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\nd:\n  <<: text\n"
    document = load_yaml(text, "m.yaml")
    assert document.data["c"] == {"x": "1", "y": "2"}
    assert [str(d) for d in document.diagnostics] == [
        "m.yaml:6:7: d: '<<' merges a mapping or a list of mappings"
    ]


def test_aliases_copy_values_and_recursion_is_reported() -> None:
    document = load_yaml("a: &x [1, 2]\nb: *x\n", "a.yaml")
    assert document.data == {"a": ["1", "2"], "b": ["1", "2"]}
    recursive = load_yaml("a: &x [*x]\n", "r.yaml")
    assert [str(d) for d in recursive.diagnostics] == ["r.yaml:1:4: a.0: an alias refers to itself"]


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    document = load_yaml("\n".join(lines) + "\n", "bomb.yaml")
    assert document.data is None
    assert "aliases expanding" in document.diagnostics[0].message


def test_empty_and_complex_keys_are_reported() -> None:
    document = load_yaml("? [a, b]\n: 1\n", "k.yaml")
    assert [str(d) for d in document.diagnostics] == [
        "k.yaml:1:3: a key must be plain text, not a list or mapping"
    ]
    empty = load_yaml("options:\n  ? \n  : operator\n", "e.yaml")
    assert empty.data == {"options": {}}
    assert [str(d) for d in empty.diagnostics] == ["e.yaml:2:4: options: empty key"]
    commented = load_yaml("options:\n  ? # the hash key\n  : operator\n", "e.yaml")
    assert [str(d) for d in commented.diagnostics] == [
        "e.yaml:2:4: options: empty key; an unquoted # starts a comment: quote it as '#'"
    ]


def test_empty_file_and_only_comments() -> None:
    for text in ("", "# nothing\n"):
        document = load_yaml(text, "e.yaml")
        assert document.data is None
        assert [str(d) for d in document.diagnostics] == ["e.yaml:1:1: the file is empty"]


def test_comment_swallowed_value_detection() -> None:
    source = load_yaml("end_key: #\nother:\nhash: '#' # a comment\n", "c.yaml").source
    assert source.comment_swallowed_value(("end_key",))
    assert not source.comment_swallowed_value(("other",))
    assert not source.comment_swallowed_value(("missing",))


SYNTAX_ERRORS = {
    "a:\n\tb: 1\n": "s.yaml:2:1: a tab character here; YAML indents with spaces only",
    "options:\n  *0: x\n": (
        "s.yaml:2:3: YAML syntax: found undefined alias '0'; an unquoted * starts an alias: "
        "quote keys like '*0' and '#'"
    ),
    "key: *\n": (
        "s.yaml:1:7: YAML syntax: expected alphabetic or numeric character, but found '\\n'; "
        "an unquoted * starts an alias: quote keys like '*0' and '#'"
    ),
    "a: 1\n b: 2\n": (
        "s.yaml:2:3: YAML syntax: a ':' where no value can start; check the indentation, "
        "or quote a value that contains ': '"
    ),
    "a:\n  b: 1\n c: 2\n": (
        "s.yaml:3:2: bad indentation: this line does not line up with the keys above it"
    ),
    "a: [1, 2\n": "s.yaml:2:1: YAML syntax: the '[' on line 1 is not closed "
    "(expected ',' or ']', but got '<stream end>')",
    "a: 1\n---\nb: 2\n": (
        "s.yaml:2:1: a second YAML document ('---'); a flow file holds exactly one flow"
    ),
    "a: 'open\n": (
        "s.yaml:2:1: YAML syntax: while scanning a quoted scalar, found unexpected end of stream"
    ),
}


def test_syntax_errors_become_one_diagnostic_each() -> None:
    for text, expected in SYNTAX_ERRORS.items():
        document = load_yaml(text, "s.yaml")
        assert document.data is None
        assert [str(d) for d in document.diagnostics] == [expected], text


@given(st.text(alphabet=st.sampled_from(list("ab:- \n\t#*&!|>'\"{}[],?~0123456789")), max_size=80))
def test_any_text_loads_or_reports_never_raises(text: str) -> None:
    document = load_yaml(text, "fuzz.yaml")
    if document.data is None and not document.diagnostics:
        assert yaml.safe_load(text) is None
    for diagnostic in document.diagnostics:
        assert diagnostic.line >= 1
        assert diagnostic.column >= 1
