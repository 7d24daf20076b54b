"""Steps to the applications they wait in, and applications to what the caller heard."""

from __future__ import annotations

import pytest

from ivrd.flow import Flow, load_flow
from ivrd.scenarios.targets import (
    PROMPT_APPS,
    AppTarget,
    TargetError,
    heard,
    heard_all,
    resolve_target,
    step_targets,
)

from .conftest import FLOWS


@pytest.fixture(scope="module")
def acme() -> Flow:
    return load_flow(FLOWS / "acme-main.yaml").require()


@pytest.fixture(scope="module")
def pin() -> Flow:
    return load_flow(FLOWS / "pin-check.yaml").require()


def test_input_steps_wait_in_play_and_get_digits_carrying_their_prompt(acme: Flow) -> None:
    target = step_targets(acme, "main_menu")
    assert target.apps == ("play_and_get_digits",)
    assert target.markers == (
        "ivr/acme/en/main_menu.wav",
        "Für den Vertrieb drücken Sie die 1, für den Support die 2, für Rechnungen die 3. "
        "Zur Sprachauswahl die 9.",
    )
    pagd = "1 1 1 5000 none ivr/acme/en/main_menu.wav silence_stream://250 ivrd_input"
    assert target.matches("play_and_get_digits", pagd)
    assert not target.matches("play_and_get_digits", pagd.replace("main_menu", "welcome"))
    assert not target.matches("playback", "ivr/acme/en/main_menu.wav")


def test_prompts_transfers_and_others(acme: Flow) -> None:
    assert step_targets(acme, "welcome") == AppTarget(
        "step welcome (playback)",
        ("playback",),
        ("ivr/acme/en/welcome.wav", "ivr/acme/de/welcome.wav"),
    )
    assert step_targets(acme, "sales").apps == ("callcenter",)
    assert step_targets(acme, "sales").markers == ("sales@default",)
    assert step_targets(acme, "support").markers == ("user/2001", "user/2002")
    # `{{ vars.operator }}`: the flow's start value, or the scenario's.
    operator = step_targets(acme, "operator")
    assert operator.markers == ("user/1000",)
    assert operator.matches("bridge", "{originate_timeout=25}user/1000")
    assert not operator.matches("bridge", "{originate_timeout=30}user/1100")
    assert resolve_target(acme, "operator", {"operator": "user/9"}).markers == ("user/9",)
    assert step_targets(acme, "voicemail").apps == ("voicemail",)
    assert step_targets(acme, "callback_recording").apps == ("record",)
    assert step_targets(acme, "record_for_quality") == AppTarget(
        "step record_for_quality (record_session)",
        ("record_session",),
        ("/var/lib/freeswitch/recordings/",),
    )
    # The first item of the prompt decides.
    assert step_targets(acme, "holiday_message").apps == ("speak",)
    assert step_targets(acme, "support").apps == ("bridge",)  # not its please_hold phrase


@pytest.mark.parametrize("step", ["hours", "lookup", "english"])
def test_steps_without_an_application_cannot_be_acted_during(acme: Flow, step: str) -> None:
    with pytest.raises(TargetError, match=f"step '{step}' .* runs no FreeSWITCH application"):
        step_targets(acme, step)


def test_names_resolve_to_steps_subflow_steps_keywords_and_applications(pin: Flow) -> None:
    assert resolve_target(pin, "ask_pin").label == "step ask_pin (play_and_get_digits)"
    assert resolve_target(pin, "prompt").apps == PROMPT_APPS
    assert resolve_target(pin, "question").apps == ("play_and_get_digits", "read")
    assert resolve_target(pin, "bridge") == AppTarget("application bridge", ("bridge",))


def test_what_the_caller_hears() -> None:
    assert heard("playback", "ivr/welcome.wav") == ["ivr/welcome.wav"]
    assert heard("playback", "file_string://a.wav!silence_stream://250!b.wav") == ["a.wav", "b.wav"]
    assert heard("speak", "flite|kal|Hello there") == ["Hello there"]
    assert heard("phrase", "please_hold") == ["phrase:please_hold"]
    assert heard("phrase", "balance,42") == ["phrase:balance:42"]
    assert heard("say", "en number iterated 1234") == ["digits:1234"]
    assert heard("say", "de number pronounced 42") == ["number:42"]
    assert heard("say", "en currency pronounced 4.20") == ["say:en currency pronounced 4.20"]
    pagd = "6 8 1 5000 # 'say:Your account' silence_stream://250 ivrd_input [0-9*#]+ 3000"
    assert heard("play_and_get_digits", pagd) == ["Your account"]
    assert heard("play_and_get_digits", "6 8 1 5000 # phrase:hold:2 x") == ["phrase:hold:2"]
    # In a file string only sound files play: FreeSWITCH cannot open `say:` or `phrase:`.
    pagd = "6 8 1 5000 # 'file_string://say:Your account!a.wav!phrase:hold:2' x"
    assert heard("play_and_get_digits", pagd) == ["a.wav"]
    assert heard("play_and_get_digits", "1 1 1 5000 none silence_stream://250 x") == []
    assert heard("read", "1 4 'say:Enter it' var 5000 #") == ["Enter it"]
    assert heard("bridge", "user/2001") == []
    assert heard_all([("answer", ""), ("playback", "a.wav"), ("speak", "x|y|z")]) == ["a.wav", "z"]


@pytest.mark.parametrize(
    ("app", "arg", "text"),
    [
        # speak: the expansion halves the backslashes; the text is taken as it then stands.
        ("speak", "flite|kal|C:\\\\new\\\\table", "C:\\new\\table"),
        ("speak", "flite|kal|it\\\\'s a|b", "it\\'s a|b"),
        ("speak", "flite|kal|it\\'s", "its"),  # a lone \' is dropped by the expansion
        ("speak", "flite|kal|Hi ${caller_id_name}\\\\", "Hi ${caller_id_name}\\"),
        # play_and_get_digits: the expansion, then the split's clean-up.
        ("play_and_get_digits", "1 1 1 5000 # 'say:a\\\\\\\\sb c' x", "a\\sb c"),
        ("play_and_get_digits", "1 1 1 5000 # 'say:a\\\\sb c' x", "a b c"),
        ("read", "1 4 say:x\\\\\\\\ var 5000 #", "x\\"),
        # The TTS engine: a leading {name=value} block sets parameters and is not spoken.
        ("speak", "flite|kal|{rate=2}Hello", "Hello"),
        ("speak", "flite|kal|{}{rate=2}Hello", "{rate=2}Hello"),
        ("play_and_get_digits", "1 1 1 5000 # 'say:{} {a}b c' x", " {a}b c"),
    ],
)
def test_what_the_caller_hears_is_read_as_freeswitch_reads_it(
    app: str, arg: str, text: str
) -> None:
    assert heard(app, arg) == [text]
