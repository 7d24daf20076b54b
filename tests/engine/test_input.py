"""`menu` and `ask` as DESIGN spells them out: one play_and_get_digits per attempt with `tries`
1 and silence as FreeSWITCH's invalid file; `no_input` and `invalid` distinct, each with its
own prompt; `too_many_attempts` after `attempts`; the timeouts in the arguments and honoured;
key hooks recognised in what was collected. Durations are exact (mock clock, frame 0)."""

from __future__ import annotations

import pytest

from ivrd.testing import Caller, FakeFreeSWITCH, Press, Silence, Step

from .harness import MASK, both_backends, fast_caller, flow_text, run

pytestmark = pytest.mark.anyio

PAGD = "play_and_get_digits"
FLOW = flow_text(
    """
ivr: 1
name: input-test
defaults:
  first_digit_timeout: 4s
  between_digits_timeout: 2s
  attempts: 3
  no_input: {prompt: {play: no_input.wav}}
  invalid: {prompt: {play: invalid.wav}}
start: menu
steps:
  menu:
    type: menu
    prompt: {play: menu.wav}
    options: {"1": pin, "2": bye, "#": bye}
    too_many_attempts: give_up
  pin:
    type: ask
    prompt: [{play: pin.wav}, {say: "Your PIN, then hash. It's quick!"}]
    digits: {min: 4, max: 6}
    first_digit_timeout: 7s
    between_digits_timeout: 1500ms
    attempts: 2
    invalid: {prompt: {say: "Four to six digits, please!"}}
    save_as: pin
    sensitive: true
    next: bye
    too_many_attempts: give_up
  give_up:
    type: hangup
    prompt: {play: give_up.wav}
    cause: NORMAL_UNSPECIFIED
  bye: {type: hangup}
on:
  key: {"*9": {go: bye}}
"""
)
MENU = (PAGD, "1 1 1 4000 none menu.wav silence_stream://250 ivrd_input [0-9*#]+ 2000")
PIN = [
    # A `say:` is spoken only as play_and_get_digits' whole file (in a file string FreeSWITCH
    # would skip it): the sound file before it plays first.
    ("playback", "pin.wav"),
    (
        PAGD,
        # One word of the argument: quoted, where a `'` would end the quotes.
        "4 6 1 7000 # 'say:Your PIN, then hash. It\u2019s quick!' "
        "silence_stream://250 "
        "ivrd_input [0-9*#]+ 1500",
    ),
]
NO_INPUT = ("playback", "no_input.wav")
INVALID = ("playback", "invalid.wav")
PIN_INVALID = ("speak", "flite|kal|Four to six digits, please!")
START = [
    ("multiset", "^^|playback_terminators=none|tts_engine=flite|tts_voice=kal"),
    ("answer", ""),
]
BYE = [("hangup", "NORMAL_CLEARING")]
GIVE_UP = [("playback", "give_up.wav"), ("hangup", "NORMAL_UNSPECIFIED")]


def exact() -> FakeFreeSWITCH:
    """Applications start the moment they are sent: durations are the media's alone."""
    return FakeFreeSWITCH(frame=0)


@both_backends
async def test_one_play_and_get_digits_per_attempt_with_the_timeouts() -> None:
    ran = await run(
        FLOW, fast_caller(script=[Press("1", during=PAGD), Press("4711#", during=PAGD)])
    )
    assert ran.apps == [*START, MENU, *PIN, *BYE]
    assert ran.outcomes == [("menu", "1", "pin"), ("pin", "next", "bye"), ("bye", "hangup", None)]
    assert ran.step("pin").variables == {"pin": MASK}


async def test_silence_and_wrong_keys_are_told_apart_each_with_its_prompt() -> None:
    script: list[Step] = [Silence(during=PAGD), Press("7", during=PAGD), Press("2", during=PAGD)]
    ran = await run(FLOW, Caller(script=script))
    assert ran.apps == [*START, MENU, NO_INPUT, MENU, INVALID, MENU, *BYE]
    assert ran.outcomes[0] == ("menu", "2", "bye")


async def test_too_many_attempts_after_three_failures_without_a_last_retry_prompt() -> None:
    script: list[Step] = [Silence(during=PAGD), Press("7", during=PAGD), Silence(during=PAGD)]
    ran = await run(FLOW, Caller(script=script))
    assert ran.apps == [*START, MENU, NO_INPUT, MENU, INVALID, MENU, *GIVE_UP]
    assert ran.outcomes[0] == ("menu", "too_many_attempts", "give_up")
    assert ran.trace.hangup_cause == "NORMAL_UNSPECIFIED"


async def test_a_steps_own_attempts_and_retry_prompts() -> None:
    script: list[Step] = [Press("1", during=PAGD), Press("12#", during=PAGD), Silence(during=PAGD)]
    ran = await run(FLOW, Caller(script=script))
    assert ran.apps == [*START, MENU, *PIN, PIN_INVALID, *PIN, *GIVE_UP]
    assert ran.outcomes[1] == ("pin", "too_many_attempts", "give_up")


async def test_first_digit_timeout_counts_from_the_end_of_the_prompt() -> None:
    caller = Caller(script=[Silence(during=PAGD)] * 3, files={"menu.wav": 3.0})
    ran = await run(FLOW, caller, fake=exact())
    pagds = [app for app in ran.record.apps if app.name == PAGD]
    # The prompt (3 s), the first-digit timeout (4 s), FreeSWITCH's silent invalid file.
    assert [app.duration for app in pagds] == [pytest.approx(3 + 4 + 0.25)] * 3
    assert ran.step("menu").duration == pytest.approx(3 * 7.25 + 2 * 1.0)


async def test_a_key_during_the_prompt_ends_it_and_counts() -> None:
    caller = Caller(script=[Press("2", during=PAGD, delay=0.4)], files={"menu.wav": 3.0})
    ran = await run(FLOW, caller, fake=exact())
    assert ran.record.apps[2].duration == pytest.approx(0.4)
    assert ran.outcomes[0] == ("menu", "2", "bye")


async def test_between_digits_timeout_ends_a_short_entry_as_invalid() -> None:
    script: list[Step] = [
        Press("1", during=PAGD),
        Press("12", during=PAGD, delay=1.0, interval=0.5),
        Press("123456", during=PAGD),
    ]
    ran = await run(FLOW, Caller(script=script, file_seconds=1.0), fake=exact())
    pin = [app for app in ran.record.apps if app.name == PAGD][1]
    # Keys at 1.0 s (ending the prompt) and 1.5 s, then 1.5 s of silence: too short.
    assert pin.duration == pytest.approx(1.5 + 1.5 + 0.25)
    assert ran.apps == [*START, MENU, *PIN, PIN_INVALID, *PIN, *BYE]
    assert ran.outcomes[1] == ("pin", "next", "bye")


async def test_a_key_that_is_not_an_option_is_invalid() -> None:
    ran = await run(FLOW, Caller(script=[Press("*", during=PAGD), Press("2", during=PAGD)]))
    # `*` could begin the `*9` hook: the step waits for the next key, then calls it invalid.
    assert ran.apps == [*START, MENU, INVALID, MENU, *BYE]
    assert ran.step("menu").duration == pytest.approx(2 + 1.0, abs=0.1)


async def test_hook_keys_typed_in_a_one_key_menu() -> None:
    ran = await run(FLOW, Caller(script=[Press("*9", during=PAGD, delay=0.5)]))
    assert ran.apps == [*START, MENU, *BYE]
    assert ran.outcomes[0] == ("menu", "key *9", "bye")


async def test_hook_keys_typed_in_an_entry() -> None:
    ran = await run(FLOW, Caller(script=[Press("1", during=PAGD), Press("12*9", during=PAGD)]))
    assert ran.apps == [*START, MENU, *PIN, *BYE]
    assert ran.outcomes[1] == ("pin", "key *9", "bye")


async def test_hook_keys_during_a_retry_prompt() -> None:
    script: list[Step] = [Press("7", during=PAGD), Press("*9", during="playback", delay=0.2)]
    ran = await run(FLOW, Caller(script=script, file_seconds=2.0))
    assert ran.apps == [*START, MENU, INVALID, *BYE]
    assert ran.outcomes[0] == ("menu", "key *9", "bye")
    assert (ran.record.apps[3].duration or 0) < 1
