"""Inputs the fuzzers (atheris in benchmarks/fuzz/, hypothesis here) found to break ivrd, inline,
each with what it does now. Before the fixes, each raised past the loaders (RecursionError,
UnicodeEncodeError) or gave an answer that depended on how the bytes arrived.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ivrd.daemon import load_config
from ivrd.esl.decode import decode_stream
from ivrd.esl.protocol import writers
from ivrd.flow import load_flow_text


def messages(text: str) -> list[str]:
    return [str(d) for d in load_flow_text(text, "f.yaml").diagnostics]


def test_a_template_nested_too_deeply_for_jinja() -> None:
    # atheris, fuzz_flow_loader (InsertRepeatedBytes into acme-main's transfer target):
    # Jinja's parser recursed once per bracket, RecursionError out of load_flow_text.
    text = (
        "ivr: 1\nname: f\nstart: t\nsteps:\n  t:\n    type: transfer\n"
        f'    to: "{{{{ {"[" * 400} }}}}"\n    answered: t\n'
    )
    assert messages(text) == [
        "f.yaml:7:9: steps.t.to: template error: nested too deeply to compile "
        "(brackets, filters or blocks within one another)"
    ]


@pytest.mark.parametrize("depth", [300, 900])
def test_a_python_compiler_limit_in_a_template(depth: int) -> None:
    # Found while reducing the case above: past ~200 levels Jinja parses, but Python's own
    # compiler refuses the code it makes (SyntaxError: too many nested parentheses), and
    # Jinja's optimiser took ten seconds over 300 levels first (now refused before that).
    text = (
        "ivr: 1\nname: f\nstart: t\nsteps:\n  t:\n    type: hangup\n"
        f'    prompt: {{say: "{{{{ vars.x{".a" * depth} }}}}"}}\n'
    )
    [message] = messages(text)
    assert message.startswith("f.yaml:7:")
    assert message.endswith("template error: nested too deeply to compile (brackets, filters "
                            "or blocks within one another)")  # fmt: skip


def test_yaml_nested_deeper_than_a_flow_needs() -> None:
    # libyaml composes 500 levels; converting them recursed past Python's limit.
    assert messages("a: " + "[" * 500 + "]" * 500) == [
        "f.yaml:1:104: lists or mappings nested more than 100 levels deep"
    ]


def test_yaml_nested_past_libyamls_limit() -> None:
    # libyaml refuses 1000 levels; the pure-Python re-read for a better message recursed.
    assert messages("[" * 100_000) == [
        "f.yaml:1:1001: YAML syntax: while increasing flow level, exceeded maximum nesting depth"
    ]


def test_text_that_is_not_unicode() -> None:
    # A lone surrogate (os.environ holds one for bytes that are not UTF-8): libyaml cannot
    # encode it, UnicodeEncodeError. Found in a flow text, and reachable from a variable:
    assert messages("ivr: 1\nname: \ud800\n") == [
        "f.yaml:2:7: a character YAML does not allow (#xd800); remove it"
    ]


def test_a_config_variable_that_is_not_unicode(tmp_path: Path) -> None:
    environ = {"IVRD_ROUTING_ROUTES": "[{destination: \udcff, flow: a}]"}
    result = load_config(None, {**environ, "IVRD_FLOWS_DIRECTORY": str(tmp_path)})
    assert [str(d) for d in result.diagnostics] == [
        "environment IVRD_ROUTING_ROUTES: a character YAML does not allow (#xdcff); remove it"
    ]


def test_esl_decode_offsets_do_not_depend_on_chunking() -> None:
    # hypothesis, test_fuzz_protocol: a blank line before a frame. Fed whole, the offset was
    # the blank line's (0); fed in two chunks, the frame's (1).
    data = b"\n" + writers.command_reply("+OK")
    whole = list(decode_stream([data]))
    bytewise = list(decode_stream(data[i : i + 1] for i in range(len(data))))
    assert [m["offset"] for m in whole] == [m["offset"] for m in bytewise] == [1]
