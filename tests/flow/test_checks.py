"""Graph and reference checks on flows that pass the schema (the corpus covers the messages)."""

from __future__ import annotations

import pytest

from ivrd.flow import Flow, load_flow_text
from ivrd.flow.checks import hook_edges, step_edges
from ivrd.flow.references import variables_set

HEAD = "ivr: 1\nname: t\nstart: a\n"


def messages(text: str) -> list[str]:
    return [str(d) for d in load_flow_text(HEAD + text, "t.yaml").diagnostics]


def test_a_loop_through_an_input_step_is_fine() -> None:
    assert (
        messages(
            "steps:\n"
            "  a: {type: menu, prompt: {say: x}, options: {'1': b}, too_many_attempts: b}\n"
            "  b: {type: play, prompt: {say: y}, next: a}\n"
        )
        == []
    )


def test_a_loop_with_a_way_out_is_fine() -> None:
    assert (
        messages(
            "steps:\n"
            "  a: {type: set, vars: {n: '{{ vars.n | default(0) | int + 1 }}'}, next: b}\n"
            "  b: {type: choose, branches: [{if: 'vars.n | int < 3', go: a}, {else: c}]}\n"
            "  c: {type: hangup}\n"
        )
        == []
    )


def test_a_loop_bounded_by_call_longer_than_is_fine() -> None:
    assert (
        messages(
            "steps:\n"
            "  a: {type: play, prompt: {play: local_stream://moh}, next: a}\n"
            "  bye: {type: hangup}\n"
            "on:\n  call_longer_than: {after: 10m, go: bye}\n"
        )
        == []
    )


def test_a_key_hook_is_a_way_out_only_while_something_plays() -> None:
    hook = "  bye: {type: hangup}\non:\n  key: {'*0': bye}\n"
    assert messages("steps:\n  a: {type: play, prompt: {play: moh.wav}, next: a}\n" + hook) == []
    assert messages("steps:\n  a: {type: set, vars: {x: '1'}, next: a}\n" + hook) == [
        "t.yaml:5:3: steps.a: loop without input or way out: a -> a; "
        "the call would go round until max_steps stops it"
    ]
    # A hook not listened to during the loop is no way out either.
    assert messages(
        "steps:\n  a: {type: play, prompt: {play: moh.wav}, next: a}\n"
        "  bye: {type: hangup}\non:\n  key: {'*0': {go: bye, not_during: [a]}}\n"
    ) == [
        "t.yaml:5:3: steps.a: loop without input or way out: a -> a; "
        "the call would go round until max_steps stops it"
    ]


def test_the_loop_message_shows_the_shortest_way_round() -> None:
    assert messages(
        "steps:\n"
        "  a: {type: play, prompt: {say: x}, next: b}\n"
        "  b: {type: choose, branches: [{if: 'true', go: c}, {else: a}]}\n"
        "  c: {type: set, vars: {x: '1'}, next: a}\n"
    ) == [
        "t.yaml:5:3: steps.a: loop without input or way out: a -> b -> a; "
        "the call would go round until max_steps stops it"
    ]


def test_a_subflow_return_leaves_a_loop() -> None:
    assert (
        messages(
            "returns: [done]\nsteps:\n"
            "  a: {type: play, prompt: {say: x}, next: b}\n"
            "  b: {type: choose, branches: [{if: 'true', go: a}, {else: done}]}\n"
        )
        == []
    )


def test_steps_reached_only_by_hooks_or_defaults_are_reachable() -> None:
    assert (
        messages(
            "defaults: {too_many_attempts: operator, no_input: {go: sorry}}\n"
            "steps:\n"
            "  a: {type: menu, prompt: {say: x}, options: {'1': bye}}\n"
            "  bye: {type: hangup}\n"
            "  operator: {type: hangup}\n"
            "  sorry: {type: hangup}\n"
            "  oops: {type: hangup}\n"
            "  late: {type: hangup}\n"
            "  human: {type: hangup}\n"
            "on:\n  error: oops\n  call_longer_than: {after: 1h, go: late}\n  key: {'*9': human}\n"
        )
        == []
    )


def test_hash_comment_trap_in_hook_keys() -> None:
    assert messages("steps:\n  a: {type: hangup}\non:\n  key:\n    '*0': a\n    #: a\n") == [
        "t.yaml:9:5: on.key: '#:' here is a YAML comment, so this entry is ignored; "
        'quote the key: "#":'
    ]


def test_a_quoted_hash_key_is_no_trap() -> None:
    assert (
        messages(
            "steps:\n"
            "  a: {type: menu, prompt: {say: x}, too_many_attempts: a2, options:\n"
            "      {'#': a2, '1': a2}}\n"
            "  a2: {type: hangup}\n"
        )
        == []
    )


def test_template_reads_of_variables() -> None:
    text = (
        "variables: {seed: '1'}\n"
        "steps:\n"
        "  a: {type: play, prompt: {say: \"{{ vars.get('later') }} {{ flow.language }}\"},\n"
        "      next: {go: b, set: {later: '{{ vars.seed }}'}}}\n"
        "  b: {type: play, prompt: {say: '{{ vars.unknown_thing }}'}, next: c}\n"
        "  c: {type: hangup}\n"
    )
    assert messages(text) == ["t.yaml:8:33: steps.b.prompt.say: 'vars.unknown_thing' is never set"]


def test_variables_set_collects_every_assignment() -> None:
    flow = load_flow_text(
        HEAD + "variables: {v0: x}\n"
        "services: {crm: {base_url: 'http://x'}}\n"
        "steps:\n"
        "  a: {type: ask, prompt: {say: x}, digits: {max: 4}, save_as: v1,\n"
        "      next: {go: b, set: {v2: x}}, too_many_attempts: b}\n"
        "  b: {type: http, service: crm, save_as: v3,\n"
        "      next: [{if: 'true', go: c, set: {v4: x}}, {else: {go: c, set: {v5: x}}}],\n"
        "      on_error: c}\n"
        "  c: {type: set, vars: {v6: x}, next: d}\n"
        "  d: {type: record, path: /tmp/x.wav, save_as: v7, next: e}\n"
        "  e: {type: hangup}\n",
        "t.yaml",
    ).require()
    assert variables_set(flow) == {f"v{i}" for i in range(8)}


def test_edges_of_steps_and_hooks() -> None:
    flow: Flow = load_flow_text(
        HEAD + "steps:\n"
        "  a: {type: check_hours, calendar: c, open: b, closed: b, holiday: z}\n"
        "  b: {type: hangup}\n  z: {type: hangup}\n"
        "calendars: {c: {hours: {mon: '08:00-09:00'}}}\n"
        "on: {error: z, key: {'*0': b}, call_longer_than: {after: 1h, go: z}}\n",
        "t.yaml",
    ).require()
    assert [(e.outcome, e.target, e.path) for e in step_edges(flow, "a")] == [
        ("open", "b", ("steps", "a", "open", "go")),
        ("closed", "b", ("steps", "a", "closed", "go")),
        ("holiday", "z", ("steps", "a", "holiday", "go")),
    ]
    assert [(e.outcome, e.target) for e in hook_edges(flow)] == [
        ("key *0", "b"),
        ("error", "z"),
        ("call_longer_than", "z"),
    ]


@pytest.mark.parametrize("size", [3000])
def test_long_chains_and_loops_do_not_recurse(size: int) -> None:
    lines = [
        f"  s{i}: {{type: play, prompt: {{say: x}}, next: s{(i + 1) % size}}}" for i in range(size)
    ]
    result = load_flow_text("ivr: 1\nname: big\nstart: s0\nsteps:\n" + "\n".join(lines), "big.yaml")
    assert [d.message.split(":")[0] for d in result.diagnostics] == [
        "loop without input or way out"
    ]
