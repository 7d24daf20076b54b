"""The inbound side: auth, subscriptions, filters, api/bgapi, originate, restarts, rejection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel
import pytest

from ivrd.esl.protocol import EventMessage, commands
from ivrd.testing import Busy, Caller, FakeFreeSWITCH

from .captures import CAPTURES, frames
from .client import Closed, RawClient, Server, outbound_server, run_call

pytestmark = pytest.mark.anyio
trio_only = pytest.mark.parametrize("anyio_backend", ["trio"], indirect=True)


@asynccontextmanager
async def inbound(fake: FakeFreeSWITCH) -> AsyncIterator[int]:
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            port = await tg.start(fake.serve_inbound)
            yield port
            tg.cancel_scope.cancel()


@asynccontextmanager
async def client(port: int, password: str | None = "ClueCon") -> AsyncIterator[RawClient]:
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        peer = RawClient(stream)
        assert (await peer.receive()).content_type == "auth/request"
        if password is not None:
            assert (await peer.request(commands.auth(password))).headers["Reply-Text"] == (
                "+OK accepted"
            )
        yield peer


async def hang_up_at_once(server: Server) -> None:
    await server.start()
    await server.run("answer")
    await server.run("playback", "x.wav")
    await server.send_app("hangup")
    await server.finish()


async def test_auth_replies_are_the_captured_bytes() -> None:
    raw = (CAPTURES / "inbound_session.raw").read_bytes()
    fake = FakeFreeSWITCH()
    async with inbound(fake) as port, client(port, None) as peer:
        assert b"Content-Type: auth/request\n\n" in raw
        assert (await peer.request(b"api status\n\n")).headers["Reply-Text"] == (
            "-ERR command not found"
        )
        await peer.request(commands.auth("ClueCon"))
        reply = await peer.request(commands.event(["ALL"]))
        assert reply.headers["Reply-Text"] == "+OK event listener enabled plain"
        assert all(
            b"".join(f"{k}: {v}\n".encode() for k, v in m.headers.raw_pairs()) in raw
            for m in peer.received[2:]
        )
        await peer.send(commands.exit())
        frames_ = await peer.until_closed()
        assert (
            frames_[-1].text
            == "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
        )
        assert "Controlled-Session-UUID" not in frames_[-1].headers


async def test_bad_password_is_refused_and_the_socket_closed() -> None:
    fake = FakeFreeSWITCH(password="secret")
    async with inbound(fake) as port, client(port, None) as peer:
        reply = await peer.request(commands.auth("ClueCon"))
        assert reply.headers["Reply-Text"] == "-ERR invalid"
        rest = await peer.until_closed()
        assert [m.content_type for m in rest] == ["text/disconnect-notice"]
        assert rest[0].headers["Content-Length"] == "67"


async def test_userauth() -> None:
    fake = FakeFreeSWITCH(users={"ops@example.com": "pw"})
    async with inbound(fake) as port, client(port, None) as peer:
        reply = await peer.request(commands.userauth("ops", "example.com", "pw"))
        assert reply.headers["Reply-Text"] == "+OK accepted"
        assert reply.headers["Allowed-Events"] == "all"


async def test_events_of_calls_reach_subscribers_and_destroy_comes_after_exit() -> None:
    fake = FakeFreeSWITCH()
    async with inbound(fake) as port, client(port) as peer:
        await peer.request(commands.event(["ALL"]))
        record, _ = await run_call(fake, hang_up_at_once, Caller(file_seconds=0.05))
        destroy = await peer.until_event("CHANNEL_DESTROY")
        assert destroy["Unique-ID"] == record.uuid
        names = [e.name for e in peer.events() if e.get("Unique-ID") == record.uuid]
        assert names[0] == "CHANNEL_CREATE"
        assert {"PLAYBACK_START", "PLAYBACK_STOP", "PRIVATE_COMMAND", "CHANNEL_CALLSTATE"} <= set(
            names
        )
        assert names.index("CHANNEL_HANGUP_COMPLETE") < names.index("CHANNEL_DESTROY")
        api_events = list(peer.events("API"))
        assert api_events == []


async def test_bgapi_result_and_json_format() -> None:
    fake = FakeFreeSWITCH()
    fake.api_handlers["greet"] = lambda arg: f"+OK hello {arg}\n"
    async with inbound(fake) as port, client(port) as peer:
        await peer.request(commands.event(["BACKGROUND_JOB", "API"], format="json"))
        reply = await peer.request(commands.bgapi("greet world", job_uuid="my-job"))
        assert reply.headers["Reply-Text"] == "+OK Job-UUID: my-job"
        job = await peer.until_event("BACKGROUND_JOB")
        assert job.format == "json"
        assert (job["Job-UUID"], job["Job-Command"], job["Job-Command-Arg"]) == (
            "my-job",
            "greet",
            "world",
        )
        assert job.body == "+OK hello world\n"
        api = await peer.until_event("API")
        assert api["API-Command-Argument"] == "world"


async def test_background_job_has_the_captured_headers() -> None:
    captured = next(
        m
        for m in frames("inbound_errors")
        if isinstance(m, EventMessage) and m.event.name == "BACKGROUND_JOB"
    )
    fake = FakeFreeSWITCH()
    async with inbound(fake) as port, client(port) as peer:
        await peer.request(commands.event(["ALL"]))
        await peer.request(commands.bgapi("originate loopback/ivr1/default &park()", "j"))
        job = await peer.until_event("BACKGROUND_JOB")
        assert [k for k, _ in job.headers.raw_pairs()] == [
            k for k, _ in captured.event.headers.raw_pairs()
        ]
        assert job.body == "-ERR NO_ROUTE_DESTINATION\n"


async def test_subscription_commands() -> None:
    fake = FakeFreeSWITCH()
    async with inbound(fake) as port, client(port) as peer:
        replies = [
            (await peer.request(commands.build(line))).headers["Reply-Text"]
            for line in [
                "noevents",
                "event plain",
                "event plain CHANNEL_ANSWER NOT_AN_EVENT",
                "nixevent CHANNEL_ANSWER",
                "filter Unique-ID",
                "filter Unique-ID abc",
                "filter delete Unique-ID",
                "noevents",
                "myevents 00000000-0000-0000-0000-000000000000 json",
                "linger",
                "divert_events on",
                "log info",
                "nolog",
                "nolog",
                "sendmsg 1234",
            ]
        ]
    assert replies == [
        "-ERR not listening for events",
        "-ERR no keywords supplied",
        "+OK event listener enabled plain",
        "+OK events nixed",
        "-ERR invalid syntax",
        "+OK filter added. [Unique-ID]=[abc]",
        "+OK filter deleted. [Unique-ID][]",
        "+OK no longer listening for events",
        "-ERR invalid uuid",
        "-ERR not controlling a session",
        "-ERR not controlling a session.",
        "+OK log level info [6]",
        "+OK no longer logging",
        "-ERR not loging",
        "-ERR invalid session id [1234]",
    ]


async def test_filters_and_custom_events() -> None:
    fake = FakeFreeSWITCH()
    async with inbound(fake) as port, client(port) as peer:
        await peer.request(commands.event(["CUSTOM"], subclasses=["acme::ping"]))
        await peer.request(commands.filter("color", "blue"))
        fake.publish({"Event-Subclass": "acme::other", "color": "blue"})
        fake.publish({"Event-Subclass": "acme::ping", "color": "red"})
        fake.publish({"Event-Subclass": "acme::ping", "color": "Blue", "n": "1"}, body="hi")
        event = await peer.until_event("CUSTOM")
        assert (event.subclass, event["n"], event.body) == ("acme::ping", "1", "hi")
        await peer.request(commands.filter("color", "/^gr/"))
        fake.publish({"Event-Subclass": "acme::ping", "color": "green", "n": "2"})
        assert (await peer.until_event("CUSTOM", n="2"))["color"] == "green"
        assert len(peer.events("CUSTOM")) == 2


async def test_myevents_uuid_and_uuid_commands() -> None:
    fake = FakeFreeSWITCH()
    seen: list[str] = []
    async with inbound(fake) as port, client(port) as peer:

        async def script(server: Server) -> None:
            channel_data = await server.start()
            uuid = channel_data.headers["Unique-ID"]
            reply = await peer.request(commands.myevents(uuid, "plain"))
            assert reply.headers["Reply-Text"] == "+OK Events Enabled"
            assert (await peer.request(commands.api(f"uuid_exists {uuid}"))).text == "true"
            dump = (await peer.request(commands.api(f"uuid_dump {uuid}"))).text
            assert f"Unique-ID: {uuid}\n" in dump
            assert (await peer.request(commands.api("show channels count"))).text == "\n1 total.\n"
            reply = await peer.request(commands.execute("answer", uuid=uuid, event_uuid="e1"))
            assert reply.headers["Reply-Text"] == "+OK"
            await server.complete("e1")
            await peer.request(commands.api(f"uuid_kill {uuid} CALL_REJECTED"))
            seen.append(uuid)
            await server.finish()

        record, _ = await run_call(fake, script)
        await peer.until_event("CHANNEL_DESTROY")
    assert record.hangup_cause == "CALL_REJECTED"
    assert {e["Unique-ID"] for e in peer.events()} == set(seen)


async def test_originate_into_the_socket_answers_when_the_daemon_answers() -> None:
    answered = anyio.Event()

    async def daemon(client: RawClient) -> None:
        server = Server(client)
        await server.start()
        await server.run("answer")
        await answered.wait()
        await server.finish()

    async with outbound_server(daemon) as daemon_port:
        fake = FakeFreeSWITCH(socket_address=("127.0.0.1", daemon_port))
        async with inbound(fake) as port, client(port) as peer:
            await peer.request(commands.event(["ALL"]))
            reply = await peer.request(
                commands.api("originate {origination_uuid=abc}loopback/ivr1/default &park()")
            )
            assert reply.text == "+OK abc\n"
            # Events fired while `api` ran (the B leg's answer) queue behind its reply.
            execute = await peer.until_event("CHANNEL_EXECUTE", Application="answer")
            assert peer.received.index(reply) < next(
                i
                for i, m in enumerate(peer.received)
                if isinstance(m, EventMessage) and m.event is execute
            )
            # The A leg's uuid reaches the socket's channel, as on a loopback pair.
            dtmf = await peer.request(commands.api("uuid_send_dtmf abc 5"))
            assert dtmf.text.startswith("+OK ")
            assert (await peer.until_event("DTMF"))["DTMF-Source"] == "UNKNOWN"
            assert (await peer.request(commands.api("uuid_kill abc"))).text == "+OK\n"
            answered.set()
            destroy = await peer.until_event("CHANNEL_DESTROY")
            assert destroy["variable_origination_uuid"] == "abc"
    record = fake.records[0]
    assert record.variables["other_loopback_leg_uuid"] == "abc"
    assert record.hangup_by == "caller"


async def test_originate_failures() -> None:
    fake = FakeFreeSWITCH(originate_caller=Caller(bridge={"user/busy": Busy(ring=0.01)}))
    async with inbound(fake) as port, client(port) as peer:
        busy = await peer.request(commands.api("originate user/busy &park()"))
        assert busy.text == "-ERR USER_BUSY\n"
        nobody = await peer.request(commands.api("originate loopback/ivr1 &park()"))
        assert nobody.text == "-ERR NO_ROUTE_DESTINATION\n"
        async with anyio.create_task_group():
            listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
            refused_port = listener.extra(anyio.abc.SocketAttribute.local_port)
            await listener.aclose()
        fake.socket_address = ("127.0.0.1", refused_port)
        refused = await peer.request(commands.api("originate loopback/ivr1 &park()"))
        assert refused.text == "-ERR NORMAL_CLEARING\n"


async def test_api_texts() -> None:
    fake = FakeFreeSWITCH()

    async def later(arg: str) -> str:
        await anyio.lowlevel.checkpoint()
        return f"later {arg}"

    fake.api_handlers["later"] = later
    async with inbound(fake) as port, client(port) as peer:
        status = (await peer.request(commands.api("status"))).text
        assert status.startswith("UP 0 years, 0 days")
        assert "is ready\n" in status
        assert (await peer.request(commands.api("uptime"))).text.strip().isdigit()
        assert (await peer.request(commands.api("nope"))).text == "-ERR nope Command not found!\n"
        assert (await peer.request(commands.api("later x"))).text == "later x"
        assert (await peer.request(commands.api("uuid_kill nope"))).text == (
            "-ERR No such channel!\n"
        )
        assert (await peer.request(commands.api("global_setvar a=b"))).text == "+OK\n"
        assert (await peer.request(commands.api("eval ${a}-x"))).text == "b-x"


async def test_log_lines_follow_applications() -> None:
    fake = FakeFreeSWITCH()
    async with inbound(fake) as port, client(port) as peer:
        reply = await peer.request(commands.log(7))
        assert reply.headers["Reply-Text"] == "+OK log level 7 [7]"
        await run_call(fake, hang_up_at_once, Caller(file_seconds=0.01))
        line = await peer.wait_for(lambda m: m.content_type == "log/data")
        assert line.text.startswith("EXECUTE [depth=0] loopback/ivr1-b answer()")
        assert line.headers["Log-Level"] == "7"


async def test_rude_rejection() -> None:
    fake = FakeFreeSWITCH()
    fake.rude_rejection = True
    async with inbound(fake) as port, await anyio.connect_tcp("127.0.0.1", port) as stream:
        peer = RawClient(stream)
        frames_ = await peer.until_closed()
    assert [m.content_type for m in frames_] == ["text/rude-rejection"]
    assert frames_[0].text == "Access Denied, go away.\n"


@trio_only
async def test_restart_drops_clients_refuses_then_accepts_again() -> None:
    fake = FakeFreeSWITCH()
    async with inbound(fake) as port:
        async with client(port) as peer, anyio.create_task_group() as tg:
            tg.start_soon(fake.restart, 5.0)
            notice = await peer.receive()
            assert notice.text == "The system is being shut down.\n"
            with pytest.raises(Closed):
                await peer.receive()
            await anyio.sleep(1)
            with pytest.raises(OSError):
                await anyio.connect_tcp("127.0.0.1", port)
        began = anyio.current_time()
        async with client(port):
            pass
        assert began >= 5.0
