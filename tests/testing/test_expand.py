"""switch_channel_expand_variables: channel variables and escapes in application arguments."""

from __future__ import annotations

import pytest

from ivrd.testing import Caller, Channel, FakeFreeSWITCH
from ivrd.testing.expand import expand_variables

from .client import Server, run_call

VARIABLES = {
    "a": "1",
    "word": "abcdef",
    "n": "2",
    "x_2": "nested",
    "indirect": "${a}!",
    "list": "ARRAY::red|:green|:blue",
}


def expand(text: str) -> str:
    return expand_variables(text, VARIABLES.get)


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("${a}", "1"),
        ("[${a}][${missing}]", "[1][]"),
        ("$${a}", "1"),  # channel variables first, then globals
        ("${x_${n}}", "nested"),
        ("${indirect}", "1!"),  # a value is expanded in turn
        ("${word:2}", "cdef"),
        ("${word:1:3}", "bcd"),
        ("${word:-2}", "ef"),
        ("${list[1]}", "green"),
        ("${a", "1"),  # an unclosed reference runs to the end
        ("${strftime(%Y)} ${uptime s}", " "),  # API calls: none runs here, nothing inserted
        ("cost: $5, $$5 ${a}", "cost: $5, $5 1"),  # a `$` without `{` is text ($$ is one $)
    ],
)
def test_references(text: str, expanded: str) -> None:
    assert expand(text) == expanded


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("\\${a} ${a}", "${a} 1"),  # \$ is a literal $
        ("\\$${a}", "${a}"),  # \$$ too: one $, then the rest as text
        ("\\\\${a}", "\\1"),  # \\ is one backslash
        ("it\\'s ${a}", "its 1"),  # \' disappears
        ("a\\nb\\x ${a}", "a\\nb\\x 1"),  # other backslashes stay
        ("price \\$5", "price \\$5"),  # no reference, no escape FreeSWITCH knows: untouched
        ("price \\$5 \\s", "price $5 \\s"),  # ... but with one, \$ is read again
    ],
)
def test_escapes(text: str, expanded: str) -> None:
    assert expand(text) == expanded


@pytest.mark.anyio
async def test_arguments_are_expanded_on_the_channel_before_the_application_runs() -> None:
    done = []

    async def script(server: Server) -> None:
        await server.start()
        done.append(await server.run("set", "price=\\${amount} is ${amount}, ${caller_id_number}"))
        done.append(await server.run("set", "host=$${hostname}"))
        await server.send_app("hangup")
        await server.finish()

    channel = Channel(caller_id_number="+4930123456", variables={"amount": "12"})
    record, _ = await run_call(
        FakeFreeSWITCH(hostname="switch-1"), script, Caller(), channel=channel
    )
    assert done[0]["Application-Data"] == "price=${amount} is 12, +4930123456"
    assert record.variables["price"] == "${amount} is 12, +4930123456"
    assert record.variables["host"] == "switch-1"
