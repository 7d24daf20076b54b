"""Flows and config changing under a serving daemon: clear errors, nothing running disturbed.

A reload (SIGHUP, or `Daemon.reload`) with a broken flow file, a flow file deleted under a
running call, a subflow deleted while its parent stays, a config file with a wrong type, the
flows directory gone: each logs what is wrong with its `file:line:col`, keeps what worked, and
lets the calls in progress finish on the flow version they started with. In-process over real
loopback sockets, on both backends, the fake FreeSWITCH dialling in; a call stays in progress
on an endless prompt until the test breaks it.

Already covered elsewhere (see README.md): a broken flow reloaded without a signal, a config
value out of range on reload and `ivrd serve`'s exit code 3 for a bad config (tests/daemon).
"""

from __future__ import annotations

import logging
import math
import os
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.abc
import pytest

from ivrd.daemon import Config, Daemon, load_config
from ivrd.testing import Caller, CallRecord, Channel, FakeFreeSWITCH

from ._peers import LogWatcher, watch_logs

pytestmark = pytest.mark.anyio

WAIT = 10.0
QUICK = Caller(file_seconds=0.01)
ENVIRON = {"IVRD_LISTEN_PORT": "0", "IVRD_HTTP_PORT": "0"}
MAIN = """ivr: 1
name: main
start: greet
steps:
  greet: {type: play, prompt: {play: greet.wav}, next: after}
  after: {type: play, prompt: {play: v1-after.wav}, next: bye}
  bye: {type: hangup}
"""
OTHER = "ivr: 1\nname: other\nstart: bye\nsteps:\n  bye: {type: hangup, prompt: {play: o.wav}}\n"


@pytest.fixture
def logs() -> Iterator[LogWatcher]:
    yield from watch_logs()


def setup(tmp_path: Path, config: str, **flows: str) -> Config:
    for name, text in flows.items():
        path = tmp_path / "flows" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (tmp_path / "config.yaml").write_text(config, encoding="utf-8")
    return load_config(tmp_path / "config.yaml", ENVIRON, check_paths=True).require()


@asynccontextmanager
async def serving(config: Config, *, signals: bool = False) -> AsyncIterator[Daemon]:
    daemon = Daemon(config, environ=ENVIRON, handle_signals=signals)
    async with anyio.create_task_group() as tasks:
        with anyio.fail_after(WAIT):
            await tasks.start(daemon.serve)
        try:
            yield daemon
        finally:
            daemon.stop("the test is over")


class LiveCall:
    """A call left on an endless prompt (`endless`) while the test changes files under it."""

    def __init__(self, fake: FakeFreeSWITCH, daemon: Daemon, endless: str = "greet.wav") -> None:
        assert daemon.bound_port is not None
        self.port = daemon.bound_port
        self.endless = endless
        caller = Caller(file_seconds=0.01, files={endless: math.inf})
        channel = Channel(destination_number="1")
        self.call = fake.new_call("127.0.0.1", self.port, caller=caller, channel=channel)
        self.record: CallRecord | None = None

    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Until the call hangs up; started once it waits in its endless prompt."""
        stream = await anyio.connect_tcp("127.0.0.1", self.port)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._run, stream)
            with anyio.fail_after(WAIT):
                while not self._stuck():
                    await self.call.changed.wait()
            task_status.started()

    async def _run(self, stream: anyio.abc.SocketStream) -> None:
        self.record = await self.call.run(stream, 60.0)

    def _stuck(self) -> bool:
        return any(
            app.arg == self.endless and app.ended_at is None
            for app in self.call.record.apps
            if app.started_at is not None
        )

    def go_on(self) -> None:
        self.call.break_media()


async def call(daemon: Daemon, destination: str = "1") -> CallRecord:
    assert daemon.bound_port is not None
    channel = Channel(destination_number=destination)
    with anyio.fail_after(WAIT):
        return await FakeFreeSWITCH().call("127.0.0.1", daemon.bound_port, QUICK, channel=channel)


def played(record: CallRecord | None) -> list[str]:
    assert record is not None
    return [app.arg for app in record.apps if app.name == "playback"]


async def test_sighup_with_a_broken_flow_keeps_the_old_version_serving(
    tmp_path: Path, logs: LogWatcher
) -> None:
    main = tmp_path / "flows" / "main.yaml"
    config = setup(tmp_path, "routing: {default: main}\n", main=MAIN)
    fake = FakeFreeSWITCH()
    async with serving(config, signals=True) as daemon, anyio.create_task_group() as calls:
        live = LiveCall(fake, daemon)
        await calls.start(live.run)
        main.write_text(MAIN.replace("next: after}", "next: after"), encoding="utf-8")
        os.kill(os.getpid(), signal.SIGHUP)
        with anyio.fail_after(WAIT):
            await logs.wait_for(
                "flow main: its file has errors; the previous version keeps serving"
            )
        during = await call(daemon)
        live.go_on()
    assert logs.messages(logging.ERROR) == [
        f"{main}:6:8: YAML syntax: the '{{' on line 5 is not closed (expected ',' or '}}', "
        "but got ':'); quote a value that contains ': '"
    ]
    assert played(during) == ["greet.wav", "v1-after.wav"]
    assert played(live.record) == ["greet.wav", "v1-after.wav"]  # its own version, to the end
    assert live.record is not None
    assert live.record.exit_sent


async def test_a_flow_deleted_under_a_running_call(tmp_path: Path, logs: LogWatcher) -> None:
    config = setup(
        tmp_path,
        "routing: {routes: [{destination: '^1', flow: main}], default: other}\n",
        main=MAIN,
        other=OTHER,
    )
    fake = FakeFreeSWITCH()
    async with serving(config) as daemon, anyio.create_task_group() as calls:
        live = LiveCall(fake, daemon)
        await calls.start(live.run)
        (tmp_path / "flows" / "main.yaml").unlink()
        reloaded = await daemon.reload("test")
        assert reloaded.change.removed == ("main",)
        for_main, for_other = await call(daemon, "100"), await call(daemon, "200")
        live.go_on()
    # A call routed to the flow that is gone is hung up so the network may retry elsewhere.
    assert (for_main.app_names(), for_main.hangup_cause) == (["hangup"], "NORMAL_TEMPORARY_FAILURE")
    assert for_main.exit_sent
    assert played(for_other) == ["o.wav"]
    assert played(live.record) == ["greet.wav", "v1-after.wav"]
    messages = logs.messages()
    assert "flow main: its file is gone; no longer served" in messages
    assert (
        f"{tmp_path}/config.yaml:1:46: routing.routes.0.flow: warning: no flow named 'main' in "
        f"{tmp_path}/flows; the flows are other"
    ) in messages
    assert (
        "no flow for this call: destination 100 matches routing.routes.0, but no flow 'main' "
        "is loaded; hanging up (NORMAL_TEMPORARY_FAILURE)"
    ) in messages


PARENT = """ivr: 1
name: main
subflows: {confirm: parts/confirm.yaml}
start: greet
steps:
  greet: {type: play, prompt: {play: greet.wav}, next: check}
  check: {type: run, subflow: confirm, returns: {done: bye}}
  bye: {type: hangup, prompt: {play: v1-bye.wav}}
"""
CONFIRM = """ivr: 1
name: confirm
returns: [done]
start: ask
steps:
  ask: {type: play, prompt: {play: confirm.wav}, next: done}
"""


async def test_a_subflow_deleted_while_its_parent_stays(tmp_path: Path, logs: LogWatcher) -> None:
    config = setup(
        tmp_path, "routing: {default: main}\n", main=PARENT, **{"parts/confirm": CONFIRM}
    )
    fake = FakeFreeSWITCH()
    async with serving(config) as daemon, anyio.create_task_group() as calls:
        live = LiveCall(fake, daemon, endless="confirm.wav")
        await calls.start(live.run)  # in the subflow's prompt
        (tmp_path / "flows" / "parts" / "confirm.yaml").unlink()
        reloaded = await daemon.reload("test")
        assert reloaded.change.kept == ("main",)
        during = await call(daemon)
        live.go_on()
    assert (
        f"{tmp_path}/flows/main.yaml:3:21: subflows.confirm: no such file 'parts/confirm.yaml' "
        "(relative to this flow's directory)"
    ) in logs.messages(logging.ERROR)
    assert played(during) == ["greet.wav", "confirm.wav", "v1-bye.wav"]
    assert played(live.record) == ["greet.wav", "confirm.wav", "v1-bye.wav"]


# Each file would also switch routing.default to `other`: none of it may apply.
WRONG_TYPES = {
    "routing: {default: other}\nlimits: {max_calls: [5]}": (
        "2:10: limits.max_calls: must be a whole number, not a list"
    ),
    "routing: {default: other}\nlimits: {when_full: [hangup]}": (
        "2:10: limits.when_full: must be one of hangup, resume, not a list"
    ),
    "routing: {default: other, routes: {destination: '^1', flow: other}}": (
        "1:27: routing.routes: must be a list, not a mapping"
    ),
    "routing: {default: other}\nlimits: {drain_timeout: [1s]}": (
        "2:10: limits.drain_timeout: must be a duration; write a number with a unit: "
        "500ms, 5s, 2m, 1h or 1m30s"
    ),
}


async def test_a_config_with_wrong_types_keeps_the_old_one(
    tmp_path: Path, logs: LogWatcher
) -> None:
    config = setup(
        tmp_path, "routing: {default: main}\nlimits: {max_calls: 7}\n", main=MAIN, other=OTHER
    )
    file = tmp_path / "config.yaml"
    async with serving(config) as daemon:
        for text, problem in WRONG_TYPES.items():
            file.write_text(text + "\n", encoding="utf-8")
            reloaded = await daemon.reload("test")
            assert reloaded.config.config is None
            assert [str(d) for d in reloaded.config.errors] == [f"{file}:{problem}"]
        assert daemon.config.limits.max_calls == 7
        record = await call(daemon)
    assert played(record) == ["greet.wav", "v1-after.wav"]  # routing.default is still main
    assert logs.messages(logging.ERROR) == [
        line for problem in WRONG_TYPES.values()
        for line in (f"{file}:{problem}", "the configuration has errors: keeping the previous one")
    ]  # fmt: skip


async def test_the_flows_directory_gone_at_reload(tmp_path: Path, logs: LogWatcher) -> None:
    flows = tmp_path / "flows"
    config = setup(tmp_path, "routing: {default: main}\nflows: {directory: flows}\n", main=MAIN)
    fake = FakeFreeSWITCH()
    async with serving(config) as daemon, anyio.create_task_group() as calls:
        live = LiveCall(fake, daemon)
        await calls.start(live.run)
        flows.rename(tmp_path / "moved")
        await daemon.reload("test")
        during = await call(daemon)
        live.go_on()
        (tmp_path / "moved").rename(flows)
        reloaded = await daemon.reload("back")
    assert reloaded.change.loaded == ("main",)
    assert played(during) == ["greet.wav", "v1-after.wav"]
    assert played(live.record) == ["greet.wav", "v1-after.wav"]
    assert logs.messages(logging.ERROR) == [
        f"{tmp_path}/config.yaml:2:20: flows.directory: no such directory: {flows}",
        "the configuration has errors: keeping the previous one",
        f"flows directory {flows} is gone: keeping every flow as it was",
    ]
