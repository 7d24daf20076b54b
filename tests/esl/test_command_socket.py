"""The command socket, blocking and async, against a raw peer and against the fake FreeSWITCH."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from _esl_peer import switchboard

from ivrd.esl import (
    AsyncCommandSocket,
    AuthenticationError,
    CommandError,
    CommandSocket,
    ConnectionClosed,
    ESLTimeout,
)
from ivrd.esl.protocol import writers
from ivrd.testing import FakeFreeSWITCH

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def fake_switch(password: str = "ClueCon") -> AsyncIterator[tuple[FakeFreeSWITCH, int]]:
    fake = FakeFreeSWITCH(password=password)
    fake.api_handlers["echo"] = lambda arg: f"+OK {arg}\n"
    async with anyio.create_task_group() as tg:
        port = await tg.start(fake.serve_inbound)
        yield fake, port
        tg.cancel_scope.cancel()


async def test_blocking_api_against_the_fake() -> None:
    def use(port: int) -> list[str]:
        with CommandSocket("127.0.0.1", port) as fs:
            answers = [fs.api("echo hello"), fs.bgapi("echo later")]
            try:
                fs.api("no_such_command")
            except CommandError as exc:
                answers.append(exc.reply)
        return answers

    async with fake_switch() as (_, port):
        echo, job, error = await anyio.to_thread.run_sync(use, port)
    assert echo == "+OK hello\n"
    assert len(job) == 36  # the Job-UUID
    assert error == "-ERR no_such_command Command not found!"


async def test_blocking_wrong_password() -> None:
    def use(port: int) -> str:
        try:
            CommandSocket("127.0.0.1", port, "nope").connect()
        except AuthenticationError as exc:
            return str(exc)
        return "connected"

    async with fake_switch() as (_, port):
        message = await anyio.to_thread.run_sync(use, port)
    assert message == (
        f"FreeSWITCH at 127.0.0.1:{port} refused the password (-ERR invalid): "
        "check the password in event_socket.conf.xml"
    )


async def test_blocking_frames_exactly_and_skips_events() -> None:
    def use(port: int) -> str:
        with CommandSocket("127.0.0.1", port, "pw") as fs:
            return fs.api("status")

    async with switchboard() as board, anyio.create_task_group() as tg:
        results: list[str] = []

        async def client() -> None:
            results.append(await anyio.to_thread.run_sync(use, board.port))

        tg.start_soon(client)
        async with await board.greet("pw") as peer:
            command = await peer.expect("api status")
            assert command.headers.pairs() == []
            await peer.send(
                writers.event_plain([("Event-Name", "HEARTBEAT")]),
                writers.api_response("UP 0 years, 0 days\n"),
            )
            await peer.expect("exit")
            await peer.reply("+OK bye")
    assert results == ["UP 0 years, 0 days\n"]


async def test_blocking_timeout_and_closed_connection() -> None:
    def silent(port: int) -> str:
        fs = CommandSocket("127.0.0.1", port, timeout=0.05)
        fs.connect()
        try:
            fs.api("status")
        except ESLTimeout as exc:
            return str(exc)
        finally:
            fs.close()
        return "answered"

    def dropped(port: int) -> str:
        fs = CommandSocket("127.0.0.1", port)
        fs.connect()
        try:
            fs.api("status")
        except ConnectionClosed as exc:
            return str(exc)
        finally:
            fs.close()
        return "answered"

    async with switchboard() as board, anyio.create_task_group() as tg:
        results: list[str] = []

        async def client() -> None:
            results.append(await anyio.to_thread.run_sync(silent, board.port))
            results.append(await anyio.to_thread.run_sync(dropped, board.port))

        tg.start_soon(client)
        async with await board.greet() as peer:
            await peer.expect("api status")
            await peer.read_eof()  # it gave up and closed
        async with await board.greet() as peer:
            await peer.expect("api status")
    assert results == [
        f"no answer from FreeSWITCH at 127.0.0.1:{board.port} to `api status` within 0.05 s",
        f"FreeSWITCH at 127.0.0.1:{board.port} closed the connection",
    ]


async def test_async_command_socket_api_and_bgapi() -> None:
    async with fake_switch() as (_, port):
        async with AsyncCommandSocket("127.0.0.1", port) as fs:
            assert await fs.api("echo hi") == "+OK hi\n"
            assert await fs.bgapi("echo there") == "+OK there\n"
            with pytest.raises(CommandError) as info:
                await fs.api("no_such_command")
            assert info.value.reply == "-ERR no_such_command Command not found!"
        with pytest.raises(ConnectionClosed) as closed:
            await fs.api("echo again")
    assert str(closed.value) == f"not connected to FreeSWITCH at 127.0.0.1:{port}"
