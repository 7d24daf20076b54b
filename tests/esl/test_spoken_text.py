"""Text given to `speak` or as a `say:` prompt reaches the text-to-speech engine exactly,
backslashes included, through the fake FreeSWITCH, which reads each argument as FreeSWITCH
does (expansion, then the application's split: ivrd.testing.speech) and notes what every
engine was given (`CallRecord.spoken`)."""

from __future__ import annotations

import anyio
import pytest
from _esl_peer import port_of, serving

from ivrd.esl import ArgumentError, OutboundSession
from ivrd.testing import Caller, CallRecord, Channel, FakeFreeSWITCH, Press

pytestmark = pytest.mark.anyio

# Each would come out altered without the escaping: `\\` and `\'` by the expansion, `\n`,
# `\s`, `\\`, `\'` by play_and_get_digits' split, a final backslash would escape the quote
# closing the word, and the expansion reads `\$` and `$$` as `$`.
TEXTS = ["C:\\new\\table", "a\\\\b", "it\\'s", "\\s", "ends in \\", "$$9", "\\$5 or \\${x}"]
TTS = {"tts_engine": "flite", "tts_voice": "kal", "x": "ten"}


async def call(
    handler: object, script: list[Press] | None = None, variables: dict[str, str] | None = None
) -> CallRecord:
    caller = Caller(script=script or [], file_seconds=0.01, durations={"speak": 0.01})
    channel = Channel(variables=variables or {})
    async with serving(handler) as server:  # type: ignore[arg-type]
        with anyio.fail_after(10):
            return await FakeFreeSWITCH().call(
                "127.0.0.1", port_of(server), caller, channel=channel
            )


def spoken(record: CallRecord) -> list[tuple[str, str | None, str]]:
    return [(speech.engine, speech.voice, speech.text) for speech in record.spoken]


async def test_speak_hands_the_engine_the_text_given() -> None:
    async def handler(session: OutboundSession) -> None:
        for text in TEXTS:
            await session.speak(text, engine="flite", voice="kal")
        await session.speak("with the channel's voice: a\\\\b it\\'s")
        await session.hangup()

    record = await call(handler, variables=TTS)
    # The author's ${x} is still FreeSWITCH's to expand; the backslash before it is text.
    expected = [*TEXTS[:-1], "\\$5 or \\ten"]
    assert spoken(record) == [
        *(("flite", "kal", text) for text in expected),
        ("flite", "kal", "with the channel's voice: a\\\\b it\\'s"),
    ]
    assert record.apps[0].arg == "flite|kal|C:\\\\new\\\\table"


async def test_a_say_prompt_hands_the_engine_the_text_given() -> None:
    async def handler(session: OutboundSession) -> None:
        for text in TEXTS:
            await session.play_and_get_digits(f"say:{text}", "silence_stream://0", max=1, tries=1)
        await session.read("say:read me\\", max=1)
        await session.hangup()

    presses = [Press("1", during="play_and_get_digits")] * len(TEXTS)
    record = await call(handler, [*presses, Press("1", during="read")], variables=TTS)
    # A quote would end the quoted word: it becomes a typographic apostrophe.
    expected = [text.replace("'", "\u2019") for text in [*TEXTS[:-1], "\\$5 or \\ten"]]
    assert spoken(record) == [("flite", "kal", text) for text in [*expected, "read me\\"]]
    # Doubled for the expansion, and again for the split into words.
    assert record.apps[0].arg == (
        "1 1 1 5000 # say:C:\\\\\\\\new\\\\\\\\table silence_stream://0 read_digits_var \\d+"
    )


async def test_a_leading_brace_is_spoken_not_read_as_the_engines_parameters() -> None:
    # switch_core_speech_feed_tts would set voice=evil and speak only "Hello".
    evil = "{voice=evil}Hello"

    async def handler(session: OutboundSession) -> None:
        await session.speak(evil, engine="flite", voice="kal")
        await session.speak("  " + evil)
        await session.speak("${x} {y=1}")
        await session.play_and_get_digits(f"SAY:{evil}", "silence_stream://0", max=1, tries=1)
        await session.hangup()

    variables = {**TTS, "x": "{rate=9}"}
    record = await call(handler, [Press("1", during="play_and_get_digits")], variables=variables)
    assert [(speech.params, speech.text) for speech in record.spoken] == [
        ({}, evil),
        ({}, evil),
        ({}, "{rate=9} {y=1}"),
        ({}, evil),
    ]
    assert [app.arg for app in record.apps[:2]] == ["flite|kal|{}" + evil, "{}" + evil]


@pytest.mark.parametrize(
    ("text", "engine", "voice", "message"),
    [
        ("", "flite", "kal", "speak: the text must not be empty, got ''"),
        ("a|b", None, None, "without engine and voice the text must not contain '|'"),
        ("ends in \\", None, None, "end in a lone backslash"),
        ("x", "fl|ite", "kal", "neither may contain '|', a quote or a backslash"),
        ("x", "flite", "k\\al", "neither may contain '|', a quote or a backslash"),
        ("x", "flite", None, "give both engine and voice, or neither"),
    ],
)
async def test_speak_refuses_what_freeswitch_would_cut_elsewhere(
    text: str, engine: str | None, voice: str | None, message: str
) -> None:
    refused: list[str] = []

    async def handler(session: OutboundSession) -> None:
        with pytest.raises(ArgumentError) as info:
            await session.speak(text, engine=engine, voice=voice)
        refused.append(str(info.value))
        await session.hangup()

    record = await call(handler, variables=TTS)
    assert message in refused[0]
    assert [app.name for app in record.apps] == ["hangup"]
