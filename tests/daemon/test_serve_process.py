"""`ivrd serve` as a real process: signals, drain, exit codes, and the example flows end to end.

The daemon logs JSON lines to stderr; the test reads them to learn the bound port and to wait
for what it expects. The fake FreeSWITCH runs in the test process and dials in.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest
from _daemon_helpers import all_playing, write_flows

from ivrd.daemon.server import UNREAD_EVENTS
from ivrd.flow import load_flow
from ivrd.testing import Answered, Caller, CallRecord, Channel, FakeFreeSWITCH, Press

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
WAIT_START = 30.0
"""Seconds a start-up may take at most on a busy machine."""
RUN_ON_TRIO = (
    "import sys; from ivrd.daemon import run_daemon; "
    "sys.exit(run_daemon(sys.argv[1], backend='trio'))"
)


class DaemonProcess:
    """A running `ivrd serve`, and the JSON log lines it wrote so far."""

    def __init__(self, process: anyio.abc.Process) -> None:
        self.process = process
        self.lines: list[dict[str, Any]] = []
        self._changed = anyio.Event()

    async def read_logs(self) -> None:
        assert self.process.stderr is not None
        buffered = b""
        async for chunk in self.process.stderr:
            buffered += chunk
            *complete, buffered = buffered.split(b"\n")
            for line in complete:
                try:
                    self.lines.append(json.loads(line))
                except ValueError:
                    self.lines.append({"msg": line.decode(errors="replace"), "level": "raw"})
            self._changed.set()
            self._changed = anyio.Event()

    def count(self, text: str) -> int:
        return sum(1 for line in self.lines if text in line["msg"])

    async def wait_for(self, text: str, count: int = 1) -> dict[str, Any]:
        while self.count(text) < count:
            await self._changed.wait()
        return [line for line in self.lines if text in line["msg"]][count - 1]

    async def started(self) -> int:
        """The port it listens on, once it serves."""
        line = await self.wait_for("serving on")
        return int(line["port"])

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    async def exit_code(self) -> int:
        return await self.process.wait()

    def messages(self) -> list[str]:
        return [line["msg"] for line in self.lines]


@asynccontextmanager
async def ivrd_serve(
    config: Path, backend: str, cwd: Path | None = None, **environ: str
) -> AsyncIterator[DaemonProcess]:
    if backend == "trio":
        command = [sys.executable, "-c", RUN_ON_TRIO, str(config)]
    else:
        command = [sys.executable, "-m", "ivrd", "serve", "--config", str(config)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVRD_")}
    env.update(environ, IVRD_LOGGING_FORMAT="json", IVRD_LISTEN_PORT="0", IVRD_HTTP_PORT="0")
    process = await anyio.open_process(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, cwd=cwd, env=env
    )
    async with process, anyio.create_task_group() as tasks:
        daemon = DaemonProcess(process)
        tasks.start_soon(daemon.read_logs)
        try:
            yield daemon
        finally:
            if process.returncode is None:
                process.kill()
            with anyio.CancelScope(shield=True):
                await process.wait()


def drain_config(tmp_path: Path, drain_timeout: str) -> Path:
    write_flows(tmp_path / "flows", "main")
    file = tmp_path / "config.yaml"
    file.write_text(
        f"routing: {{default: main}}\nlimits: {{drain_timeout: {drain_timeout}}}\n",
        encoding="utf-8",
    )
    return file


async def start_calls(
    fake: FakeFreeSWITCH, port: int, count: int, tasks: anyio.abc.TaskGroup
) -> list[CallRecord]:
    records: list[CallRecord] = []
    endless = Caller(files={"main.wav": math.inf})

    async def call() -> None:
        records.append(await fake.call("127.0.0.1", port, endless))

    for _ in range(count):
        tasks.start_soon(call)
    return records


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_sigterm_drains_fifty_calls_then_exits_0(tmp_path: Path, anyio_backend: str) -> None:
    fake = FakeFreeSWITCH()
    with anyio.fail_after(30):
        async with ivrd_serve(drain_config(tmp_path, "500ms"), anyio_backend) as daemon:
            port = await daemon.started()
            async with anyio.create_task_group() as calls:
                records = await start_calls(fake, port, 50, calls)
                await daemon.wait_for("running flow main", count=50)
                await all_playing(fake)
                daemon.signal(signal.SIGTERM)
                await daemon.wait_for("stopped accepting calls")
                with pytest.raises(OSError):
                    await fake.call("127.0.0.1", port, Caller())
                # Half of the calls finish on their own during the drain...
                for running in list(fake.calls.values())[:25]:
                    running.break_media()
            assert await daemon.exit_code() == 0
    # ... the other half is hung up politely at the deadline. Every one got its `exit`.
    causes = sorted(record.hangup_cause or "" for record in records)
    assert causes == ["NORMAL_CLEARING"] * 25 + ["SYSTEM_SHUTDOWN"] * 25
    for record in records:
        assert record.hangup_by == "server"
        assert record.exit_sent
        assert record.violations == []
    messages = daemon.messages()
    assert "stopping (SIGTERM): no new calls; send the signal again to stop at once" in messages
    assert "draining: 50 call(s) running get up to 500ms to finish" in messages
    assert "drain_timeout (500ms) passed: hanging up 25 call(s) (SYSTEM_SHUTDOWN)" in messages
    assert daemon.count("call finished: hangup") == 25
    assert daemon.count("call finished: caller_hangup") == 25
    assert messages[-1] == "stopped (50 calls served, 0 refused)"
    # `ivrd serve` takes uvloop when it is installed (the test extra installs it).
    loop = "uvloop " if importlib.util.find_spec("uvloop") else "asyncio (uvloop is not installed)"
    assert any(message.startswith(f"event loop: {loop}") for message in messages)


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_a_second_signal_forces_the_stop(tmp_path: Path, anyio_backend: str) -> None:
    fake = FakeFreeSWITCH()
    with anyio.fail_after(30):
        async with ivrd_serve(drain_config(tmp_path, "1h"), anyio_backend) as daemon:
            port = await daemon.started()
            async with anyio.create_task_group() as calls:
                records = await start_calls(fake, port, 10, calls)
                await daemon.wait_for("running flow main", count=10)
                await all_playing(fake)
                daemon.signal(signal.SIGTERM)
                await daemon.wait_for("draining: 10 call(s)")
                daemon.signal(signal.SIGINT)
            assert await daemon.exit_code() == 0
    assert "stopping at once (SIGINT): ending 10 call(s)" in daemon.messages()
    assert len(records) == 10
    for record in records:
        assert (record.hangup_by, record.hangup_cause) == ("server", "SYSTEM_SHUTDOWN")
        assert record.exit_sent


def test_could_not_start_is_exit_code_3(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    file = tmp_path / "config.yaml"
    file.write_text("limits: {max_calls: none}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVRD_")}
    done = subprocess.run(
        [sys.executable, "-m", "ivrd", "serve", "--config", str(file)],
        env={**env, "IVRD_LOGGING_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 3
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["msg"] for line in lines] == [
        f"{file}:1:21: limits.max_calls: must be a whole number, not 'none'",
        "could not start: the configuration has errors",
    ]


def office_status(now: datetime) -> str:
    flow = load_flow(REPO / "flows" / "acme-main.yaml").require()
    return str(flow.calendars["office"].check(now, flow.timezone).status)


SETUP = ("multiset", "^^|playback_terminators=none|tts_engine=flite|tts_voice=kal")
ACME_OPEN = [
    SETUP,
    ("answer", ""),
    ("playback", "ivr/acme/en/welcome.wav"),
    (
        "play_and_get_digits",
        "1 1 1 5000 none file_string://ivr/acme/en/for_english_press_1.wav!"
        "ivr/acme/de/fuer_deutsch_die_2.wav silence_stream://250 ivrd_input [0-9*#]+ 3000",
    ),
    ("set", "ivr_language=en"),
    ("set", "language=en"),
    (
        "play_and_get_digits",
        "1 1 1 5000 none ivr/acme/en/main_menu.wav silence_stream://250 ivrd_input [0-9*#]+ 3000",
    ),
    ("multiset", "^^|continue_on_fail=true|hangup_after_bridge=false"),
    ("bridge", "{originate_timeout=25}user/1000"),
    ("playback", "ivr/acme/en/goodbye.wav"),
    ("hangup", "NORMAL_CLEARING"),
]
ACME_CLOSED = [
    SETUP,
    ("answer", ""),
    ("playback", "ivr/acme/en/closed.wav"),
    (
        "speak",
        "flite|kal|Please say your name and number after the tone, and we will call you back.",
    ),
    ("playback", "tone_stream://%(250,0,800)"),
    ("set", "playback_terminators=#"),
    ("record", "/var/lib/ivrd/callbacks/{uuid}.wav 60 200 5"),
    ("set", "playback_terminators=none"),
    ("speak", "flite|kal|Thank you. We will call you back on the next business day."),
    ("hangup", "NORMAL_CLEARING"),
]
ACME_HOLIDAY = [
    SETUP,
    ("answer", ""),
    (
        "speak",
        "flite|kal|Acme is closed today for a public holiday. Please call again tomorrow.",
    ),
    ("hangup", "NORMAL_CLEARING"),
]
ACME_PATHS = {"open": ACME_OPEN, "closed": ACME_CLOSED, "holiday": ACME_HOLIDAY}
# The daemon's set-up takes back the events nobody reads (ivrd.daemon.server.UNREAD_EVENTS).
NIXEVENT = "nixevent " + " ".join(sorted(UNREAD_EVENTS))


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_example_flows_run_end_to_end(anyio_backend: str) -> None:
    """hello, and acme-main's path for the time of day (its calendar says which), with the
    CRM unreachable: `*.example` never resolves, so its step goes on to `on_error`."""
    fake = FakeFreeSWITCH()
    quick = Caller(file_seconds=0.05, durations={"speak": 0.05, "record": 0.1})
    # Open: choose English, then the operator, who answers.
    acme_caller = Caller(
        script=[
            Press("1", during="play_and_get_digits", delay=0.05),
            Press("0", during="play_and_get_digits", nth=2, delay=0.05),
        ],
        bridge={"user/1000": Answered(talk=0.1, ring=0.1)},
        file_seconds=0.05,
        durations={"speak": 0.05, "record": 0.1},
    )
    secret = "token-that-must-never-be-logged"
    with anyio.fail_after(30):
        async with ivrd_serve(
            REPO / "config.example.yaml",
            anyio_backend,
            cwd=REPO,
            IVRD_SECRET_CRM_TOKEN=secret,
            IVRD_LOGGING_LEVEL="debug",
        ) as daemon:
            port = await daemon.started()
            daemon.signal(signal.SIGHUP)
            await daemon.wait_for("reloaded 3 flow(s)")
            hello = await fake.call(
                "127.0.0.1", port, quick, channel=Channel(destination_number="1234")
            )
            before = office_status(datetime.now(UTC))
            acme = await fake.call(
                "127.0.0.1", port, acme_caller, channel=Channel(destination_number="5000")
            )
            if office_status(datetime.now(UTC)) != before:
                pytest.skip("the office opened or closed during the call")
            daemon.signal(signal.SIGTERM)
            assert await daemon.exit_code() == 0
    assert hello.command_lines() == [
        "connect",
        "myevents",
        NIXEVENT,
        "linger",
        "divert_events on",
        "nixevent DTMF",  # hello has no key hooks: it reads no key
        *["sendmsg"] * 4,
        "exit",
    ]
    assert [(app.name, app.arg) for app in hello.apps] == [
        SETUP,
        ("answer", ""),
        ("speak", "flite|kal|Hello, and thank you for calling. Goodbye!"),
        ("hangup", "NORMAL_CLEARING"),
    ]
    expected = [(name, arg.replace("{uuid}", acme.uuid)) for name, arg in ACME_PATHS[before]]
    assert [(app.name, app.arg) for app in acme.apps] == expected
    commands = acme.command_lines()
    assert commands[:5] == ["connect", "myevents", NIXEVENT, "linger", "divert_events on"]
    assert "nixevent DTMF" not in commands  # its key hooks (`*0`) need the keys
    assert commands[-1] == "exit"
    assert commands.count("sendmsg") == len(expected)
    for record in (hello, acme):
        assert (record.hangup_by, record.exit_sent, record.violations) == ("server", True, [])
    assert "running flow acme-main (destination 5000 matches routing.routes.0)" in (
        daemon.messages()
    )
    assert daemon.count("call trace") == 2
    logged = "\n".join(json.dumps(line) for line in daemon.lines)
    assert secret not in logged


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has a handler of its own for SIGTERM (/proc: SigCgt)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to see handlers")
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_sigterm_during_start_up_stops_it_cleanly(tmp_path: Path, anyio_backend: str) -> None:
    """`docker stop` in the second `ivrd serve` takes to start (imports, flows) exits 0, as
    Ctrl-C does, rather than killing the process (143). The signal goes as soon as the process
    handles SIGTERM, which it does from the start of `serve`, long before it serves."""
    config = drain_config(tmp_path, "1s")
    async with ivrd_serve(config, anyio_backend) as daemon:
        with anyio.fail_after(WAIT_START):
            # Polled: another process's signal handlers announce themselves nowhere else.
            while not _catches_sigterm(daemon.process.pid):  # noqa: ASYNC110
                await anyio.sleep(0.005)
        daemon.signal(signal.SIGTERM)
        with anyio.fail_after(WAIT_START):
            code = await daemon.exit_code()
    assert code == 0
    assert daemon.count("serving on") == 0
    assert any("interrupted before serving; stopped" in text for text in daemon.messages())
