"""What FreeSWITCH hands to a text-to-speech engine: the fake's reading of `speak`'s argument,
of `say:` files and of file strings, each case checked against what FreeSWITCH's source does
(the function named beside it); and ivrd's escaping read back through the same passes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivrd.esl import applications as args
from ivrd.testing import Caller, CallRecord, Channel, FakeFreeSWITCH, Press
from ivrd.testing.expand import expand_variables
from ivrd.testing.input import split_arguments
from ivrd.testing.separate import word_starts
from ivrd.testing.speech import (
    SpeakArguments,
    TtsFeed,
    feed_tts,
    file_string_parts,
    is_sound_file,
    speak_arguments,
    tts_text,
)

from .client import Server, run_call


@pytest.mark.parametrize(
    ("data", "arguments"),
    [
        # mod_dptools.c speak_function: switch_separate_string(mydata, '|', argv, 3), then
        # text = data + (argv[2] - argv[0]): the argument as it is from where word 3 begins.
        ("flite|kal|Hello", SpeakArguments("flite", "kal", "Hello")),
        ("flite|kal|it\\'s a\\\\b|c \\s", SpeakArguments("flite", "kal", "it\\'s a\\\\b|c \\s")),
        ("flite|kal|'quoted'", SpeakArguments("flite", "kal", "'quoted'")),
        ("flite|kal|   padded ", SpeakArguments("flite", "kal", "padded ")),  # past its spaces
        ("fl\\|ite|'k|al'|x", SpeakArguments("fl|ite", "k|al", "x")),  # engine, voice cleaned up
        ("kal|Hello", SpeakArguments(None, "kal", "Hello")),  # argc == 2: the voice, the text
        ("Hello there", SpeakArguments(None, None, "Hello there")),  # argc == 1: all of it
        ("flite|kal|", SpeakArguments(None, "flite", "kal|")),  # no third word: voice, text
        # `^^X` moves the words 3 characters on; the offset between them stays: the text
        # begins 3 characters early.
        ("^^,e,v,text", SpeakArguments("e", "v", ",v,text")),
        ("", SpeakArguments(None, None, None)),  # zstr(data): "Invalid Params!"
    ],
)
def test_speak_arguments(data: str, arguments: SpeakArguments) -> None:
    assert speak_arguments(data) == arguments


def test_word_starts_point_past_leading_spaces() -> None:
    # cleanup_separated_string returns the word from its first character after spaces.
    assert word_starts("a|  b|c d|e", "|", 3) == [0, 4, 6]
    assert word_starts(" a  'b c'  d", " ") == [1, 4, 11]


@pytest.mark.parametrize(
    ("file", "text"),
    [
        # switch_ivr_play_file: strncasecmp(file, "say:", 4), then text = file + 4.
        ("say:Hello", "Hello"),
        ("SAY:it\\'s", "it\\'s"),
        ("say:", ""),
        ("ivr/say:x.wav", None),
        ("file_string://say:Hello", None),
    ],
)
def test_tts_text(file: str, text: str | None) -> None:
    assert tts_text(file) == text


@pytest.mark.parametrize(
    ("text", "feed"),
    [
        # switch_core_speech.c switch_core_speech_feed_tts: leading spaces skipped; a `{` then
        # opens the parameters up to switch_find_end_paren's `}`, split at `,` and each item
        # once at `=` (switch_separate_string; fewer than 2 words: no parameter), each set with
        # switch_core_speech_text_param_tts; the engine speaks what follows, as it is.
        ("Hello", TtsFeed({}, "Hello")),
        ("  Hello ", TtsFeed({}, "Hello ")),
        ("{voice=evil}Hello", TtsFeed({"voice": "evil"}, "Hello")),
        ("  {a=1, b = 2 ,c,d=x=y} rest", TtsFeed({"a": "1", "b": "2", "d": "x=y"}, " rest")),
        ("{a={b=c}}d", TtsFeed({"a": "{b=c}"}, "d")),  # nested blocks counted
        ("{}{voice=evil}Hello", TtsFeed({}, "{voice=evil}Hello")),  # zstr(param_string)
        ("{x=1}", TtsFeed({"x": "1"}, "")),
        ("a {x=1}", TtsFeed({}, "a {x=1}")),  # only at the start
        ("{never closed", None),  # zstr(switch_find_end_paren(...)): SWITCH_STATUS_FALSE
        ("   ", None),  # zstr(data) past the spaces
        ("", None),
    ],
)
def test_feed_tts(text: str, feed: TtsFeed | None) -> None:
    assert feed_tts(text) == feed


def test_file_string_parts() -> None:
    # mod_dptools' file_string_file_open: switch_separate_string(file_dup, '!', argv, 128),
    # whose clean-up undoes `\!` and halves `\\`; next_file then opens each part as a file.
    parts = file_string_parts("file_string://a.wav!say:x y!b\\!c.wav!d\\\\e.wav!phrase:m:1")
    assert parts == ["a.wav", "say:x y", "b!c.wav", "d\\e.wav", "phrase:m:1"]
    assert [is_sound_file(part) for part in parts or []] == [True, False, True, True, False]
    assert file_string_parts("a.wav") is None


# Text with what FreeSWITCH's passes read: backslashes, quotes, `$`, the split characters.
SPOKEN = st.text(alphabet="\\'\"$ !|nstab{}-", min_size=1, max_size=24)


def expanded(text: str) -> str:
    """switch_channel_expand_variables on a channel without variables."""
    return expand_variables(text, lambda name: None)


@given(SPOKEN)
def test_speak_arg_survives_the_expansion_and_speak_s_split(text: str) -> None:
    if "${" in text or not text.strip(" "):
        return  # a reference is FreeSWITCH's to expand; an empty text is refused
    arguments = speak_arguments(expanded(args.speak_arg(text, "flite", "kal")))
    assert (arguments.engine, arguments.voice) == ("flite", "kal")
    assert feed_tts(arguments.text or "") == TtsFeed({}, text.lstrip(" "))


@given(SPOKEN)
def test_file_word_survives_the_expansion_and_the_split_into_words(text: str) -> None:
    if "${" in text or not text.strip(" "):
        return  # a reference is FreeSWITCH's to expand; feed_tts refuses spaces only
    word = args.file_word(f"say:{text}")
    words = split_arguments(expanded(f"1 1 1 5000 # {word} silence_stream://0 v \\d+"))
    assert len(words) == 9
    spoken = text.replace("'", "\u2019").lstrip(" ")
    assert feed_tts(tts_text(words[5]) or "") == TtsFeed({}, spoken)


@given(st.lists(SPOKEN.filter(lambda part: "${" not in part), min_size=1, max_size=3))
def test_file_word_survives_a_file_string_s_split_too(names: list[str]) -> None:
    names = [name.replace("!", "") for name in names]
    if not all(name.strip(" ") for name in names):
        return  # a part of spaces only is cut to nothing
    word = args.file_word("file_string://" + "!".join(names))
    words = split_arguments(expanded(f"1 1 1 5000 # {word} silence_stream://0 v \\d+"))
    apostrophes = [name.replace("'", "\u2019").strip(" ") for name in names]
    assert file_string_parts(words[5]) == apostrophes


async def with_tts_voice(apps: list[tuple[str, str]], caller: Caller) -> CallRecord:
    """The call record after running `apps` on a channel with tts_engine flite, voice slt."""

    async def script(server: Server) -> None:
        await server.start()
        for app, arg in apps:
            await server.run(app, arg)
        await server.send_app("hangup")
        await server.finish()

    channel = Channel(variables={"tts_engine": "flite", "tts_voice": "slt"})
    record, _ = await run_call(FakeFreeSWITCH(), script, caller, channel=channel)
    return record


@pytest.mark.anyio
async def test_what_the_engine_is_given_by_speak_playback_and_a_question() -> None:
    apps = [
        ("speak", "flite|kal|a\\\\\\\\b it\\\\'s"),
        ("speak", "only the channel's voice"),
        ("playback", "say:a\\\\b"),
        ("play_and_get_digits", "1 1 1 1000 # 'say:x y\\\\\\\\' silence v"),
        ("playback", "file_string://silence_stream://10!say:never heard"),
    ]
    caller = Caller(
        script=[Press("1", during="play_and_get_digits")],
        file_seconds=0.01,
        durations={"speak": 0.01},
    )
    record = await with_tts_voice(apps, caller)
    assert [(s.engine, s.voice, s.text) for s in record.spoken] == [
        ("flite", "kal", "a\\\\b it\\'s"),  # speak: the expansion only
        ("flite", "slt", "only the channel's voice"),
        ("flite", "slt", "a\\b"),  # playback: the expansion only (no split)
        ("flite", "slt", "x y\\"),  # play_and_get_digits: the expansion and the split
    ]
    assert "file_string: 'say:never heard' is no file: skipped" in record.notes


@pytest.mark.anyio
async def test_the_engine_takes_a_leading_block_as_its_parameters() -> None:
    apps = [
        ("speak", "flite|kal|  {voice=evil,rate=9}Hello"),
        ("playback", "say:{voice=evil}Hi"),
        ("speak", "flite|kal|{}{voice=evil}Hello"),
        ("speak", "flite|kal|{never closed"),
    ]
    record = await with_tts_voice(apps, Caller(file_seconds=0.01, durations={"speak": 0.01}))
    assert [(s.voice, s.params, s.text) for s in record.spoken] == [
        ("kal", {"voice": "evil", "rate": "9"}, "Hello"),
        ("slt", {"voice": "evil"}, "Hi"),
        ("kal", {}, "{voice=evil}Hello"),  # an empty block sets nothing
    ]
    assert "feed_tts: nothing handed to the engine: '{never closed'" in record.notes


@pytest.mark.anyio
async def test_speak_without_an_engine_hangs_the_channel_up() -> None:
    async def script(server: Server) -> None:
        await server.start()
        await server.run("speak", "nobody set tts_engine")
        await server.finish()

    record, _ = await run_call(FakeFreeSWITCH(), script, Caller())
    # speak_function: "Invalid Params!", then switch_channel_hangup(DESTINATION_OUT_OF_ORDER).
    assert record.hangup_cause == "DESTINATION_OUT_OF_ORDER"
    assert record.spoken == []
