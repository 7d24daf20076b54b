"""Application arguments: librevox's exact strings, and what ivrd refuses or quotes instead."""

from __future__ import annotations

import pytest

from ivrd.esl import applications as args
from ivrd.esl.applications import Endpoint, ExecuteResult, digits_result
from ivrd.esl.errors import ArgumentError
from ivrd.esl.protocol import Event, Headers


def pagd(**options: object) -> str:
    defaults: dict[str, object] = {
        "min": 1,
        "max": 2,
        "tries": 3,
        "timeout": 5000,
        "terminators": "#",
        "variable": "read_digits_var",
        "regexp": "\\d+",
        "digit_timeout": None,
    }
    defaults.update(options)
    return args.play_and_get_digits_arg("file", "invalid", **defaults)  # type: ignore[arg-type]


def test_play_and_get_digits_defaults_are_librevox_s() -> None:
    assert pagd() == "1 2 3 5000 # file invalid read_digits_var \\d+"


def test_play_and_get_digits_with_digit_timeout_as_in_the_capture() -> None:
    arg = args.play_and_get_digits_arg(
        "tone_stream://%(3000,0,440)",
        "tone_stream://%(300,0,300)",
        min=1,
        max=5,
        tries=1,
        timeout=8000,
        terminators="#",
        variable="pagd_digits",
        regexp="\\d+",
        digit_timeout=3000,
    )
    assert arg == (
        "1 5 1 8000 # tone_stream://%(3000,0,440) tone_stream://%(300,0,300) pagd_digits \\d+ 3000"
    )


def test_play_and_get_digits_quotes_a_file_with_spaces_and_refuses_other_shifts() -> None:
    # switch_separate_string keeps a single-quoted field together (TTS text in `say:`).
    quoted = args.play_and_get_digits_arg(
        "say:Don't press 1",
        "silence_stream://250",
        min=1,
        max=1,
        tries=1,
        timeout=5000,
        terminators="none",
        variable="v",
        regexp="[0-9*#]+",
        digit_timeout=3000,
    )
    assert quoted == "1 1 1 5000 none 'say:Don\u2019t press 1' silence_stream://250 v [0-9*#]+ 3000"
    with pytest.raises(ArgumentError, match="file must be one line and not empty"):
        args.play_and_get_digits_arg(
            "a\nb",
            "x",
            min=1,
            max=2,
            tries=3,
            timeout=5000,
            terminators="#",
            variable="v",
            regexp="\\d+",
            digit_timeout=None,
        )
    with pytest.raises(ArgumentError, match="terminators must be one word"):
        pagd(terminators="")


def test_read_defaults_are_librevox_s() -> None:
    arg = args.read_arg(
        "file", min=1, max=2, terminators="#", timeout=5000, variable="read_digits_var"
    )
    assert arg == "1 2 file read_digits_var 5000 #"


def test_bind_meta_app() -> None:
    assert (
        args.bind_meta_app_arg(2, "a", "s", "execute_extension", "dx XML features")
        == "2 a s execute_extension::dx XML features"
    )
    assert args.bind_meta_app_arg("3", "b", "o", "hangup", None) == "3 b o hangup"


def test_set_multiset_export_record() -> None:
    assert args.set_arg("some_var", "some value") == "some_var=some value"
    assert args.set_arg("variable_flag", True) == "flag=true"
    assert args.multiset_arg({"var1": "val1", "var2": 2}) == "^^|var1=val1|var2=2"
    assert args.export_arg("some_var", None) == "some_var"
    assert args.export_arg("some_var", True) == "some_var"
    assert args.export_arg("some_var", False) == "nolocal:some_var"
    assert args.record_arg("/tmp/file.wav", None) == "/tmp/file.wav"
    assert args.record_arg("/tmp/file.wav", 20) == "/tmp/file.wav 20"


def test_multiset_refuses_its_separator_in_a_value() -> None:
    with pytest.raises(ArgumentError, match=r"multiset: the value of a contains '\|'"):
        args.multiset_arg({"a": "x|y"})


@pytest.mark.parametrize(
    ("endpoints", "variables", "expected"),
    [
        (["a", "b"], {}, "a,b"),
        (["a", "b"], {"foo": 1, "lol": "cat"}, "{foo=1,lol=cat}a,b"),
        ([["a", "b"], ["c"]], {}, "a,b|c"),
        ([["a", "b"], ["c"]], {"foo": 1}, "{foo=1}a,b|c"),
        (["user/1000"], {"continue_on_fail": True}, "{continue_on_fail=true}user/1000"),
    ],
)
def test_bridge_formats_like_librevox(
    endpoints: list[object], variables: dict[str, object], expected: str
) -> None:
    assert args.bridge_arg(endpoints, variables) == expected  # type: ignore[arg-type]


def test_bridge_per_leg_variables() -> None:
    legs: list[args.BridgeTarget] = [Endpoint("user/1000", {"leg_timeout": 20}), "user/1001"]
    assert args.bridge_arg(legs, {"ignore_early_media": True}) == (
        "{ignore_early_media=true}[leg_timeout=20]user/1000,user/1001"
    )
    groups: list[args.BridgeTarget] = [[Endpoint("a", {"x": "1", "y": "2"})], ["b"]]
    assert args.bridge_arg(groups, {}) == "[x=1,y=2]a|b"


def test_bridge_quotes_values_with_commas_and_spaces() -> None:
    arg = args.bridge_arg(["user/1000"], {"origination_caller_id_name": "Doe, John"})
    assert arg == "{origination_caller_id_name='Doe, John'}user/1000"


@pytest.mark.parametrize(
    ("value", "shown"),
    [("a|b", "'|'"), ("{x}", "'{}'"), ("[x]", "'[]'"), ("it's", '"\'"'), ("a\nb", "'\\n'")],
)
def test_bridge_refuses_values_that_would_break_the_dial_string(value: str, shown: str) -> None:
    with pytest.raises(ArgumentError) as info:
        args.bridge_arg(["user/1000"], {"v": value})
    assert str(info.value) == (
        f"bridge: the value of v contains {shown}, which would break the dial string"
    )


@pytest.mark.parametrize("target", ["user/1000,user/1001", "a|b", "user/1 000", "{x=1}user/1"])
def test_bridge_refuses_targets_that_would_break_the_dial_string(target: str) -> None:
    with pytest.raises(ArgumentError, match="which would break the dial string"):
        args.bridge_arg([target], {})


def test_bridge_groups_must_all_be_lists() -> None:
    with pytest.raises(ArgumentError, match="every target must be a list"):
        args.bridge_arg([["a"], "b"], {})
    with pytest.raises(ArgumentError, match="no target may be a list"):
        args.bridge_arg(["a", ["b"]], {})
    with pytest.raises(ArgumentError, match="at least one target"):
        args.bridge_arg([], {})
    with pytest.raises(ArgumentError, match="'bad name' is not a channel variable name"):
        args.bridge_arg(["a"], {"bad name": 1})


def test_ivr_applications() -> None:
    assert (
        args.say_arg("42", language="en", say_type="number", method="pronounced", gender=None)
        == "en number pronounced 42"
    )
    assert args.speak_arg("hello", None, None) == "hello"
    assert args.speak_arg("hello", "flite", "kal") == "flite|kal|hello"
    assert args.displace_session_arg("moh.wav", "mux", 5000) == "moh.wav mux +5000"
    assert args.displace_session_arg("moh.wav", "", None) == "moh.wav"
    assert args.voicemail_arg("default", "example.com", "100", check=False, auth=False) == (
        "default example.com 100"
    )
    assert args.voicemail_arg("default", "example.com", None, check=True, auth=True) == (
        "check auth default example.com"
    )
    assert args.sched_hangup_arg(30, "ALLOTTED_TIMEOUT") == "+30 ALLOTTED_TIMEOUT"
    assert args.sched_hangup_arg(30, "") == "+30"


def test_speak_text_survives_the_expansion() -> None:
    assert args.speak_arg("a\\\\b it\\'s", "flite", "kal") == "flite|kal|a\\\\\\\\b it\\\\'s"
    assert args.speak_arg("costs $$5", None, None) == "costs \\$\\$5\\'"


def test_variable_names_are_normalised() -> None:
    assert args.normalise_variable("foo") == "foo"
    assert args.normalise_variable("variable_foo") == "foo"
    with pytest.raises(ArgumentError, match="not a channel variable name: 'a b'"):
        args.normalise_variable("a b")


def completion(**variables: str) -> ExecuteResult:
    pairs = [("Event-Name", "CHANNEL_EXECUTE_COMPLETE"), ("Application-Response", "_none_")]
    pairs += [(f"variable_{name}", value) for name, value in variables.items()]
    return ExecuteResult("play_and_get_digits", Event(Headers(pairs)))


def test_digits_from_the_capture_are_ok() -> None:
    result = digits_result(
        completion(pagd_digits="1234", read_result="success", read_terminator_used="#"),
        "pagd_digits",
    )
    assert (result.digits, result.status, result.terminator, result.ok) == ("1234", "ok", "#", True)
    assert result.execution.response is None


def test_digits_entered_then_the_digit_timeout_are_ok() -> None:
    result = digits_result(completion(v="1234", read_result="timeout"), "v")
    assert (result.digits, result.status) == ("1234", "ok")


def test_a_regexp_mismatch_is_invalid_with_what_was_typed() -> None:
    result = digits_result(completion(v_invalid="99", read_result="success"), "variable_v")
    assert (result.digits, result.status, result.invalid_digits) == ("", "invalid", "99")


def test_a_too_short_entry_is_invalid() -> None:
    result = digits_result(completion(v="12", read_result="failure"), "v")
    assert (result.digits, result.status, result.invalid_digits) == ("", "invalid", "12")


def test_no_key_at_all_is_silence() -> None:
    assert digits_result(completion(read_result="failure"), "v").status == "silence"
    assert digits_result(completion(read_result="timeout"), "v").status == "silence"
    # An invalid entry on an earlier try, then silence on the last one.
    assert digits_result(completion(v_invalid="9", read_result="failure"), "v").status == "silence"
