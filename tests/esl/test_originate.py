"""Placing calls into flows: `ivrd.esl.originate` and `ivrd originate`, against the fake's
inbound side over real loopback sockets, and the whole way into a running daemon.

The fake reads the `originate` line as mod_commands does (quote-aware words, the dial string's
`{variables}` put on the new channel); the tests read the lines ivrd sends with the same reader.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import anyio
import anyio.abc
import pytest
from click.testing import CliRunner, Result

from ivrd.cli import main
from ivrd.daemon import Daemon, load_config
from ivrd.esl import (
    ArgumentError,
    AsyncCommandSocket,
    AuthenticationError,
    CommandError,
    ConnectionFailed,
)
from ivrd.esl.originate import (
    OriginateResult,
    SocketAddress,
    listen_address,
    originate,
    originate_command,
    parse_socket_address,
)
from ivrd.testing import Answered, Busy, Caller, CallRecord, Failed, FakeFreeSWITCH, NoAnswer
from ivrd.testing import api as fake_api
from ivrd.testing.separate import separate_string, take_variables

pytestmark = pytest.mark.anyio

UUID = "5e1b7d0c-2f43-4c1e-9d6a-0b7a3c1f2e44"
WAIT = 10.0


# --- FreeSWITCH's reading of the originate line ------------------------------------------------


def read_originate(arg: str) -> tuple[dict[str, str], str, str]:
    """The `{}` variables, the target and the application, as FreeSWITCH reads them."""
    dial, app = separate_string(arg, " ")
    variables, target = take_variables(dial)
    return variables, target, app


@dataclass
class Switch:
    """The fake FreeSWITCH's inbound port, and the `originate` lines it was sent."""

    fake: FakeFreeSWITCH
    port: int
    originated: list[str] = field(default_factory=list)


@asynccontextmanager
async def switch(password: str = "ClueCon") -> AsyncIterator[Switch]:
    caller = Caller(
        bridge={
            "user/busy": Busy(ring=0.05),
            "user/nobody": NoAnswer(),
            "user/rejects": Failed("CALL_REJECTED"),
            "user/odd": Failed("SOMETHING_NEW"),
        },
        bridge_default=Answered(ring=0.05, talk=0.2),
        file_seconds=0.02,
    )
    fake = FakeFreeSWITCH(originate_caller=caller, password=password)
    async with anyio.create_task_group() as tg:
        port = await tg.start(fake.serve_inbound)
        state = Switch(fake, port)

        async def originate_seen(arg: str) -> str:
            state.originated.append(arg)  # then the fake's own `originate`, as sent
            return await fake_api.originate(fake, arg, tg.start_soon)

        fake.api_handlers["originate"] = originate_seen
        yield state
        tg.cancel_scope.cancel()


# --- the command line --------------------------------------------------------------------------


def test_the_originate_line_names_the_flow_and_quotes_the_socket_application() -> None:
    command = originate_command(
        "sofia/gateway/carrier/+4930123456",
        flow="reminder",
        socket_address="10.0.0.5:8084",
        uuid=UUID,
        variables={"appointment": "A-17", "vip": True},
        caller_id_number="+4989000",
        caller_id_name="Acme Dental",
        ring_for=timedelta(seconds=25.5),
    )
    assert command == (
        f"originate {{origination_uuid={UUID},ignore_early_media=true,ivr_flow=reminder,"
        "origination_caller_id_number=+4989000,origination_caller_id_name='Acme Dental',"
        "originate_timeout=26,appointment=A-17,vip=true}sofia/gateway/carrier/+4930123456 "
        "'&socket(10.0.0.5:8084 async full)'"
    )
    variables, target, app = read_originate(command.removeprefix("originate "))
    assert variables["origination_caller_id_name"] == "Acme Dental"
    assert variables["ivr_flow"] == "reminder"
    assert (target, app) == (
        "sofia/gateway/carrier/+4930123456",
        "&socket(10.0.0.5:8084 async full)",
    )


def test_the_flow_variable_and_an_ipv6_socket_address() -> None:
    command = originate_command(
        "user/1000",
        flow="hello",
        socket_address=SocketAddress("::1", 8084),
        uuid=UUID,
        flow_variable="which_flow",
        ring_for=30,
    )
    assert command.endswith(
        ",which_flow=hello,originate_timeout=30}user/1000 '&socket(::1:8084 async full)'"
    )


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("x,ivr_flow=evil", "contains ','"),
        ("Doe, John", "contains ','"),
        ("O'Brien", 'contains "\'"'),
        ('say "hi"', "contains '\"'"),
        ("a\\,b", "contains ',', '\\\\'"),
        ("x}evil &park(", "contains '}'"),
        ("{evil=1", "contains '{'"),
        ("[leg]", "contains '[', ']'"),
        ("<x>", "contains '<', '>'"),
        ("a|user/2000", "contains '|'"),
        ("line\r\nbgapi status", "contains '\\n', '\\r'"),
        ("tab\there", "contains '\\t'"),
        ("${system(rm -rf /)}", "contains '{', '}'"),
        ("a:_:user/2000", "contains ':_:'"),
    ],
)
def test_values_that_would_break_the_line_are_refused(value: str, what: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        originate_command(
            "user/1000", flow="hello", socket_address="h:1", uuid=UUID, variables={"name": value}
        )
    assert str(caught.value) == (
        f"originate: the value of name {what}, which would break FreeSWITCH's originate command"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("flow", "a,b=c"), ("caller_id_name", "Doe, John"), ("caller_id_number", "1|2")],
)
def test_the_flow_and_caller_id_are_checked_like_any_value(field: str, value: str) -> None:
    with pytest.raises(ArgumentError, match="which would break"):
        originate_command(
            "user/1000",
            socket_address="h:1",
            uuid=UUID,
            flow=value if field == "flow" else "hello",
            caller_id_name=value if field == "caller_id_name" else None,
            caller_id_number=value if field == "caller_id_number" else None,
        )


@pytest.mark.parametrize(
    ("target", "what"),
    [
        ("user/1000,user/2000", "contains ','"),
        ("user/1000|user/2000", "contains '|'"),
        ("{ivr_flow=evil}user/1", "contains '{', '}'"),
        ("user/1000 &park()", "contains a space"),
        ("user/1000\n", "contains '\\n'"),
        ("", "is empty"),
    ],
)
def test_targets_that_would_break_the_line_are_refused(target: str, what: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        originate_command(target, flow="hello", socket_address="h:1", uuid=UUID)
    assert str(caught.value) == (
        f"originate: the target {target!r} {what}; give one endpoint such as user/1000 or "
        "sofia/gateway/NAME/NUMBER"
    )


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"ivr_flow": "x"}, "originate: set ivr_flow with the flow, caller ID or ring_for"),
        ({"origination_uuid": "x"}, "originate: set origination_uuid with the flow"),
        ({"originate_timeout": "5"}, "originate: set originate_timeout with the flow"),
        ({"bad name": "x"}, "originate: 'bad name' is not a channel variable name"),
        ({"a=b": "x"}, "originate: 'a=b' is not a channel variable name"),
    ],
)
def test_variables_the_module_sets_itself_and_bad_names_are_refused(
    variables: dict[str, str], message: str
) -> None:
    with pytest.raises(ArgumentError, match=message.replace("(", r"\(")):
        originate_command(
            "user/1000", flow="hello", socket_address="h:1", uuid=UUID, variables=variables
        )


def test_ring_for_must_be_positive() -> None:
    with pytest.raises(ArgumentError, match="ring_for must be a positive time, not 0"):
        originate_command("user/1", flow="f", socket_address="h:1", uuid=UUID, ring_for=0)


def test_socket_addresses() -> None:
    assert parse_socket_address("10.0.0.5:8084") == SocketAddress("10.0.0.5", 8084)
    assert parse_socket_address("ivrd-1:8084") == SocketAddress("ivrd-1", 8084)
    assert parse_socket_address("[::1]:8084") == SocketAddress("::1", 8084)
    for text in ("10.0.0.5", "host:0", "host:http", ":8084", "a b:1", "h)x:1"):
        with pytest.raises(ArgumentError):
            parse_socket_address(text)
    assert listen_address("10.0.0.5", 8084) == SocketAddress("10.0.0.5", 8084)
    with pytest.raises(ArgumentError, match=r"ivrd listens on every interface \(0.0.0.0\)"):
        listen_address("0.0.0.0", 8084)
    with pytest.raises(ArgumentError, match="a port picked at start"):
        listen_address("127.0.0.1", 0)


# --- against the fake FreeSWITCH ---------------------------------------------------------------


async def test_an_answered_call_reports_its_uuid() -> None:
    async with switch() as fs, AsyncCommandSocket("127.0.0.1", fs.port) as client:
        with anyio.fail_after(WAIT):
            result = await originate(
                client, "user/1000", flow="hello", socket_address="127.0.0.1:9", uuid=UUID
            )
    assert result == OriginateResult("user/1000", UUID, True, None, f"+OK {UUID}")
    assert str(result) == f"user/1000: answered, call {UUID}"
    assert fs.originated[0].endswith("user/1000 '&socket(127.0.0.1:9 async full)'")


@pytest.mark.parametrize(
    ("target", "cause", "meaning"),
    [
        ("user/busy", "USER_BUSY", "the line is busy"),
        ("user/nobody", "NO_ANSWER", "nobody answered"),
        ("user/rejects", "CALL_REJECTED", "the call was rejected"),
        ("user/odd", "SOMETHING_NEW", "something new"),
    ],
)
async def test_a_call_that_is_not_answered_reports_freeswitchs_cause(
    target: str, cause: str, meaning: str
) -> None:
    async with switch() as fs, AsyncCommandSocket("127.0.0.1", fs.port) as client:
        with anyio.fail_after(WAIT):
            result = await originate(
                client, target, flow="hello", socket_address="127.0.0.1:9", ring_for=0.3
            )
    assert (result.ok, result.cause, result.reply) == (False, cause, f"-ERR {cause}")
    assert str(result) == f"{target}: {meaning} ({cause})"
    assert fs.fake.calls == {}


async def test_a_refused_value_sends_nothing() -> None:
    async with switch() as fs, AsyncCommandSocket("127.0.0.1", fs.port) as client:
        with pytest.raises(ArgumentError, match="value of ivr_flow contains ','"):
            await originate(client, "user/1000", flow="x,y=z", socket_address="127.0.0.1:9")
        assert fs.originated == []


async def test_an_answer_that_is_neither_ok_nor_a_cause_raises() -> None:
    async with switch() as fs, AsyncCommandSocket("127.0.0.1", fs.port) as client:
        fs.fake.api_handlers["originate"] = lambda arg: "-USAGE: <call url> <exten>\n"
        with pytest.raises(CommandError, match="-USAGE: <call url> <exten>"):
            await originate(client, "user/1000", flow="hello", socket_address="127.0.0.1:9")


async def test_a_wrong_password_is_a_clear_error() -> None:
    async with switch(password="s3cret") as fs:
        with pytest.raises(AuthenticationError) as caught:
            async with AsyncCommandSocket("127.0.0.1", fs.port, "guess"):
                pass
    assert str(caught.value) == (
        f"FreeSWITCH at 127.0.0.1:{fs.port} refused the password (-ERR invalid): "
        "check the password in event_socket.conf.xml"
    )


async def test_freeswitch_not_reachable_is_a_clear_error() -> None:
    port = free_port()
    with pytest.raises(ConnectionFailed) as caught:
        async with AsyncCommandSocket("127.0.0.1", port):
            pass
    assert str(caught.value) == (
        f"FreeSWITCH at 127.0.0.1:{port} refused the connection: "
        "is mod_event_socket loaded and listening on that address?"
    )


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the whole way: originate -> FreeSWITCH dials the daemon -> the flow runs ------------------

FLOW = """\
ivr: 1
name: {name}
start: greet
steps:
  greet:
    type: play
    prompt: {{play: "{name}/{{{{ call.appointment }}}}.wav"}}
    next: bye
  bye:
    type: hangup
"""


@asynccontextmanager
async def daemon(tmp_path: Path) -> AsyncIterator[int]:
    flows = tmp_path / "flows"
    flows.mkdir()
    for name in ("reminder", "other"):
        (flows / f"{name}.yaml").write_text(FLOW.format(name=name), encoding="utf-8")
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        "listen: {port: 0}\nhttp: {enabled: false}\nrouting: {default: other}\n", "utf-8"
    )
    config = load_config(config_file, {}, check_paths=True).require()
    server = Daemon(config, environ={}, handle_signals=False)
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(WAIT):
            port = await tg.start(server.serve)
        yield port
        server.stop("the test is over")


async def wait_for_record(fake: FakeFreeSWITCH, uuid: str) -> CallRecord:
    while True:
        for record in fake.records:
            if record.variables.get("uuid") == uuid:
                return record
        await anyio.sleep(0.02)


async def test_the_answered_call_runs_the_flow_in_the_daemon(tmp_path: Path) -> None:
    async with daemon(tmp_path) as port, switch() as fs:
        async with AsyncCommandSocket("127.0.0.1", fs.port) as client:
            with anyio.fail_after(WAIT):
                result = await originate(
                    client,
                    "sofia/gateway/carrier/+4930123456",
                    flow="reminder",
                    socket_address=f"127.0.0.1:{port}",
                    variables={"appointment": "A-17"},
                    caller_id_number="+4989000",
                )
        assert result.ok
        with anyio.fail_after(WAIT):
            record = await wait_for_record(fs.fake, result.uuid)
    assert [(app.name, app.arg) for app in record.apps if app.name != "multiset"] == [
        ("answer", ""),
        ("playback", "reminder/A-17.wav"),
        ("hangup", "NORMAL_CLEARING"),
    ]
    assert record.variables["ivr_flow"] == "reminder"
    assert record.violations == []


# --- ivrd originate ----------------------------------------------------------------------------


async def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run the CLI in a worker thread (it runs its own event loop) while the fake serves."""
    runner = CliRunner()
    environment = {"IVRD_CONFIG": "", **(env or {})}
    return await anyio.to_thread.run_sync(
        lambda: runner.invoke(main, ["originate", *args], env=environment)
    )


async def test_cli_prints_the_uuid_of_the_answered_call(tmp_path: Path) -> None:
    async with daemon(tmp_path) as port, switch(password="s3cret") as fs:
        result = await invoke(
            "sofia/gateway/carrier/+4930123456",
            "--flow",
            "reminder",
            "--var",
            "appointment=B-2",
            "--caller-id",
            "+4989000",
            "--caller-name",
            "Acme Dental",
            "--timeout",
            "20s",
            "--socket",
            f"127.0.0.1:{port}",
            "--port",
            str(fs.port),
            env={"IVRD_ESL_PASSWORD": "s3cret"},
        )
        assert (result.exit_code, result.stderr) == (0, "")
        uuid = result.stdout.strip()
        assert uuidlib.UUID(uuid)
        with anyio.fail_after(WAIT):
            record = await wait_for_record(fs.fake, uuid)
    # The dial string's variables are the new channel's.
    assert record.variables["origination_caller_id_name"] == "Acme Dental"
    assert record.variables["originate_timeout"] == "20"
    assert record.variables["appointment"] == "B-2"
    assert ("playback", "reminder/B-2.wav") in [(a.name, a.arg) for a in record.apps]


async def test_cli_takes_freeswitch_and_the_socket_from_the_configuration(tmp_path: Path) -> None:
    async with switch(password="from-config") as fs:
        config = tmp_path / "config.yaml"
        config.write_text(
            f"listen: {{host: 10.1.2.3, port: 8085}}\nrouting: {{variable: pick_flow}}\n"
            f"freeswitch: {{port: {fs.port}}}\n",
            encoding="utf-8",
        )
        result = await invoke(
            "user/1000",
            "--flow",
            "hello",
            env={"IVRD_CONFIG": str(config), "IVRD_FREESWITCH_PASSWORD": "from-config"},
        )
    assert result.exit_code == 0, result.stderr
    variables, _, app = read_originate(fs.originated[0])
    assert variables["pick_flow"] == "hello"
    assert app == "&socket(10.1.2.3:8085 async full)"


async def test_cli_busy_exits_1_with_the_cause() -> None:
    async with switch() as fs:
        result = await invoke("user/busy", "--flow", "hello", "--port", str(fs.port))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "ivrd originate: user/busy: the line is busy (USER_BUSY)\n"


async def test_cli_refuses_an_unsafe_value_and_bad_options() -> None:
    async with switch() as fs:
        unsafe = await invoke(
            "user/1000", "--flow", "hello", "--var", "x=a,ivr_flow=evil", "--port", str(fs.port)
        )
        no_equals = await invoke("user/1000", "--flow", "hello", "--var", "novalue")
        duration = await invoke("user/1000", "--flow", "hello", "--timeout", "30")
        assert fs.originated == []
    assert (unsafe.exit_code, unsafe.stderr) == (
        2,
        "ivrd originate: originate: the value of x contains ',', which would break "
        "FreeSWITCH's originate command\n",
    )
    assert no_equals.exit_code == 2
    assert "Invalid value for --var: NAME=VALUE, not 'novalue'" in no_equals.stderr
    assert duration.exit_code == 2
    assert "'30' has no unit" in duration.stderr


async def test_cli_wrong_password_and_no_freeswitch_exit_2() -> None:
    async with switch(password="s3cret") as fs:
        wrong = await invoke("user/1000", "--flow", "hello", "--port", str(fs.port))
    port = free_port()
    nobody = await invoke("user/1000", "--flow", "hello", "--port", str(port))
    assert (wrong.exit_code, nobody.exit_code) == (2, 2)
    assert wrong.stderr == (
        f"ivrd originate: FreeSWITCH at 127.0.0.1:{fs.port} refused the password "
        "(-ERR invalid): check the password in event_socket.conf.xml\n"
    )
    assert nobody.stderr == (
        f"ivrd originate: FreeSWITCH at 127.0.0.1:{port} refused the connection: "
        "is mod_event_socket loaded and listening on that address?\n"
    )


async def test_cli_needs_a_socket_address_when_ivrd_listens_everywhere(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("listen: {host: 0.0.0.0}\n", encoding="utf-8")
    result = await invoke("user/1000", "--flow", "hello", "--config", str(config))
    assert (result.exit_code, result.stderr) == (
        2,
        "ivrd originate: ivrd listens on every interface (0.0.0.0), so FreeSWITCH needs to be "
        "told which of its addresses to connect to (--socket HOST:PORT)\n",
    )
