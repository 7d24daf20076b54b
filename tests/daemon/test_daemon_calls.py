"""Calls through a serving daemon, over loopback sockets with the fake FreeSWITCH: routing,
refusals, limits. Every call must end with a hangup and the session's `exit`."""

from __future__ import annotations

import gc
import math
from pathlib import Path

import anyio
import pytest
from _daemon_helpers import LogWatcher, flow_yaml, make_config, serving, write_flows

from ivrd.testing import Caller, CallRecord, Channel, FakeFreeSWITCH

pytestmark = pytest.mark.anyio

QUICK = Caller(file_seconds=0.05)


def assert_ended_cleanly(record: CallRecord, cause: str = "NORMAL_CLEARING") -> None:
    assert record.hangup_cause == cause
    assert record.hangup_by == "server"
    assert record.exit_sent
    assert record.violations == []


def played(record: CallRecord) -> list[str]:
    return [app.arg for app in record.apps if app.name == "playback"]


async def test_calls_are_routed_by_variable_then_destination_then_default(
    tmp_path: Path, logs: LogWatcher
) -> None:
    write_flows(tmp_path / "flows", "main", "sales", "support")
    config = make_config(
        tmp_path, "routing:\n  routes: [{destination: '^1000$', flow: sales}]\n  default: main\n"
    )
    fake = FakeFreeSWITCH()
    async with serving(config) as (_, port):
        with anyio.fail_after(10):
            by_variable = await fake.call(
                "127.0.0.1",
                port,
                QUICK,
                channel=Channel(destination_number="1000", variables={"ivr_flow": "support"}),
            )
            by_destination = await fake.call(
                "127.0.0.1", port, QUICK, channel=Channel(destination_number="1000")
            )
            by_default = await fake.call(
                "127.0.0.1", port, QUICK, channel=Channel(destination_number="1001")
            )
    assert played(by_variable) == ["support.wav"]
    assert played(by_destination) == ["sales.wav"]
    assert played(by_default) == ["main.wav"]
    for record in (by_variable, by_destination, by_default):
        assert record.app_names() == ["multiset", "answer", "playback", "hangup"]
        assert_ended_cleanly(record)
    assert logs.count("running flow sales (destination 1000 matches routing.routes.0)") == 1
    assert logs.count("call finished: hangup") == 3


@pytest.mark.parametrize(
    ("routing", "channel", "cause", "why"),
    [
        (
            "routing: {routes: [{destination: '^1', flow: main}]}\n",
            Channel(destination_number="555"),
            "UNALLOCATED_NUMBER",
            "no route for destination 555 and no routing.default",
        ),
        (
            "routing: {default: main}\n",
            Channel(variables={"ivr_flow": "mian"}),
            "NORMAL_TEMPORARY_FAILURE",
            "channel variable ivr_flow=mian, but no flow 'mian' is loaded",
        ),
        (
            "routing: {default: broken}\n",
            Channel(destination_number="555"),
            "NORMAL_TEMPORARY_FAILURE",
            "routing.default, but no flow 'broken' is loaded",
        ),
    ],
)
async def test_a_call_without_a_flow_is_hung_up_politely(
    tmp_path: Path, logs: LogWatcher, routing: str, channel: Channel, cause: str, why: str
) -> None:
    flows = write_flows(tmp_path / "flows", "main")
    (flows / "broken.yaml").write_text("ivr: 1\nname: broken\nstart: nowhere\n")
    config = make_config(tmp_path, routing)
    async with serving(config) as (_, port):
        with anyio.fail_after(10):
            record = await FakeFreeSWITCH().call("127.0.0.1", port, QUICK, channel=channel)
    assert record.app_names() == ["hangup"]
    assert [app.arg for app in record.apps] == [cause]
    assert_ended_cleanly(record, cause)
    assert f"no flow for this call: {why}; hanging up ({cause})" in logs.messages()


async def test_calls_past_max_calls_are_refused_while_the_others_run(
    tmp_path: Path, logs: LogWatcher
) -> None:
    write_flows(tmp_path / "flows", "main")
    config = make_config(tmp_path, "routing: {default: main}\nlimits: {max_calls: 2}\n")
    fake = FakeFreeSWITCH()
    endless = Caller(files={"main.wav": math.inf})
    records: list[CallRecord] = []

    async def call(caller: Caller) -> None:
        records.append(await fake.call("127.0.0.1", port, caller))

    async with serving(config) as (daemon, port), anyio.create_task_group() as calls:
        with anyio.fail_after(10):
            calls.start_soon(call, endless)
            calls.start_soon(call, endless)
            await logs.wait_for("running flow main", count=2)
            refused = await fake.call("127.0.0.1", port, QUICK)
            assert daemon.calls.active_calls == 2
            for running in list(fake.calls.values()):
                running.caller_hangup("NORMAL_CLEARING")
    assert refused.app_names() == ["hangup"]
    assert_ended_cleanly(refused, "NORMAL_TEMPORARY_FAILURE")
    assert "refused a call: 2 calls are running (limits.max_calls); hanging up " in "\n".join(
        logs.messages()
    )
    assert len(records) == 2
    for record in records:
        assert record.hangup_by == "caller"
        assert record.exit_sent
    assert logs.count("call finished: caller_hangup") == 2
    assert (daemon.calls.total_calls, daemon.calls.refused_calls) == (2, 1)


async def test_when_full_resume_hands_the_call_back_to_the_dialplan(
    tmp_path: Path, logs: LogWatcher
) -> None:
    write_flows(tmp_path / "flows", "main")
    config = make_config(
        tmp_path, "routing: {default: main}\nlimits: {max_calls: 1, when_full: resume}\n"
    )
    fake = FakeFreeSWITCH()
    async with serving(config) as (_, port), anyio.create_task_group() as calls:
        with anyio.fail_after(10):
            calls.start_soon(fake.call, "127.0.0.1", port, Caller(files={"main.wav": math.inf}))
            await logs.wait_for("running flow main")
            refused = await fake.call("127.0.0.1", port, QUICK)
            for running in list(fake.calls.values()):
                running.caller_hangup("NORMAL_CLEARING")
    assert refused.apps == []
    lines = refused.command_lines()
    assert lines[-2:] == ["resume", "exit"]
    assert refused.variables.get("socket_resume") == "true"
    assert logs.count("handing it back to the dialplan (resume)") == 1


async def test_a_call_longer_than_call_timeout_is_hung_up(tmp_path: Path, logs: LogWatcher) -> None:
    write_flows(tmp_path / "flows", "main")
    config = make_config(tmp_path, "routing: {default: main}\nlimits: {call_timeout: 200ms}\n")
    async with serving(config) as (_, port):
        with anyio.fail_after(10):
            record = await FakeFreeSWITCH().call(
                "127.0.0.1", port, Caller(files={"main.wav": math.inf})
            )
    assert_ended_cleanly(record, "ALLOTTED_TIMEOUT")
    assert logs.count("the call is longer than limits.call_timeout (200ms); hanging up") == 1
    assert logs.count("call finished: caller_hangup") == 1


@pytest.mark.parametrize(
    ("limit", "flow_limit"),
    [("limits: {max_steps: 1}\n", ""), ("", "defaults: {max_steps: 1}\n")],
)
async def test_the_step_limit_is_the_lower_of_config_and_flow(
    tmp_path: Path, logs: LogWatcher, limit: str, flow_limit: str
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text(flow_yaml("main", extra=flow_limit), encoding="utf-8")
    config = make_config(tmp_path, "routing: {default: main}\n" + limit)
    async with serving(config) as (_, port):
        with anyio.fail_after(10):
            record = await FakeFreeSWITCH().call("127.0.0.1", port, QUICK)
    assert played(record) == ["main.wav"]
    assert_ended_cleanly(record)
    assert logs.count("call finished: max_steps") == 1


async def test_peers_outside_allowed_peers_are_turned_away(tmp_path: Path) -> None:
    write_flows(tmp_path / "flows", "main")
    config = make_config(
        tmp_path, "routing: {default: main}\n", IVRD_LISTEN_ALLOWED_PEERS="10.0.0.0/8"
    )
    async with serving(config) as (daemon, port):
        with anyio.fail_after(10):
            record = await FakeFreeSWITCH().call("127.0.0.1", port, QUICK)
    assert record.apps == []
    assert not record.exit_sent
    assert daemon.calls.total_calls == 0


async def test_a_shorter_call_timeout_after_a_reload_is_kept_for_new_calls(
    tmp_path: Path, logs: LogWatcher
) -> None:
    """One task watches every call's limit: a call whose limit ends before the one it sleeps
    for (the limit was shortened by a reload) wakes it; the earlier call keeps its own."""
    write_flows(tmp_path / "flows", "main")
    config = make_config(tmp_path, "routing: {default: main}\nlimits: {call_timeout: 1h}\n")
    endless = Caller(files={"main.wav": math.inf})
    fake = FakeFreeSWITCH()
    async with serving(config) as (daemon, port), anyio.create_task_group() as calls:
        records: list[CallRecord] = []

        async def call() -> None:
            records.append(await fake.call("127.0.0.1", port, endless))

        with anyio.fail_after(10):
            calls.start_soon(call)
            await logs.wait_for("running flow main")
            assert config.file is not None
            await anyio.Path(config.file).write_text(
                "listen: {port: 0}\nrouting: {default: main}\nlimits: {call_timeout: 200ms}\n",
                encoding="utf-8",
            )
            await daemon.reload("test")
            await call()  # hung up after 200 ms
            assert daemon.calls.active_calls == 1  # the first call runs on
            for running in list(fake.calls.values()):
                running.caller_hangup("NORMAL_CLEARING")
    later, first = records
    assert_ended_cleanly(later, "ALLOTTED_TIMEOUT")
    assert first.hangup_by == "caller"
    assert logs.count("the call is longer than limits.call_timeout (200ms); hanging up") == 1


async def test_nothing_per_call_is_left_behind_after_batches_of_calls(tmp_path: Path) -> None:
    """What the daemon keeps per call (running calls, their time limits, the tasks they ran,
    metric label sets) is back where it was after each batch: nothing grows with the number of
    calls already served."""
    write_flows(tmp_path / "flows", "main")
    config = make_config(tmp_path, "routing: {default: main}\n")
    fake = FakeFreeSWITCH()
    quick = Caller(file_seconds=0)

    async def batch(port: int) -> list[CallRecord]:
        records: list[CallRecord] = []

        async def call() -> None:
            records.append(await fake.call("127.0.0.1", port, quick))

        async with anyio.create_task_group() as calls:
            for _ in range(10):
                calls.start_soon(call)
        return records

    states = []
    async with serving(config) as (daemon, port):
        for _ in range(3):
            with anyio.fail_after(20):
                records = await batch(port)
                await anyio.wait_all_tasks_blocked()
            assert len(records) == 10
            for record in records:
                assert_ended_cleanly(record)
            states.append(
                (
                    daemon.calls.active_calls,
                    daemon.calls.timed_calls,
                    len(anyio.get_running_tasks()),
                    daemon.metrics.label_sets(),
                )
            )
        assert daemon.calls.total_calls == 30
    assert states[0][:2] == (0, 0)
    assert states[0] == states[1] == states[2]


@pytest.mark.parametrize("http", ["true", "false"])
async def test_calls_are_counted_only_when_the_metrics_can_be_read(
    tmp_path: Path, http: str
) -> None:
    write_flows(tmp_path / "flows", "main")
    config = make_config(tmp_path, f"routing: {{default: main}}\nhttp: {{enabled: {http}}}\n")
    async with serving(config) as (daemon, port):
        with anyio.fail_after(10):
            assert_ended_cleanly(await FakeFreeSWITCH().call("127.0.0.1", port, QUICK))
    counted = sum(daemon.metrics.label_sets().values())
    assert (counted > 0) == (http == "true")


async def test_a_finished_call_is_freed_without_the_garbage_collector(tmp_path: Path) -> None:
    """A call's objects (session, connection, parser, its flow's state) hold no reference
    cycle, so they go as soon as the call ends: a server with many calls does not wait for the
    collector's full passes to give their memory back."""
    write_flows(tmp_path / "flows", "main")
    config = make_config(tmp_path, "routing: {default: main}\n")
    # What the server makes per call (the fake FreeSWITCH, in this process too, is not ours).
    per_call = {
        "OutboundSession",
        "Connection",
        "ProtocolStream",
        "RunningApp",
        "Listeners",
        "EventHooks",
        "Subscriptions",
        "Call",
        "Interrupts",
        "Background",
        "Interpreter",
        "Trace",
        "StepRecord",
        "Frame",
        "CallNamespace",
    }
    gc.collect()
    gc.disable()
    try:
        async with serving(config) as (_, port):
            with anyio.fail_after(10):
                for _ in range(3):
                    assert_ended_cleanly(await FakeFreeSWITCH().call("127.0.0.1", port, QUICK))
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = sorted({type(o).__qualname__ for o in gc.garbage} & per_call)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []
