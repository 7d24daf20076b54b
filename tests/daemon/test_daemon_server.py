"""The daemon's life: phases and readiness, drain and forced stop, reload and file watching,
and a listen address that is taken. In-process, both backends; signals are in test_serve_process."""

from __future__ import annotations

import math
import os
import signal
import socket
from pathlib import Path

import anyio
import httpx
import pytest
from _daemon_helpers import (
    LogWatcher,
    all_playing,
    flow_yaml,
    make_config,
    serving,
    write_flows,
)

from ivrd.daemon import CannotStart, Daemon, Phase
from ivrd.logs import configure_logging
from ivrd.testing import Caller, CallRecord, Channel, FakeFreeSWITCH

pytestmark = pytest.mark.anyio

QUICK = Caller(file_seconds=0.05)
ENDLESS = Caller(files={"main.wav": math.inf})


def played(record: CallRecord) -> list[str]:
    return [app.arg for app in record.apps if app.name == "playback"]


async def test_phases_and_readiness(tmp_path: Path) -> None:
    write_flows(tmp_path / "flows", "main")
    daemon = Daemon(make_config(tmp_path, "routing: {default: main}\n"), handle_signals=False)
    assert (daemon.phase, daemon.ready) == (Phase.STARTUP, False)
    async with anyio.create_task_group() as tasks:
        await tasks.start(daemon.serve)
        assert (daemon.phase, daemon.ready) == (Phase.SERVING, True)
        daemon.stop()
        assert daemon.ready is False
    assert (daemon.phase, daemon.ready) == (Phase.STOPPED, False)


async def test_not_ready_without_the_default_flow(tmp_path: Path, logs: LogWatcher) -> None:
    write_flows(tmp_path / "flows", "main")
    config = make_config(tmp_path, "routing: {default: mian}\n")
    async with serving(config) as (daemon, _):
        assert daemon.phase is Phase.SERVING
        assert daemon.ready is False
    assert (
        f"{tmp_path}/config.yaml:2:20: routing.default: warning: no flow named 'mian' in "
        f"{tmp_path}/flows; did you mean 'main'?"
    ) in logs.messages()
    assert logs.count("not ready: no flow is loaded") == 1


async def test_a_drain_lets_running_calls_finish_and_refuses_new_ones(
    tmp_path: Path, logs: LogWatcher
) -> None:
    write_flows(tmp_path / "flows", "main")
    config = make_config(tmp_path, "routing: {default: main}\n")
    fake = FakeFreeSWITCH()
    records: list[CallRecord] = []

    async def call() -> None:
        records.append(await fake.call("127.0.0.1", port, ENDLESS))

    with anyio.fail_after(10):
        async with serving(config) as (daemon, port), anyio.create_task_group() as calls:
            for _ in range(3):
                calls.start_soon(call)
            await logs.wait_for("running flow main", count=3)
            daemon.stop("test")
            assert daemon.phase is Phase.DRAINING
            await logs.wait_for("draining: 3 call(s) running get up to 30s to finish")
            await logs.wait_for("stopped accepting calls")  # the listener is closed
            with pytest.raises(OSError):
                await fake.call("127.0.0.1", port, QUICK)
            await all_playing(fake)
            for running in list(fake.calls.values()):
                running.break_media()
    assert len(records) == 3
    for record in records:
        assert played(record) == ["main.wav"]
        assert record.app_names()[-1] == "hangup"
        assert (record.hangup_by, record.hangup_cause) == ("server", "NORMAL_CLEARING")
        assert record.exit_sent
        assert record.violations == []
    assert logs.count("call finished: hangup") == 3
    assert daemon.phase is Phase.STOPPED


async def test_calls_still_running_at_the_drain_deadline_are_hung_up(
    tmp_path: Path, logs: LogWatcher
) -> None:
    write_flows(tmp_path / "flows", "main")
    config = make_config(tmp_path, "routing: {default: main}\nlimits: {drain_timeout: 100ms}\n")
    fake = FakeFreeSWITCH()
    records: list[CallRecord] = []

    async def call() -> None:
        records.append(await fake.call("127.0.0.1", port, ENDLESS))

    with anyio.fail_after(10):
        async with serving(config) as (daemon, port), anyio.create_task_group() as calls:
            for _ in range(3):
                calls.start_soon(call)
            await logs.wait_for("running flow main", count=3)
            daemon.stop("test")
    assert len(records) == 3
    for record in records:
        assert (record.hangup_by, record.hangup_cause) == ("server", "SYSTEM_SHUTDOWN")
        assert record.exit_sent
        assert record.violations == []
    assert logs.count("drain_timeout (100ms) passed: hanging up 3 call(s) (SYSTEM_SHUTDOWN)") == 1
    assert logs.count("call finished: caller_hangup") == 3


async def test_a_second_stop_forces_and_every_call_still_gets_exit(
    tmp_path: Path, logs: LogWatcher
) -> None:
    write_flows(tmp_path / "flows", "main")
    config = make_config(tmp_path, "routing: {default: main}\nlimits: {drain_timeout: 1h}\n")
    fake = FakeFreeSWITCH()
    records: list[CallRecord] = []

    async def call() -> None:
        records.append(await fake.call("127.0.0.1", port, ENDLESS))

    with anyio.fail_after(15):
        async with serving(config) as (daemon, port), anyio.create_task_group() as calls:
            for _ in range(3):
                calls.start_soon(call)
            await logs.wait_for("running flow main", count=3)
            daemon.stop("test")
            await logs.wait_for("draining")
            daemon.stop("test again")
    assert logs.count("stopping at once (test again): ending 3 call(s)") == 1
    assert len(records) == 3
    for record in records:
        assert record.hangup_by == "server"
        assert record.exit_sent


async def test_reload_keeps_the_old_flow_for_a_broken_file_and_running_calls(
    tmp_path: Path, logs: LogWatcher
) -> None:
    flows = write_flows(tmp_path / "flows", "main")
    main = flows / "main.yaml"
    config = make_config(tmp_path, "routing: {default: main}\n")
    fake = FakeFreeSWITCH()
    live: list[CallRecord] = []

    async def call_live() -> None:
        live.append(await fake.call("127.0.0.1", port, ENDLESS, channel=Channel(uuid="live")))

    with anyio.fail_after(10):
        async with serving(config) as (daemon, port), anyio.create_task_group() as calls:
            calls.start_soon(call_live)
            await logs.wait_for("running flow main")
            first = daemon.registry.get("main")

            main.write_text(flow_yaml("main").replace("next: bye", "next: byee"))
            reloaded = await daemon.reload("test")
            assert reloaded.change.kept == ("main",)
            assert daemon.registry.get("main") is first
            during = await fake.call("127.0.0.1", port, QUICK)

            version_two = flow_yaml("main").replace("next: bye", "next: more") + (
                "  more:\n    type: play\n    prompt: {play: more.wav}\n    next: bye\n"
            )
            main.write_text(version_two)
            reloaded = await daemon.reload("test")
            assert reloaded.change.loaded == ("main",)
            after = await fake.call("127.0.0.1", port, QUICK)
            await all_playing(fake)
            fake.calls["live"].break_media()
    assert played(during) == ["main.wav"]
    assert played(after) == ["main.wav", "more.wav"]
    (record,) = live
    assert played(record) == ["main.wav"]  # its own version: no `more` step
    assert record.exit_sent
    assert "flow main: its file has errors; the previous version keeps serving" in logs.messages()
    assert f"{main}:8:11: steps.greet.next: unknown step 'byee'; did you mean 'bye'?" in (
        logs.messages()
    )


async def test_reload_applies_a_new_config_and_keeps_the_old_one_when_broken(
    tmp_path: Path, logs: LogWatcher
) -> None:
    write_flows(tmp_path / "flows", "main", "sales")
    config = make_config(tmp_path, "routing: {default: main}\n")
    file = tmp_path / "config.yaml"
    fake = FakeFreeSWITCH()
    with anyio.fail_after(10):
        async with serving(config) as (daemon, port):
            file.write_text(
                "listen: {port: 0}\nrouting: {default: sales}\nlimits: {max_calls: 7}\n"
            )
            await daemon.reload("test")
            assert daemon.config.limits.max_calls == 7
            to_sales = await fake.call("127.0.0.1", port, QUICK)
            file.write_text("listen: {port: 0}\nrouting: {default: main}\nlimits: {max_calls: 0}\n")
            reloaded = await daemon.reload("test")
            assert reloaded.config.config is None
            still_sales = await fake.call("127.0.0.1", port, QUICK)
            assert daemon.config.limits.max_calls == 7
    assert played(to_sales) == ["sales.wav"]
    assert played(still_sales) == ["sales.wav"]
    assert f"{file}:3:21: limits.max_calls: must be at least 1" in logs.messages()
    assert "the configuration has errors: keeping the previous one" in logs.messages()


async def test_watching_the_files_reloads_a_changed_flow(tmp_path: Path, logs: LogWatcher) -> None:
    flows = write_flows(tmp_path / "flows", "main")
    config = make_config(
        tmp_path, "routing: {default: main}\nflows: {watch: true, watch_interval: 100ms}\n"
    )
    fake = FakeFreeSWITCH()
    with anyio.fail_after(10):
        async with serving(config) as (_, port):
            (flows / "main.yaml").write_text(flow_yaml("main", "changed.wav"))
            await logs.wait_for("reloading (files changed)")
            await logs.wait_for("reloaded 1 flow(s)")
            record = await fake.call("127.0.0.1", port, QUICK)
    assert played(record) == ["changed.wav"]


async def test_an_address_in_use_means_the_daemon_cannot_start(tmp_path: Path) -> None:
    write_flows(tmp_path / "flows", "main")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = make_config(tmp_path, "", IVRD_LISTEN_PORT=str(port))
        daemon = Daemon(config, handle_signals=False)
        with pytest.raises(CannotStart) as raised:
            await daemon.serve()
    assert str(raised.value) == (
        f"cannot listen on 127.0.0.1:{port}: the address is already in use "
        "(another ivrd, or another program on that port?)"
    )


async def test_sighup_reopens_the_log_file_and_reloads(tmp_path: Path, logs: LogWatcher) -> None:
    write_flows(tmp_path / "flows", "main")
    config = make_config(tmp_path, "routing: {default: main}\nlogging: {file: ivrd.log}\n")
    log_file = tmp_path / "ivrd.log"
    assert config.log_file == log_file
    setup = configure_logging("info", "text", str(log_file))
    daemon = Daemon(config, environ={}, logging_setup=setup)
    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tasks:
                await tasks.start(daemon.serve)  # the signal receiver is installed by now
                log_file.rename(tmp_path / "ivrd.log.1")  # what logrotate does
                os.kill(os.getpid(), signal.SIGHUP)
                await logs.wait_for("reloaded 1 flow(s)")
                daemon.stop()
    finally:
        if daemon.logging_setup is not None:
            daemon.logging_setup.remove()
    rotated = (tmp_path / "ivrd.log.1").read_text(encoding="utf-8")
    reopened = log_file.read_text(encoding="utf-8")
    assert "serving on 127.0.0.1:" in rotated
    assert "reloading (SIGHUP)" not in rotated
    assert "reloading (SIGHUP)" in reopened
    assert "stopped (0 calls served, 0 refused)" in reopened


async def test_the_http_endpoint_reports_readiness_and_counts_calls(
    tmp_path: Path, logs: LogWatcher
) -> None:
    write_flows(tmp_path / "flows", "main")
    config = make_config(tmp_path, "routing: {default: main}\nlimits: {max_calls: 1}\n")
    fake = FakeFreeSWITCH()
    with anyio.fail_after(10):
        async with (
            httpx.AsyncClient(trust_env=False) as http,
            serving(config) as (daemon, port),
            anyio.create_task_group() as calls,
        ):
            base = f"http://127.0.0.1:{daemon.http_port}"
            assert (await http.get(f"{base}/readyz")).status_code == 200
            await fake.call("127.0.0.1", port, QUICK)
            calls.start_soon(fake.call, "127.0.0.1", port, ENDLESS)
            await logs.wait_for("running flow main", count=2)
            await fake.call("127.0.0.1", port, QUICK)  # refused: max_calls
            daemon.stop("test")
            draining = await http.get(f"{base}/readyz")
            assert (draining.status_code, draining.text) == (503, "not ready: draining\n")
            assert (await http.get(f"{base}/healthz")).status_code == 200
            metrics = (await http.get(f"{base}/metrics")).text
            await all_playing(fake)
            for running in list(fake.calls.values()):
                running.break_media()
    assert 'ivrd_calls_started_total{flow="main"} 2.0' in metrics
    assert 'ivrd_calls_ended_total{disposition="hangup",flow="main"} 1.0' in metrics
    assert 'ivrd_calls_active{flow="main"} 1.0' in metrics
    assert 'ivrd_calls_refused_total{reason="max_calls"} 1.0' in metrics
    assert 'ivrd_steps_total{flow="main",outcome="next",step_type="play"} 1.0' in metrics


async def test_a_lost_event_socket_is_counted_as_an_esl_error(
    tmp_path: Path, logs: LogWatcher
) -> None:
    write_flows(tmp_path / "flows", "main")
    config = make_config(tmp_path, "routing: {default: main}\n")
    fake = FakeFreeSWITCH()
    with anyio.fail_after(10):
        async with (
            httpx.AsyncClient(trust_env=False) as http,
            serving(config) as (daemon, port),
        ):
            base = f"http://127.0.0.1:{daemon.http_port}"
            async with anyio.create_task_group() as calls:
                calls.start_soon(fake.call, "127.0.0.1", port, ENDLESS)
                await logs.wait_for("running flow main")
                calls.cancel_scope.cancel()  # FreeSWITCH's side of the socket goes away
            await logs.wait_for("call finished: disconnected")
            metrics = (await http.get(f"{base}/metrics")).text
    assert 'ivrd_esl_errors_total{kind="connection_closed"} 1.0' in metrics
    assert 'ivrd_calls_ended_total{disposition="disconnected",flow="main"} 1.0' in metrics
    assert "ivrd_config_last_reload_successful 1.0" in metrics
