"""Text FreeSWITCH hands on verbatim: escaped for its expansion and its split into words, so
that what the application gets is the text meant (read back through the fake's copies of
those passes in tests/testing/test_speech.py)."""

from __future__ import annotations

import pytest

from ivrd.esl.verbatim import file_word, spoken_whole, surviving_expansion


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("plain text, $5 and ${x}", "plain text, $5 and ${x}"),  # nothing FreeSWITCH alters
        ("C:\\new\\table", "C:\\\\new\\\\table"),  # `\\` comes back as `\`
        ("it\\'s \\${x}", "it\\\\'s \\\\${x}"),  # `\'` would vanish, `\$` be a `$`
        ("$$5 ${x}", "\\$\\$5 ${x}"),  # `$$` would be one `$`
        ("$$5", "\\$\\$5\\'"),  # ... if anything makes FreeSWITCH expand: `\'` does
        ("$${global} $${x}", "$${global} $${x}"),  # the author's references stay references
    ],
)
def test_text_survives_freeswitch_s_expansion(text: str, sent: str) -> None:
    assert surviving_expansion(text) == sent


@pytest.mark.parametrize(
    ("file", "word"),
    [
        ("ivr/pin.wav", "ivr/pin.wav"),
        ("say:C:\\new", "say:C:\\\\\\\\new"),  # doubled for the expansion and the split
        ("say:it's \\", "'say:it\u2019s \\\\\\\\'"),  # quoted: a quote would end the word
        ("file_string://a\\b.wav!c.wav", "file_string://a" + "\\" * 8 + "b.wav!c.wav"),
        ("Say:{voice=evil}Hi", "Say:{}{voice=evil}Hi"),  # spoken whole (`spoken_whole`)
        ("file_string://{a}.wav", "file_string://{a}.wav"),  # a file: not spoken
    ],
)
def test_a_file_word_reaches_switch_ivr_play_file_as_given(file: str, word: str) -> None:
    assert file_word(file) == word


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("Hello {x=1}", "Hello {x=1}"),  # a block only counts at the start
        ("{voice=evil}Hello", "{}{voice=evil}Hello"),  # the empty block is read instead
        ("  {a}", "{}{a}"),  # feed_tts skips the spaces before looking
        ("${name} calling", "{}${name} calling"),  # the value may start with `{`
        ("  plain", "  plain"),
    ],
)
def test_a_spoken_text_sets_no_tts_parameters(text: str, sent: str) -> None:
    assert spoken_whole(text) == sent
