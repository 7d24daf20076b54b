"""Events in the three formats, decoded lazily; malformed ones fail with a RemoteProtocolError."""

from __future__ import annotations

import json

import pytest

from ivrd.esl.protocol import Event, EventFormat, Headers, RemoteProtocolError

PLAIN = (
    b"Event-Name: CUSTOM\n"
    b"Event-Subclass: sofia%3A%3Aregister\n"
    b"Unique-ID: 0e5263c5\n"
    b"Caller-Caller-ID-Name: Mr%20Switchy%20%2B1\n"
    b"variable_empty: _undef_\n"
    b"variable_bad: 50%zz\n"
    b"variable_multi: a\n"
    b"variable_multi: b\n"
)


def decode_error(source: bytes, format: EventFormat) -> str:
    event = Event.from_bytes(source, format)
    with pytest.raises(RemoteProtocolError) as caught:
        event.headers.pairs()
    return str(caught.value)


def test_plain_event_headers_are_decoded_when_read() -> None:
    event = Event.from_bytes(PLAIN + b"\n", "plain")

    assert event.format == "plain"
    assert event.name == "CUSTOM"
    assert event.subclass == "sofia::register"
    assert event.uuid == "0e5263c5"
    assert event.headers.pairs() == [
        ("Event-Name", "CUSTOM"),
        ("Event-Subclass", "sofia::register"),
        ("Unique-ID", "0e5263c5"),
        ("Caller-Caller-ID-Name", "Mr Switchy +1"),
        ("variable_empty", ""),
        ("variable_bad", "50%zz"),
        ("variable_multi", "a"),
        ("variable_multi", "b"),
    ]
    assert event.headers.raw("Caller-Caller-ID-Name") == "Mr%20Switchy%20%2B1"
    assert event["caller_caller_id_name"] == "Mr Switchy +1"
    assert event.get("variable_multi") == "a"
    assert event.get("missing", "x") == "x"
    assert event.body is None
    assert repr(event) == "<Event CUSTOM sofia::register (plain)>"


def test_plain_event_with_its_own_body() -> None:
    source = b"Event-Name: BACKGROUND_JOB\nJob-UUID: j1\nContent-Length: 7\n\n-ERR x\nEXTRA"

    event = Event.from_bytes(source, "plain")
    assert event.body == "-ERR x\n"  # exactly Content-Length bytes of it
    assert event.headers.pairs() == [
        ("Event-Name", "BACKGROUND_JOB"),
        ("Job-UUID", "j1"),
        ("Content-Length", "7"),
    ]
    assert repr(event) == "<Event BACKGROUND_JOB (plain)>"


def test_plain_event_body_counts_bytes_and_tolerates_bad_utf8() -> None:
    source = b"Event-Name: X\nContent-Length: 6\n\n\xc3\xa9\xff\n\n\n"

    assert Event.from_bytes(source, "plain").body == "é\ufffd\n\n\n"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"Event-Name: X\n\nstray", "text/event-plain: data after the headers, no Content-Length"),
        (
            b"Event-Name: X\nContent-Length: 10\n\nshort",
            "text/event-plain: event body is 5 bytes, Content-Length says 10",
        ),
        (
            "Event-Name: X\nContent-Length: ²\n\nab".encode(),
            "text/event-plain: bad Content-Length '²' in event",
        ),
        (
            b"Event-Name: X\nContent-Length: -1\n\nab",
            "text/event-plain: bad Content-Length '-1' in event",
        ),
        (
            b"Event-Name: X\nno colon",
            "text/event-plain: header line without a name and colon: 'no colon'",
        ),
    ],
)
def test_malformed_plain_events(source: bytes, message: str) -> None:
    assert decode_error(source, "plain") == message


@pytest.mark.parametrize(
    ("length", "body", "error"),
    [
        (None, None, None),
        ("0", "", None),
        ("5", None, "text/event-plain: event body is 0 bytes, Content-Length says 5"),
        ("-1", None, "text/event-plain: bad Content-Length '-1' in event"),
    ],
)
def test_an_event_ending_at_its_headers_checks_its_length_when_the_body_is_read(
    length: str | None, body: str | None, error: str | None
) -> None:
    source = b"Event-Name: X\n" + (
        b"" if length is None else f"Content-Length: {length}\n".encode()
    )
    event = Event.from_bytes(source + b"\n", "plain")

    assert event.name == "X"  # the headers alone need no Content-Length
    if error is None:
        assert event.body == body
    else:
        for _ in range(2):  # a failure repeats
            with pytest.raises(RemoteProtocolError) as caught:
                event.body  # noqa: B018
            assert str(caught.value) == error


def test_decoding_is_lazy_and_a_failure_repeats() -> None:
    event = Event.from_bytes(b"Event-Name: X\nContent-Length: 9\n\nshort", "plain")  # no error yet

    for _ in range(2):
        with pytest.raises(
            RemoteProtocolError, match="event body is 5 bytes, Content-Length says 9"
        ):
            event.name  # noqa: B018
    with pytest.raises(RemoteProtocolError):
        event.body  # noqa: B018


def test_a_malformed_line_fails_only_when_every_line_is_needed() -> None:
    event = Event.from_bytes(b"Event-Name: DTMF\nnot a header line\nDTMF-Digit: 5\n\n", "plain")

    # A lookup finds its own line, as it would in the split lines.
    assert (event.name, event["DTMF-Digit"], event.get("not a header line")) == ("DTMF", "5", None)
    message = "text/event-plain: header line without a name and colon: 'not a header line'"
    for _ in range(2):
        with pytest.raises(RemoteProtocolError) as caught:
            event.headers.pairs()
        assert str(caught.value) == message
    with pytest.raises(RemoteProtocolError, match=message):
        list(event.headers)
    with pytest.raises(RemoteProtocolError, match=message):
        event.headers.get_all("DTMF-Digit")


def test_json_event_values_are_not_percent_decoded() -> None:
    source = json.dumps(
        {
            "Event-Name": "BACKGROUND_JOB",
            "Caller-Name": "50%20 + \u00e9",
            "Multi": ["a", "b"],
            "Number": 5,
            "Nothing": None,
            "Flag": True,
            "Nested": {"k": [1]},
            "Content-Length": "4",
            "_body": "+OK\n",
        }
    ).encode()

    event = Event.from_bytes(source, "json")
    assert event.format == "json"
    assert event.body == "+OK\n"
    assert event.headers.pairs() == [
        ("Event-Name", "BACKGROUND_JOB"),
        ("Caller-Name", "50%20 + é"),
        ("Multi", "ARRAY::a|:b"),  # as a plain event has it
        ("Number", "5"),
        ("Nothing", ""),
        ("Flag", "true"),
        ("Nested", '{"k": [1]}'),
        ("Content-Length", "4"),
    ]
    assert not event.headers.encoded
    assert "_body" not in event.headers


def test_json_repeated_keys_are_repeated_headers_and_the_first_wins() -> None:
    # As FreeSWITCH writes a repeated header (the captures' CODEC events).
    source = b'{"Event-Name":"CODEC","Codec":"L16","Codec":"PCMU","_body":"a","_body":"b"}'

    event = Event.from_bytes(source, "json")
    assert event["Codec"] == "L16"
    assert event.headers.get_all("Codec") == ["L16", "PCMU"]
    assert event.body == "a"


def test_json_event_without_body() -> None:
    event = Event.from_bytes(b'{"Event-Name":"HEARTBEAT"}', "json")

    assert (event.name, event.body, event.subclass) == ("HEARTBEAT", None, None)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"", "text/event-json: invalid JSON: Expecting value: line 1 column 1 (char 0)"),
        (b'{"a": ', "text/event-json: invalid JSON: Expecting value: line 1 column 7 (char 6)"),
        (b"\xff\xfe{", "text/event-json: invalid JSON: "),
        (b'["Event-Name"]', "text/event-json: expected an object, got list"),
        (b'"CHANNEL_ANSWER"', "text/event-json: expected an object, got str"),
        (b"[" * 100_000, "text/event-json: JSON nested too deeply"),
    ],
)
def test_malformed_json_events(source: bytes, message: str) -> None:
    assert decode_error(source, "json").startswith(message)


def test_xml_event_headers_are_percent_decoded_and_body_is_not() -> None:
    source = (
        b"<event>\n  <headers>\n    <Event-Name>BACKGROUND_JOB</Event-Name>\n"
        b"    <Job-Command-Arg>a%20b%26c</Job-Command-Arg>\n    <Empty></Empty>\n"
        b"  </headers>\n  <Content-Length>9</Content-Length>\n"
        b"  <body>50%20 &amp; &lt;ok&gt;</body>\n</event>"
    )

    event = Event.from_bytes(source, "xml")
    assert event.format == "xml"
    assert event.headers.pairs() == [
        ("Event-Name", "BACKGROUND_JOB"),
        ("Job-Command-Arg", "a b&c"),
        ("Empty", ""),
    ]
    assert event.body == "50%20 & <ok>"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            b'<!DOCTYPE e [<!ENTITY a "x">]><event><headers><A>&a;</A></headers></event>',
            "text/event-xml: DOCTYPE/ENTITY declarations are not allowed",
        ),
        (
            # The same, in UTF-16: the declaration must not hide behind an encoding.
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE e [<!ENTITY a "x">]>'
            "<event><headers><A>&a;</A></headers></event>".encode("utf-16"),
            "text/event-xml: ",
        ),
        (b"<event><headers>", "text/event-xml: invalid XML: no element found: line 1, column 16"),
        (b"<other><headers/></other>", "text/event-xml: expected <event><headers>"),
        (b"<event><body>x</body></event>", "text/event-xml: expected <event><headers>"),
    ],
)
def test_malformed_xml_events(source: bytes, message: str) -> None:
    assert decode_error(source, "xml").startswith(message)


def test_an_event_built_from_headers() -> None:
    event = Event(Headers([("Event-Name", "DTMF"), ("DTMF-Digit", "5")]), format="json")

    assert (event.name, event["DTMF-Digit"], event.body, event.format) == (
        "DTMF",
        "5",
        None,
        "json",
    )
    assert Event(Headers([]), "body").body == "body"
    assert Event(Headers([])).name == ""
