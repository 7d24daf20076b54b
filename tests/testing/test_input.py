"""play_and_get_digits and read: prompts, timeouts, terminators, regexes, invalid files."""

from __future__ import annotations

import pytest

from ivrd.esl.protocol import Event
from ivrd.scenarios.targets import heard
from ivrd.testing import Caller, FakeFreeSWITCH, HangUp, Press, Silence
from ivrd.testing.input import PLAY_AND_GET_DIGITS_WORDS, READ_WORDS, split_arguments

from .client import Server, run_call

trio_only = pytest.mark.parametrize("anyio_backend", ["trio"], indirect=True)

FILES = {"prompt.wav": 2.0, "invalid.wav": 1.0}


async def pagd(caller: Caller, arg: str) -> tuple[Event, float]:
    """Run one play_and_get_digits; its completion and how long it took."""
    result: list[Event] = []

    async def script(server: Server) -> None:
        await server.start()
        await server.run("answer")
        result.append(await server.run("play_and_get_digits", arg))
        await server.send_app("hangup")
        await server.finish()

    record, _ = await run_call(FakeFreeSWITCH(), script, caller)
    duration = record.apps[1].duration
    assert duration is not None
    return result[0], duration


def caller(*steps: Press | Silence | HangUp) -> Caller:
    return Caller(script=list(steps), files=FILES)


@pytest.mark.anyio
@trio_only
async def test_digits_and_terminator() -> None:
    done, took = await pagd(
        caller(Press("1234#", during="play_and_get_digits", delay=0.5)),
        "1 5 1 3000 # prompt.wav invalid.wav digits \\d+ 2000",
    )
    assert done["variable_digits"] == "1234"
    assert done["variable_read_result"] == "success"
    assert done["variable_read_terminator_used"] == "#"
    assert done["Application-Response"] == "_none_"
    assert took == pytest.approx(0.5 + 4 * 0.02)


@pytest.mark.anyio
@trio_only
async def test_silence_fails_after_prompt_timeout_and_invalid_file() -> None:
    done, took = await pagd(caller(), "1 5 1 3000 # prompt.wav invalid.wav digits \\d+")
    assert done.get("variable_digits") is None
    assert done["variable_read_result"] == "failure"
    # The invalid file plays after every failed try, the last one included.
    assert took == pytest.approx(2.0 + 3.0 + 1.0)


@pytest.mark.anyio
@trio_only
async def test_every_try_plays_the_prompt_and_the_invalid_file() -> None:
    done, took = await pagd(caller(), "1 5 3 1000 # prompt.wav invalid.wav digits")
    assert done["variable_read_result"] == "failure"
    assert took == pytest.approx(3 * (2.0 + 1.0 + 1.0))


@pytest.mark.anyio
@trio_only
async def test_second_try_succeeds() -> None:
    done, took = await pagd(
        caller(Press("7#", during="play_and_get_digits", delay=4.5)),
        "1 5 2 1000 # prompt.wav invalid.wav digits",
    )
    # Try 1: prompt 2 s, 1 s timeout, invalid 1 s; try 2 starts at 4 s, key at 4.5 s.
    assert done["variable_digits"] == "7"
    assert done["variable_read_result"] == "success"
    assert took == pytest.approx(4.5 + 0.02)


@pytest.mark.anyio
@trio_only
async def test_regex_mismatch_sets_invalid_and_unsets_the_variable() -> None:
    done, _ = await pagd(
        caller(Press("12345#", during="play_and_get_digits", delay=0.1)),
        "1 8 1 3000 # prompt.wav invalid.wav account ^9\\d+$",
    )
    assert done.get("variable_account") is None
    assert done["variable_account_invalid"] == "12345"
    assert done["variable_read_result"] == "success"


@pytest.mark.anyio
@trio_only
async def test_too_short_entry_is_not_regex_tested() -> None:
    done, _ = await pagd(
        caller(Press("12#", during="play_and_get_digits", delay=0.1)),
        "4 8 1 3000 # prompt.wav invalid.wav account ^9\\d+$",
    )
    # switch_ivr_read stores what came, too short or not; pagd leaves it there.
    assert done["variable_account"] == "12"
    assert done.get("variable_account_invalid") is None
    assert done["variable_read_result"] == "failure"


@pytest.mark.anyio
@trio_only
async def test_digit_timeout_ends_the_entry() -> None:
    done, took = await pagd(
        caller(
            Press("1", during="play_and_get_digits", delay=0.5),
            Press("2", delay=2.0),
        ),
        "1 5 1 5000 # prompt.wav invalid.wav digits \\d+ 1000",
    )
    assert done["variable_digits"] == "1"
    assert done["variable_read_result"] == "timeout"
    assert took == pytest.approx(1.5)


@pytest.mark.anyio
@trio_only
async def test_a_key_ends_the_prompt_and_is_collected() -> None:
    done, took = await pagd(
        caller(Press("5", during="play_and_get_digits", delay=0.2)),
        "1 1 1 5000 # prompt.wav invalid.wav choice",
    )
    assert done["variable_choice"] == "5"
    assert took == pytest.approx(0.2)


@pytest.mark.anyio
@trio_only
async def test_hangup_during_input() -> None:
    result: list[list[str]] = []

    async def script(server: Server) -> None:
        await server.start()
        done = await server.run("play_and_get_digits", "1 5 1 5000 # prompt.wav x.wav digits")
        assert done["Application-Response"] == "_none_"
        assert done["Hangup-Cause"] == "NORMAL_CLEARING"
        await server.finish()
        result.append(server.client.names())

    await run_call(
        FakeFreeSWITCH(), script, caller(HangUp(during="play_and_get_digits", delay=3.0))
    )
    names = result[0]
    assert names.index("text/event-plain CHANNEL_HANGUP") < names.index(
        "text/event-plain CHANNEL_EXECUTE_COMPLETE play_and_get_digits"
    )


@pytest.mark.anyio
@trio_only
async def test_silence_step_then_press_on_the_next_prompt() -> None:
    results: list[Event] = []

    async def script(server: Server) -> None:
        await server.start()
        for _ in range(2):
            results.append(await server.run("play_and_get_digits", "1 1 1 1000 # prompt.wav"))
        await server.send_app("hangup")
        await server.finish()

    await run_call(
        FakeFreeSWITCH(),
        script,
        caller(
            Silence(during="play_and_get_digits"),
            Press("3", during="play_and_get_digits", delay=0.1),
        ),
    )
    assert [event.get("variable_pagd_input") for event in results] == [None, "3"]


@pytest.mark.anyio
@trio_only
async def test_read() -> None:
    results: list[Event] = []

    async def script(server: Server) -> None:
        await server.start()
        results.append(await server.run("read", "2 4 prompt.wav pin 3000 #"))
        await server.send_app("hangup")
        await server.finish()

    await run_call(FakeFreeSWITCH(), script, caller(Press("42#", during="read", delay=0.1)))
    assert results[0]["variable_pin"] == "42"
    assert results[0]["variable_read_result"] == "success"


def test_arguments_are_split_as_freeswitch_splits_them() -> None:
    # `''` is an empty word: every later argument stays in its place.
    assert split_arguments("1 4 1 3000 '' 'say:Hello there' '' v") == [
        *("1", "4", "1", "3000", ""),
        *("say:Hello there", "", "v"),
    ]
    # Backslash escapes are undone; `\\d` is no escape and stays (a regex keeps it).
    assert split_arguments("a\\'b c\\sd ^9\\d+$") == ["a'b", "c d", "^9\\d+$"]
    # The last word mod_dptools has room for keeps the rest of the text.
    words = "1 4 1 3000 # p.wav i.wav v re 500 ext XML  default"
    assert split_arguments(words, PLAY_AND_GET_DIGITS_WORDS)[10:] == ["ext XML  default"]
    assert split_arguments("1 4 p.wav v 3000 # 500 x", READ_WORDS)[6:] == ["500 x"]


def test_the_scenario_runner_hears_the_prompt_after_an_empty_word() -> None:
    assert heard("play_and_get_digits", "1 4 1 3000 '' 'say:Hi there' '' v") == ["Hi there"]
    assert heard("read", "1 4 '' v 3000 #") == []


@pytest.mark.anyio
@trio_only
async def test_an_empty_invalid_file_keeps_the_variable_in_its_place() -> None:
    done, took = await pagd(
        caller(Press("7#", during="play_and_get_digits", delay=4.5)),
        "1 5 2 1000 # prompt.wav '' digits \\d+",
    )
    assert done["variable_digits"] == "7"
    assert done.get("variable_digits_invalid") is None
    # Try 1: prompt 2 s, 1 s timeout, no invalid file; try 2's prompt from 3 s, the key at 4.5 s.
    assert took == pytest.approx(4.5 + 0.02)


@pytest.mark.anyio
@trio_only
async def test_read_with_an_empty_prompt() -> None:
    results: list[Event] = []

    async def script(server: Server) -> None:
        await server.start()
        results.append(await server.run("read", "2 4 '' pin 3000 #"))
        await server.send_app("hangup")
        await server.finish()

    await run_call(FakeFreeSWITCH(), script, caller(Press("42#", during="read", delay=0.1)))
    assert results[0]["variable_pin"] == "42"
    assert results[0]["variable_read_result"] == "success"


@pytest.mark.anyio
@trio_only
async def test_a_timeout_of_a_second_or_less_waits_a_second_as_mod_dptools_makes_it() -> None:
    done, took = await pagd(caller(), "1 5 1 200 # prompt.wav invalid.wav digits")
    assert done["variable_read_result"] == "failure"
    assert took == pytest.approx(2.0 + 1.0 + 1.0)


@pytest.mark.anyio
@trio_only
async def test_no_terminator_given_is_hash_and_none_is_no_key() -> None:
    keys = caller(Press("12#", during="play_and_get_digits", delay=0.5))
    done, _ = await pagd(keys, "1 5 1 3000 '' prompt.wav invalid.wav digits")
    assert done["variable_digits"] == "12"
    assert done["variable_read_terminator_used"] == "#"
    keys = caller(Press("12#", during="play_and_get_digits", delay=0.5))
    done, _ = await pagd(keys, "1 5 1 3000 none prompt.wav invalid.wav digits")
    assert done.get("variable_read_terminator_used") is None
    assert done["variable_digits"] == "12#"  # `#` is a key like any other


@pytest.mark.anyio
@trio_only
async def test_no_tries_given_is_no_try_at_all() -> None:
    done, took = await pagd(caller(), "1 5")
    assert done.get("variable_read_result") is None  # nothing was read
    assert took == pytest.approx(0.0, abs=0.05)


@pytest.mark.anyio
@trio_only
async def test_read_takes_at_least_one_digit_and_reads_numbers_as_atoi_does() -> None:
    results: list[Event] = []

    async def script(server: Server) -> None:
        await server.start()
        # min 0 is 1; `4x` is 4; no terminator given is `#`.
        results.append(await server.run("read", "0 4x prompt.wav pin 3000 ''"))
        await server.send_app("hangup")
        await server.finish()

    await run_call(FakeFreeSWITCH(), script, caller(Press("#", during="read", delay=0.1)))
    assert results[0]["variable_read_result"] == "failure"  # no digit: fewer than min 1
    assert results[0]["variable_read_terminator_used"] == "#"
