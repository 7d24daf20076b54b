"""Access: who may connect to the outbound listener, and what never shows.

The listener binds to `listen.host` only and closes a peer outside `listen.allowed_peers` before
sending a byte, logging the peer's address. FreeSWITCH's password and the flows' secrets never
reach a log line (every level, text and JSON), a trace, an error message or `/metrics`, not even
percent-encoded in a URL; digits entered in a `sensitive` step are masked in all of those too.
The daemon runs in-process over real loopback sockets, the fake FreeSWITCH dialling in, and a
real HTTP service on loopback answers (or refuses, or never answers) the flows' requests.
`ivrd test` reports and `ivrd simulate` mask the same way.
"""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote, quote_plus

import anyio
import anyio.abc
import httpx
import pytest
from click.testing import CliRunner

from ivrd.cli import main
from ivrd.daemon import Config, Daemon, load_config
from ivrd.esl import CommandSocket, ESLError, InboundClient, Timeouts
from ivrd.esl.protocol import LocalProtocolError, commands, writers
from ivrd.logs import LogFormat, configure_logging
from ivrd.testing import Caller, Channel, FakeFreeSWITCH, Press

pytestmark = pytest.mark.anyio

WAIT = 10.0
QUICK = Caller(file_seconds=0.01, durations={"speak": 0.01})
HELLO = """ivr: 1
name: main
start: bye
steps:
  bye: {type: hangup, prompt: {play: bye.wav}}
"""


class Logs(logging.Handler):
    """Every `ivrd` record of a test as the daemon writes it (text and JSON, debug level and
    up, through `configure_logging`), and a way to wait for a line without sleeping."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.streams: dict[LogFormat, io.StringIO] = {"text": io.StringIO(), "json": io.StringIO()}
        self.messages: list[str] = []
        self._changed: anyio.Event | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def written(self) -> str:
        return "".join(stream.getvalue() for stream in self.streams.values())

    def json_lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.streams["json"].getvalue().splitlines()]

    async def wait_for(self, text: str) -> None:
        while not any(text in message for message in self.messages):
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()


@pytest.fixture
def logs() -> Iterator[Logs]:
    logger = logging.getLogger("ivrd")
    saved = logger.level, logger.propagate
    watcher = Logs()
    setups = [configure_logging("debug", f, stream=s) for f, s in watcher.streams.items()]
    logger.addHandler(watcher)
    yield watcher
    logger.removeHandler(watcher)
    for setup in setups:
        setup.remove()
    logger.setLevel(saved[0])
    logger.propagate = saved[1]


def make_config(tmp_path: Path, flows: dict[str, str], text: str = "", **environ: str) -> Config:
    directory = tmp_path / "flows"
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in flows.items():
        (directory / f"{name}.yaml").write_text(body, encoding="utf-8")
    file = tmp_path / "config.yaml"
    file.write_text(f"routing: {{default: {next(iter(flows))}}}\n{text}", encoding="utf-8")
    environ = {"IVRD_LISTEN_PORT": "0", "IVRD_HTTP_PORT": "0", **environ}
    return load_config(file, environ, check_paths=True).require()


@asynccontextmanager
async def serving(config: Config, environ: dict[str, str] | None = None) -> AsyncIterator[Daemon]:
    daemon = Daemon(config, environ=environ or {}, handle_signals=False)
    async with anyio.create_task_group() as tasks:
        with anyio.fail_after(WAIT):
            await tasks.start(daemon.serve)
        try:
            yield daemon
        finally:
            daemon.stop("the test is over")


def port_of(daemon: Daemon) -> int:
    assert daemon.bound_port is not None
    return daemon.bound_port


async def read_until_eof(stream: anyio.abc.SocketStream) -> bytes:
    """Everything the daemon sends before it closes the connection."""
    received = b""
    with anyio.fail_after(WAIT):
        while True:
            try:
                received += await stream.receive()
            except anyio.EndOfStream:
                return received


def can_bind(host: str) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family) as probe:
            probe.bind((host, 0))
    except OSError:
        return False
    return True


def other_local_address() -> str | None:
    """An IPv4 address of this machine that is not loopback, if it has one: the source address
    of its default route (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.mark.parametrize("other", ["machine", "loopback"])
async def test_the_listener_binds_only_its_address(tmp_path: Path, other: str) -> None:
    """Bound to 127.0.0.1, another address of the machine refuses; on a machine with only
    loopback, bound to 127.0.0.2, 127.0.0.1 refuses."""
    if other == "machine":
        bound, elsewhere = "127.0.0.1", other_local_address()
        if elsewhere is None:
            pytest.skip("this machine has no address but loopback")
    else:
        bound, elsewhere = "127.0.0.2", "127.0.0.1"
        if not can_bind(bound):
            pytest.skip("127.0.0.2 is not an address of this machine")
    config = make_config(tmp_path, {"main": HELLO}, f"listen: {{host: {bound}}}\n")
    async with serving(config) as daemon:
        record = await FakeFreeSWITCH().call(bound, port_of(daemon), QUICK)
        with pytest.raises(OSError), anyio.fail_after(WAIT):
            await anyio.connect_tcp(elsewhere, port_of(daemon))
    assert [app.name for app in record.apps] == ["multiset", "answer", "playback", "hangup"]


async def test_a_peer_outside_allowed_peers_is_closed_before_a_byte(
    tmp_path: Path, logs: Logs
) -> None:
    if not can_bind("127.0.0.2"):
        pytest.skip("127.0.0.2 is not an address of this machine")
    config = make_config(tmp_path, {"main": HELLO}, "listen: {allowed_peers: [127.0.0.2/32]}\n")
    async with serving(config) as daemon:
        port = port_of(daemon)
        async with await anyio.connect_tcp("127.0.0.1", port) as stranger:
            own_port = stranger.extra(anyio.abc.SocketAttribute.local_port)
            assert await read_until_eof(stranger) == b""
        fake = FakeFreeSWITCH()
        call = fake.new_call("127.0.0.1", port, caller=QUICK)
        stream = await anyio.connect_tcp("127.0.0.1", port, local_host="127.0.0.2")
        record = await call.run(stream, WAIT)
        refused = f"refused a connection from 127.0.0.1:{own_port}: not in allowed_peers"
        with anyio.fail_after(WAIT):
            await logs.wait_for(refused)
    assert record.app_names() == ["multiset", "answer", "playback", "hangup"]
    assert record.exit_sent
    assert daemon.calls.total_calls == 1
    [line] = [entry for entry in logs.json_lines() if entry["msg"] == refused]
    assert line["level"] == "warning"


@pytest.fixture
def ipv6() -> None:
    if not socket.has_ipv6 or not can_bind("::1"):
        pytest.skip("no IPv6 loopback on this machine")


@pytest.mark.usefixtures("ipv6")
async def test_ipv6_peers_and_networks(tmp_path: Path, logs: Logs) -> None:
    listen = "listen: {host: '::1', allowed_peers: ['fd00::/8', '::1/128']}\n"
    async with serving(make_config(tmp_path / "in", {"main": HELLO}, listen)) as daemon:
        record = await FakeFreeSWITCH().call("::1", port_of(daemon), QUICK)
    assert record.app_names() == ["multiset", "answer", "playback", "hangup"]
    assert f"listening for FreeSWITCH on [::1]:{port_of(daemon)}" in logs.messages

    listen = "listen: {host: '::1', allowed_peers: [127.0.0.0/8, 'fe80::/10']}\n"
    async with serving(make_config(tmp_path / "out", {"main": HELLO}, listen)) as daemon:
        async with await anyio.connect_tcp("::1", port_of(daemon)) as stranger:
            own_port = stranger.extra(anyio.abc.SocketAttribute.local_port)
            assert await read_until_eof(stranger) == b""
        with anyio.fail_after(WAIT):
            await logs.wait_for(f"refused a connection from [::1]:{own_port}: not in allowed_peers")
    assert daemon.calls.total_calls == 0


# -- secrets ------------------------------------------------------------------------------------

PASSWORD = "Pw-Cl3wC0n/9"
CRM_TOKEN = "tok/en+S3cret=42&x y"  # what percent-encoding changes: / + = & and a space
API_KEY = "QUJD/ZGVm+Z2hp=="
SECRETS = (PASSWORD, CRM_TOKEN, API_KEY)


def spellings(secret: str) -> set[str]:
    """A secret as it may appear in text: raw, and percent-encoded as in paths and queries."""
    query = str(httpx.URL("http://x/", params={"q": secret})).split("q=", 1)[1]
    return {secret, quote(secret), quote(secret, safe=""), quote_plus(secret), query}


def assert_hidden(text: str, *secrets: str) -> None:
    for secret in secrets:
        for spelling in spellings(secret):
            assert spelling not in text, f"{spelling!r} shows in:\n{text}"


SECRET_FLOW = """ivr: 1
name: crm
services:
  crm:
    base_url: "http://127.0.0.1:{web}/v1"
    headers: {{Authorization: "Bearer {{{{ secrets.CRM_TOKEN }}}}"}}
  down:
    base_url: "http://127.0.0.1:{closed}/api"
    headers: {{X-Api-Key: "{{{{ secrets.API_KEY }}}}"}}
  slow:
    base_url: "http://127.0.0.1:{web}/slow"
    timeout: 200ms
start: lookup
steps:
  lookup:
    type: http
    service: crm
    path: "/customers/{{{{ secrets.CRM_TOKEN }}}}"
    query: {{token: "{{{{ secrets.CRM_TOKEN }}}}", key: "{{{{ secrets.API_KEY }}}}"}}
    save_as: customer
    next: refused
  refused:
    type: http
    service: down
    path: "/v2?token={{{{ secrets.API_KEY }}}}"
    next: slow
    on_error: slow
  slow:
    type: http
    service: slow
    query: {{token: "{{{{ secrets.CRM_TOKEN }}}}"}}
    next: broken
    on_error: broken
  broken:
    type: set
    vars: {{missing: "{{{{ vars.customer.echo[secrets.API_KEY].x }}}}"}}
    next: bye
  bye:
    type: hangup
    prompt: {{say: "code {{{{ secrets.CRM_TOKEN }}}}"}}
on:
  error: bye
  hangup:
    - http: {{service: down, method: POST, path: "/gone/{{{{ secrets.API_KEY }}}}"}}
"""


class EchoService:
    """A real HTTP service on loopback that answers 500 with every request it got echoed back
    (the Authorization header and the token in the URL with it); `/slow` never answers."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int]) -> None:
        async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
            task_status.started(listener.extra(anyio.abc.SocketAttribute.local_port))
            await listener.serve(self._answer)

    async def _answer(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            data = b""
            while b"\r\n\r\n" not in data:
                data += await stream.receive()
            head = data.split(b"\r\n\r\n", 1)[0].decode().lower()
            length = int(head.partition("content-length: ")[2].split("\r", 1)[0] or 0)
            while len(data) < len(head) + 4 + length:
                data += await stream.receive()
            request = data.decode(errors="replace")
            self.requests.append(request)
            if " /slow" in request.split("\r\n", 1)[0]:
                await anyio.sleep_forever()
            body = json.dumps({"echo": {"request": request}}).encode()
            head = (
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                f"X-Echo: {request.split(chr(13), 1)[0]}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            await stream.send(head.encode() + body)


def closed_port() -> int:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        return int(spare.getsockname()[1])


async def test_secrets_never_show_in_logs_traces_errors_or_metrics(
    tmp_path: Path, logs: Logs
) -> None:
    service = EchoService()
    environ = {"IVRD_SECRET_CRM_TOKEN": CRM_TOKEN, "IVRD_SECRET_API_KEY": API_KEY}
    async with anyio.create_task_group() as web:
        web_port = await web.start(service.serve)
        flow = SECRET_FLOW.format(web=web_port, closed=closed_port())
        config = make_config(
            tmp_path, {"crm": flow}, f"freeswitch: {{password: '{PASSWORD}'}}\n", **environ
        )
        async with (
            serving(config, environ) as daemon,
            httpx.AsyncClient(trust_env=False) as http,
        ):
            channel = Channel(uuid="0d6a3c1e-secrets")
            with anyio.fail_after(WAIT):
                record = await FakeFreeSWITCH().call(
                    "127.0.0.1", port_of(daemon), QUICK, channel=channel
                )
                await logs.wait_for("call finished")
            metrics = (await http.get(f"http://127.0.0.1:{daemon.http_port}/metrics")).text
        web.cancel_scope.cancel()
    # The secrets went where they belong...
    assert f"Authorization: Bearer {CRM_TOKEN}" in service.requests[0]
    assert record.apps[-2].arg == f"flite|kal|code {CRM_TOKEN}"
    # ... and nowhere else: every log line, the debug trace in it, and the metrics.
    written = logs.written()
    assert "step broken failed: " in written
    assert "on.hangup action failed: POST http://127.0.0.1:" in written
    [trace] = [line["trace"] for line in logs.json_lines() if line["msg"] == "call trace"]
    assert [step["step"] for step in trace["steps"]] == [  # type: ignore[index]
        "lookup", "refused", "slow", "broken", "bye"
    ]  # fmt: skip
    assert "****" in json.dumps(trace)
    assert 'ivrd_calls_ended_total{disposition="hangup",flow="crm"} 1.0' in metrics
    assert_hidden(written, *SECRETS)
    assert_hidden(metrics, *SECRETS)


@pytest.mark.parametrize(
    "text",
    [
        "freeswitch: {password: *PW}",  # an unquoted * starts a YAML alias
        "freeswitch: {password PW}",  # the colon forgotten
        "freeswitch:\n  password PW",
        "freeswitch: {PW}",
        "freeswitch: PW",
        "freeswitch: {password: PW, port: PW}",
        "freeswitch: {password: [PW]}",
        "freeswitch: {pasword: PW}",
        "freeswitch: {password: !PW! x}",
    ],
)
def test_config_errors_never_quote_the_password(tmp_path: Path, text: str) -> None:
    password = "Pw-Cl3wC0n9"
    (tmp_path / "flows").mkdir()
    file = tmp_path / "config.yaml"
    file.write_text(text.replace("PW", password) + "\n", encoding="utf-8")
    result = load_config(file, {"IVRD_FREESWITCH_PORT": password}, check_paths=True)
    assert result.config is None
    shown = [str(problem) for problem in result.diagnostics]
    assert shown
    assert all(line.startswith((f"{file}:", "environment IVRD_")) for line in shown)
    assert password not in "\n".join(shown)


class SilentSwitch:
    """Port 8021 that greets, then answers `auth` with `-ERR invalid` or not at all."""

    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer
        self.received = b""

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int]) -> None:
        async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
            task_status.started(listener.extra(anyio.abc.SocketAttribute.local_port))
            await listener.serve(self._greet)

    async def _greet(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await stream.send(writers.auth_request())
            while b"\n\n" not in self.received:
                self.received += await stream.receive()
            if self.answer is None:
                await anyio.sleep_forever()
            else:
                await stream.send(self.answer)


@pytest.mark.parametrize("answer", [writers.command_reply("-ERR invalid"), None])
async def test_auth_failures_never_show_the_password(answer: bytes | None, logs: Logs) -> None:
    switch = SilentSwitch(answer)
    failures: list[str] = []
    async with anyio.create_task_group() as tasks:
        port = await tasks.start(switch.serve)
        client = InboundClient(
            port=port, password=PASSWORD, reconnect=False, timeouts=Timeouts(reply=0.2)
        )
        try:
            with anyio.fail_after(WAIT):
                async with client:
                    pass
        except* ESLError as group:
            failures += [str(error) for error in group.exceptions]

        def blocking() -> None:
            try:
                CommandSocket("127.0.0.1", port, PASSWORD, timeout=0.2).connect()
            except ESLError as exc:
                failures.append(str(exc))

        await anyio.to_thread.run_sync(blocking)
        tasks.cancel_scope.cancel()
    assert f"auth {PASSWORD}\n\n".encode() in switch.received
    assert len(failures) == 2
    assert all("FreeSWITCH at 127.0.0.1:" in failure for failure in failures)
    assert_hidden("\n".join(failures) + logs.written(), PASSWORD)
    with pytest.raises(LocalProtocolError) as refused:
        commands.auth(f"{PASSWORD}\n")
    assert_hidden(str(refused.value), PASSWORD)


# -- sensitive entries ----------------------------------------------------------------------

PIN, WRONG = "739164", "839164"
PIN_FLOW = """ivr: 1
name: pin
services:
  bank: {{base_url: "http://127.0.0.1:{web}/bank"}}
start: ask_pin
steps:
  ask_pin:
    type: ask
    prompt: {{say: "Your PIN, please."}}
    digits: {{min: 4, max: 8}}
    must_match: "^7[0-9]+$"
    save_as: pin
    sensitive: true
    next: check
    too_many_attempts: bye
  check:
    type: http
    service: bank
    method: POST
    path: "/pins/{{{{ vars.pin }}}}"
    query: {{pin: "{{{{ vars.pin }}}}"}}
    body: {{pin: "{{{{ vars.pin }}}}"}}
    save_as: verdict
    next: repeat
    on_error: repeat
  repeat:
    type: set
    vars: {{echo: "you typed {{{{ vars.pin }}}}", as_number: "{{{{ vars.pin | int }}}}"}}
    channel: {{last_pin: "{{{{ vars.pin }}}}"}}
    next: bye
  bye:
    type: hangup
    prompt: {{say: "You entered {{{{ vars.pin }}}}."}}
"""
TYPING = [
    Press(f"{WRONG}#", during="play_and_get_digits"),
    Press(f"{PIN}#", during="play_and_get_digits", nth=2),
]


async def test_sensitive_digits_are_masked_in_logs_traces_and_metrics(
    tmp_path: Path, logs: Logs
) -> None:
    service = EchoService()
    async with anyio.create_task_group() as web:
        flow = PIN_FLOW.format(web=await web.start(service.serve))
        async with (
            serving(make_config(tmp_path, {"pin": flow})) as daemon,
            httpx.AsyncClient(trust_env=False) as http,
        ):
            caller = Caller(script=TYPING, file_seconds=0.01, durations={"speak": 0.01})
            channel = Channel(uuid="5e1f0a2b-sensitive")
            with anyio.fail_after(WAIT):
                record = await FakeFreeSWITCH().call(
                    "127.0.0.1", port_of(daemon), caller, channel=channel
                )
                await logs.wait_for("call finished")
            metrics = (await http.get(f"http://127.0.0.1:{daemon.http_port}/metrics")).text
        web.cancel_scope.cancel()
    assert f"POST /bank/pins/{PIN}?pin={PIN} " in service.requests[0]
    assert record.variables["last_pin"] == PIN
    [trace] = [line["trace"] for line in logs.json_lines() if line["msg"] == "call trace"]
    assert [step["step"] for step in trace["steps"]] == ["ask_pin", "check", "repeat", "bye"]  # type: ignore[index]
    assert "you typed ****" in json.dumps(trace)
    assert 'ivrd_steps_total{flow="pin",outcome="next",step_type="ask"} 1.0' in metrics
    assert_hidden(logs.written() + metrics, PIN, WRONG)


def test_sensitive_digits_are_masked_in_ivrd_test_and_simulate(tmp_path: Path) -> None:
    flow = tmp_path / "pin.yaml"
    flow.write_text(PIN_FLOW.format(web=9), encoding="utf-8")
    scenarios = tmp_path / "pin.test.yaml"
    scenarios.write_text(
        "flow: pin.yaml\nscenarios:\n  fails on purpose:\n"
        f"    caller: [{{press: '{WRONG}#'}}, {{press: '{PIN}#'}}]\n"
        f"    http: {{bank: [{{method: POST, path: /pins/*, json: {{pin: '{PIN}'}}}}]}}\n"
        "    expect: {path: [ask_pin, bye], prompts_contain: [nothing like this],"
        " channel_variables: {last_pin: '0'}}\n",
        encoding="utf-8",
    )
    junit = tmp_path / "junit.xml"
    tested = CliRunner().invoke(main, ["test", str(scenarios), "--junit", str(junit)])
    assert tested.exit_code == 1, tested.output
    assert "fails on purpose FAILED" in tested.output
    assert "http: POST http://127.0.0.1:9/bank/pins/****?pin=**** -> 200" in tested.output
    assert_hidden(tested.output + junit.read_text(encoding="utf-8"), PIN, WRONG)

    typed = f"{WRONG}#\n{PIN}#\n"
    simulated = CliRunner().invoke(main, ["simulate", str(flow), "--fast"], input=typed)
    assert simulated.exit_code == 0, simulated.output
    narration, ending = simulated.output.split("\n\n", 1)
    assert f"you press {PIN}#" in narration  # the person at the keyboard typed it
    assert "speak flite|kal|You entered ****." in ending
    assert_hidden(ending, PIN, WRONG)
