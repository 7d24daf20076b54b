"""Prompts as the caller hears them: spoken text reaches the text-to-speech engine exactly as
the flow rendered it, backslashes included, whether it is a `speak` or a `say:` prompt of
play_and_get_digits; and an input step's file holds only what FreeSWITCH can play there.
The fake FreeSWITCH reads the arguments as FreeSWITCH does and notes what each TTS engine was
given (`CallRecord.spoken`)."""

from __future__ import annotations

import pytest

from ivrd.testing import Caller, Channel, Press

from .harness import both_backends, fast_caller, flow_text, run

pytestmark = pytest.mark.anyio

PAGD = "play_and_get_digits"
# What FreeSWITCH's passes would alter: `\\` and `\'` (the expansion), `\n` `\s` `\\` `\'`
# (the split of play_and_get_digits' argument), a backslash at the very end (it would escape
# the closing quote), one before `$` and `$$` (the expansion reads both as `$`).
TEXTS = ["C:\\new\\table", "a\\\\b", "it\\'s", "\\s", "ends in \\", "costs \\$5", "$$9"]
FLOW = flow_text(
    """
ivr: 1
name: spoken-text
tts: {engine: flite, voice: kal}
variables: {texts: ""}  # given by each test
start: hello
steps:
  hello:
    type: play
    prompt:
      - {say: 'Path C:\\new\\table, a\\\\b, it\\''s'}
      - {say: "{{ vars.texts | join(' | ') }} \\\\"}
      - {say: "{{ vars.texts[4] }}"}
    next: menu
  menu:
    type: menu
    prompt: {say: "{{ vars.texts | join(' ') }}"}
    options: {"1": bye}
    too_many_attempts: bye
  bye: {type: hangup}
"""
)


def spoken(texts: list[str], *, apostrophe: str = "'") -> list[tuple[str, str | None, str]]:
    return [("flite", "kal", text.replace("'", apostrophe)) for text in texts]


@both_backends
async def test_spoken_text_reaches_the_engine_as_rendered() -> None:
    ran = await run(FLOW, fast_caller(script=[Press("1", during=PAGD)]), variables={"texts": TEXTS})
    heard = [(speech.engine, speech.voice, speech.text) for speech in ran.record.spoken]
    assert heard == [
        *spoken(["Path C:\\new\\table, a\\\\b, it\\'s", " | ".join(TEXTS) + " \\", TEXTS[4]]),
        # In play_and_get_digits' quoted word a quote becomes a typographic apostrophe.
        *spoken([" ".join(TEXTS)], apostrophe="\u2019"),
    ]
    assert ran.outcomes == [
        ("hello", "next", "menu"),
        ("menu", "1", "bye"),
        ("bye", "hangup", None),
    ]
    # What goes on the wire: each backslash doubled once per FreeSWITCH pass that halves them.
    assert ran.apps[2] == ("speak", "flite|kal|Path C:\\\\new\\\\table, a\\\\\\\\b, it\\\\'s")
    assert ran.apps[4] == ("speak", "flite|kal|ends in \\\\")
    menu = ran.apps[5][1]
    assert menu.startswith("1 1 1 5000 none 'say:C:\\\\\\\\new\\\\\\\\table a\\\\\\\\\\\\\\\\b it")
    ran.assert_clean()


async def test_the_authors_freeswitch_variables_still_expand_beside_backslashes() -> None:
    flow = flow_text(
        """
ivr: 1
name: expanded
variables: {path: ""}
start: hello
steps:
  hello:
    type: hangup
    prompt: {say: 'Calling from \\${caller_id_number} {{ vars.path }}'}
"""
    )
    ran = await run(flow, Caller(), variables={"path": "C:\\new"})
    # The backslash before `$` is text like any other; the author's ${...} is FreeSWITCH's.
    assert [speech.text for speech in ran.record.spoken] == ["Calling from \\+4930111222 C:\\new"]


BRACES_FLOW = flow_text(
    """
ivr: 1
name: braces
tts: {engine: flite, voice: kal}
variables: {name: ""}
start: hello
steps:
  hello:
    type: play
    prompt: [{say: "{{ vars.name }}"}, {say: "${caller_id_name} is calling"}]
    next: menu
  menu:
    type: menu
    prompt: {say: "  {{ vars.name }}"}
    options: {"1": bye}
    too_many_attempts: bye
  bye: {type: hangup}
"""
)


@both_backends
async def test_a_text_starting_with_a_brace_is_spoken_whole_and_sets_nothing() -> None:
    """switch_core_speech_feed_tts reads a leading `{name=value,...}` (past spaces) as the
    engine's parameters and speaks only what follows; the value rendered here, or the
    caller's name FreeSWITCH expands, must not choose the voice nor lose its start."""
    evil = "{voice=evil}Hello"
    ran = await run(
        BRACES_FLOW,
        fast_caller(script=[Press("1", during=PAGD)]),
        channel=Channel(caller_id_name="{voice=evil}Mallory"),
        variables={"name": evil},
    )
    assert [(s.voice, s.params, s.text) for s in ran.record.spoken] == [
        ("kal", {}, evil),
        ("kal", {}, "{voice=evil}Mallory is calling"),
        ("kal", {}, evil),
    ]
    # An empty parameter block in front, which sets nothing.
    assert ran.apps[2] == ("speak", "flite|kal|{}" + evil)
    assert ran.apps[4][1].startswith("1 1 1 5000 none say:{}" + evil + " ")
    ran.assert_clean()


INPUT_FLOW = flow_text(
    """
ivr: 1
name: input-files
tts: {engine: flite, voice: kal}
start: ask
steps:
  ask:
    type: menu
    prompt: [{play: a.wav}, {say: "one"}, {play: b.wav}, {play: c.wav}]
    options: {"1": say_last}
    too_many_attempts: bye
  say_last:
    type: menu
    prompt: [{play: a.wav}, {phrase: hold}, {say: "two"}]
    options: {"1": bye}
    too_many_attempts: bye
  bye: {type: hangup}
"""
)


async def test_an_input_steps_file_holds_only_what_freeswitch_plays_in_it() -> None:
    """switch_ivr_play_file speaks `say:` and runs `phrase:` only as the whole file; in a
    file string each part is opened as a sound file. So what comes before the sound files at
    the end, or before a last `say`, plays first."""
    ran = await run(INPUT_FLOW, Caller(script=[Press("1", during=PAGD), Press("1", during=PAGD)]))
    silence = "silence_stream://250 ivrd_input [0-9*#]+ 3000"
    assert ran.apps[2:] == [
        ("playback", "a.wav"),
        ("speak", "flite|kal|one"),
        (PAGD, f"1 1 1 5000 none file_string://b.wav!c.wav {silence}"),
        ("playback", "a.wav"),
        ("phrase", "hold"),
        (PAGD, f"1 1 1 5000 none say:two {silence}"),
        ("hangup", "NORMAL_CLEARING"),
    ]
    assert [speech.text for speech in ran.record.spoken] == ["one", "two"]
    ran.assert_clean()


async def test_a_prompt_that_would_speak_nothing_fails_the_step() -> None:
    flow = flow_text(
        """
ivr: 1
name: empty
variables: {nothing: ""}
start: hello
steps:
  hello:
    type: play
    prompt: {say: "{{ vars.nothing }}"}
    next: bye
  bye: {type: hangup}
on:
  error: bye
"""
    )
    ran = await run(flow, Caller(), variables={"nothing": ""})
    # With nothing after its last `|`, FreeSWITCH's speak would read the voice aloud.
    assert ran.step("hello").error == "speak: the text must not be empty, got ''"
    assert [name for name, _ in ran.apps] == ["multiset", "answer", "hangup"]
    assert ran.record.spoken == []
