"""`ivrd api` and `ivrd events` against the fake FreeSWITCH's inbound port."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from click.testing import CliRunner, Result

from ivrd.cli import main
from ivrd.esl.tail import format_event
from ivrd.testing import FakeFreeSWITCH

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def fake_switch() -> AsyncIterator[tuple[FakeFreeSWITCH, int]]:
    fake = FakeFreeSWITCH(password="s3cret")
    fake.api_handlers["echo"] = lambda arg: f"+OK {arg}\n"
    fake.api_handlers["fail"] = lambda arg: "-ERR it went wrong\n"
    async with anyio.create_task_group() as tg:
        port = await tg.start(fake.serve_inbound)
        yield fake, port
        tg.cancel_scope.cancel()


async def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run the CLI in a worker thread (it runs its own event loop) while the fake serves."""
    runner = CliRunner()
    return await anyio.to_thread.run_sync(lambda: runner.invoke(main, list(args), env=env))


async def test_api_prints_the_answer_with_the_password_from_the_environment() -> None:
    async with fake_switch() as (_, port):
        result = await invoke(
            "api", "--port", str(port), "echo", "a", "b", env={"IVRD_ESL_PASSWORD": "s3cret"}
        )
    assert (result.exit_code, result.stdout, result.stderr) == (0, "+OK a b\n", "")


async def test_api_err_exits_1_with_the_text_on_stderr() -> None:
    async with fake_switch() as (_, port):
        result = await invoke("api", "--port", str(port), "--password", "s3cret", "fail")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "-ERR it went wrong\n")


async def test_api_wrong_password_and_no_freeswitch_exit_2() -> None:
    async with fake_switch() as (_, port):
        wrong = await invoke("api", "--port", str(port), "--password", "guess", "status")
    nobody = await invoke("api", "--port", str(port), "status")
    assert wrong.exit_code == 2
    assert wrong.stderr == (
        f"ivrd api: FreeSWITCH at 127.0.0.1:{port} refused the password (-ERR invalid): "
        "check the password in event_socket.conf.xml\n"
    )
    assert nobody.exit_code == 2
    assert nobody.stderr == (
        f"ivrd api: FreeSWITCH at 127.0.0.1:{port} refused the connection: "
        "is mod_event_socket loaded and listening on that address?\n"
    )


async def test_events_prints_each_event_until_freeswitch_goes_away() -> None:
    async with fake_switch() as (fake, port):
        subscribed = anyio.Event()
        attach = fake.attach

        def attached(listener: Any) -> None:
            attach(listener)
            if listener.subscription.enabled:  # after its `event` command
                subscribed.set()

        fake.attach = attached  # type: ignore[method-assign]
        async with anyio.create_task_group() as tg:
            results: list[Result] = []

            async def run() -> None:
                results.append(
                    await invoke(
                        "events",
                        "--port",
                        str(port),
                        "--password",
                        "s3cret",
                        "--event",
                        "acme::ping",
                        "--json",
                    )
                )

            tg.start_soon(run)
            with anyio.fail_after(5):
                await subscribed.wait()
            fake.publish({"Event-Subclass": "acme::ping", "x": "1"}, body="hello")
            fake.publish({"Event-Subclass": "acme::other", "x": "2"})
            fake.drop_inbound()
    [result] = results
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert (event["Event-Name"], event["Event-Subclass"], event["x"], event["_body"]) == (
        "CUSTOM",
        "acme::ping",
        "1",
        "hello",
    )
    assert result.exit_code == 1
    assert result.stderr == f"ivrd events: FreeSWITCH at 127.0.0.1:{port} closed the connection\n"


async def test_events_refuses_a_malformed_filter() -> None:
    result = await invoke("events", "--filter", "Caller-Context")
    assert result.exit_code == 2
    assert "a filter is HEADER=VALUE (e.g. Caller-Context=default), not 'Caller-Context'" in (
        result.stderr
    )


def test_format_event_reads_like_fs_cli() -> None:
    from ivrd.esl.protocol import Event, Headers

    event = Event(Headers([("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", "j1")]), "+OK\n")
    assert format_event(event) == "Event-Name: BACKGROUND_JOB\nJob-UUID: j1\n\n+OK\n"
    assert json.loads(format_event(event, as_json=True)) == {
        "Event-Name": "BACKGROUND_JOB",
        "Job-UUID": "j1",
        "_body": "+OK\n",
    }
