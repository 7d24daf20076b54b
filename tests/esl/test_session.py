"""OutboundSession over a real socket, FreeSWITCH's side played frame by frame (see _esl_peer)."""

from __future__ import annotations

import logging
import uuid

import anyio
import pytest
from _esl_peer import (
    CALL_UUID,
    Peer,
    assert_nothing_sent,
    channel_data,
    dial,
    event,
    serving,
)

from ivrd.esl import (
    CallHangup,
    CommandError,
    ConnectionClosed,
    Endpoint,
    Event,
    OutboundSession,
)
from ivrd.esl.protocol import writers

pytestmark = pytest.mark.anyio


async def answer_and_hang_up(peer: Peer) -> None:
    """The end of most scripts: the caller hangs up, FreeSWITCH reports it, we get `exit`."""
    await peer.hangup()
    await peer.call_gone()
    await peer.goodbye()


async def test_setup_is_connect_with_myevents_linger_divert_before_any_reply() -> None:
    """`connect` first (its reply is the channel data); the other three need nothing from it or
    from each other's answers, so all four go out at once and cost one round trip (FreeSWITCH
    reads them one by one and answers in order); the handler starts after the last reply."""
    seen: list[object] = []

    async def handler(session: OutboundSession) -> None:
        seen.append(session.uuid)
        seen.append(session.variable("current_application_data"))
        seen.append(session.variable("variable_socket_host"))
        seen.append(session.channel_data["Caller-Caller-ID-Number"])
        await session.wait_for("CHANNEL_HANGUP_COMPLETE")

    async with serving(handler) as server, dial(server) as peer:
        await peer.expect("connect")
        await peer.expect("myevents")
        await peer.expect("linger")
        await peer.expect("divert_events on")
        await assert_nothing_sent(peer)
        await peer.send(writers.channel_data_reply(channel_data(socket_host="127.0.0.1")))
        await assert_nothing_sent(peer)
        await peer.reply("+OK Events Enabled")
        await peer.reply("+OK will linger")
        await assert_nothing_sent(peer)
        assert seen == []  # the handler starts only after the last reply
        await peer.reply("+OK events diverted")
        await assert_nothing_sent(peer)
        assert seen == [CALL_UUID, "127.0.0.1:8084 async full", "127.0.0.1", "0000000000"]
        await answer_and_hang_up(peer)


async def test_json_events_and_linger_options() -> None:
    results: list[object] = []

    async def handler(session: OutboundSession) -> None:
        results.append(await session.answer())

    async with (
        serving(handler, event_format="json", linger=5, divert_events=False) as server,
        dial(server) as peer,
    ):
        await peer.expect("connect")
        await peer.send(writers.channel_data_reply(channel_data()))
        await peer.expect("myevents json")
        await peer.reply("+OK Events Enabled")
        await peer.expect("linger 5")
        await peer.reply("+OK will linger 5 seconds")
        command = await peer.expect_execute("answer")
        await peer.reply()
        pairs = [
            ("Event-Name", "CHANNEL_EXECUTE_COMPLETE"),
            ("Unique-ID", CALL_UUID),
            ("Application", "answer"),
            ("Application-Response", "_none_"),
            ("Application-UUID", command.headers["Event-UUID"]),
        ]
        await peer.send(writers.event_json(pairs))
        await peer.goodbye()
    assert results[0].application == "answer"  # type: ignore[attr-defined]


async def test_each_application_is_one_sendmsg_with_event_lock_and_a_fresh_event_uuid() -> None:
    async def handler(session: OutboundSession) -> None:
        await session.answer()
        await session.playback("tone_stream://%(500,0,440)")

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        answer = await peer.expect("sendmsg")
        first = answer.headers["Event-UUID"]
        assert answer.headers.pairs() == [
            ("call-command", "execute"),
            ("execute-app-name", "answer"),
            ("event-lock", "true"),
            ("Event-UUID", first),
        ]
        assert uuid.UUID(first).version == 4
        await peer.reply()
        await assert_nothing_sent(peer)  # one application at a time: playback waits
        await peer.complete(answer)
        playback = await peer.expect("sendmsg")
        second = playback.headers["Event-UUID"]
        assert playback.headers.pairs() == [
            ("call-command", "execute"),
            ("execute-app-name", "playback"),
            ("execute-app-arg", "tone_stream://%(500,0,440)"),
            ("event-lock", "true"),
            ("Event-UUID", second),
        ]
        assert second != first
        await peer.reply()
        await peer.complete(playback, "FILE PLAYED")
        await peer.goodbye()


async def test_completion_is_matched_by_application_uuid_not_by_name_or_order() -> None:
    results: list[object] = []

    async def handler(session: OutboundSession) -> None:
        result = await session.playback("a.wav")
        results.append((result.response, result.variable("playback_ms")))

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        command = await peer.expect_execute("playback", "a.wav")
        # An event between the sendmsg and its +OK, as in the captures.
        await peer.send(event("CHANNEL_PARK"))
        await peer.reply()
        # The socket application's completion, and a playback's with another uuid.
        await peer.send(
            event("CHANNEL_EXECUTE_COMPLETE", Application="socket", Application_UUID="x"),
            event(
                "CHANNEL_EXECUTE_COMPLETE",
                Application="playback",
                Application_UUID=str(uuid.uuid4()),
            ),
        )
        await assert_nothing_sent(peer)
        assert results == []
        await peer.complete(command, "FILE PLAYED", playback_ms="500")
        await peer.goodbye()
    assert results == [("FILE PLAYED", "500")]


async def test_an_enqueued_application_goes_out_with_the_next_and_runs_before_it() -> None:
    results: list[object] = []

    async def handler(session: OutboundSession) -> None:
        session.enqueue("multiset", "^^|playback_terminators=none")
        results.append("enqueued")
        await session.wait_for("CHANNEL_PARK")
        result = await session.answer()
        results.append(result.application)

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        await assert_nothing_sent(peer)  # held for the next command
        assert results == ["enqueued"]
        await peer.send(event("CHANNEL_PARK"))
        settings = await peer.expect_execute("multiset", "^^|playback_terminators=none")
        answer = await peer.expect_execute("answer")
        assert answer.headers["Event-UUID"] != settings.headers["Event-UUID"]
        await peer.reply()
        await peer.reply()
        # Its completion comes first (FreeSWITCH runs them in order) and ends no wait.
        await peer.complete(settings)
        await assert_nothing_sent(peer)
        assert results == ["enqueued"]
        await peer.complete(answer)
        await peer.goodbye()
    assert results == ["enqueued", "answer"]


@pytest.mark.parametrize("next_command", ["an application", "api"])
async def test_an_enqueued_application_refused_fails_the_application_after_it(
    next_command: str,
) -> None:
    outcome: list[object] = []

    async def handler(session: OutboundSession) -> None:
        session.enqueue("multiset", "^^|a=1")
        if next_command == "api":
            outcome.append(await session.api("uptime"))  # with it, and answered after it
        try:
            await session.answer()
        except CommandError as exc:
            outcome.append((exc.command, exc.reply))
        await session.playback("a.wav")  # reported once: the call goes on
        outcome.append("played")

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        await peer.expect_execute("multiset", "^^|a=1")
        if next_command == "api":
            await peer.expect("api uptime")
            await peer.reply("-ERR no reply")
            await peer.send(writers.api_response("290\n"))
        else:
            await peer.expect_execute("answer")
            await peer.reply("-ERR no reply")
            await peer.reply()
        playback = await peer.expect_execute("playback", "a.wav")
        await peer.reply()
        await peer.complete(playback, "FILE PLAYED")
        await peer.goodbye()
    expected = [("sendmsg multiset", "-ERR no reply"), "played"]
    assert outcome == (["290\n", *expected] if next_command == "api" else expected)


@pytest.mark.parametrize("reply", ["+OK", "-ERR no permission"])
async def test_stop_events_goes_with_the_next_command_and_a_refusal_is_only_logged(
    reply: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(session: OutboundSession) -> None:
        session.stop_events("DTMF", "CHANNEL_PARK")
        await session.answer()

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        await peer.expect("nixevent DTMF CHANNEL_PARK")
        answer = await peer.expect_execute("answer")  # sent before the nixevent's reply
        await peer.reply(reply)
        await peer.reply()
        await peer.complete(answer)
        await peer.goodbye()
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused == ([] if reply == "+OK" else [f"FreeSWITCH refused nixevent: {reply}"])


async def test_what_is_held_for_the_next_command_is_dropped_when_none_follows() -> None:
    async def handler(session: OutboundSession) -> None:
        session.stop_events("DTMF")
        session.enqueue("multiset", "^^|a=1")
        await session.wait_for("CHANNEL_PARK")  # the caller hangs up instead

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        await assert_nothing_sent(peer)
        await peer.hangup()
        await peer.call_gone()
        await peer.goodbye()  # `exit` is the next command: nothing held went with it


async def test_enqueue_after_the_hangup_raises_call_hangup_and_sends_nothing() -> None:
    outcome: list[object] = []

    async def handler(session: OutboundSession) -> None:
        with pytest.raises(CallHangup):
            await session.wait_for("CHANNEL_PARK")
        try:
            session.enqueue("multiset", "^^|a=1")
        except CallHangup as exc:
            outcome.append(exc.cause)

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        await peer.hangup("USER_BUSY")
        await peer.call_gone("USER_BUSY")
        await peer.goodbye()
    assert outcome == ["USER_BUSY"]


async def test_the_caller_hanging_up_mid_playback_raises_call_hangup_with_the_cause() -> None:
    outcome: list[object] = []

    async def handler(session: OutboundSession) -> None:
        await session.answer()
        try:
            await session.playback("long.wav")
        except CallHangup as exc:
            outcome.append((exc.cause, exc.waiting_for, str(exc)))
        try:
            await session.playback("again.wav")
        except CallHangup as exc:
            outcome.append(exc.cause)

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        answer = await peer.expect_execute("answer")
        await peer.reply()
        await peer.complete(answer)
        playback = await peer.expect_execute("playback", "long.wav")
        await peer.reply()
        await peer.hangup("NORMAL_CLEARING")
        await assert_nothing_sent(peer)  # no sendmsg for the second playback
        assert outcome == [
            (
                "NORMAL_CLEARING",
                "playback",
                "the call hung up (NORMAL_CLEARING) while waiting for playback",
            ),
            "NORMAL_CLEARING",
        ]
        await peer.complete(playback, "PLAYBACK ERROR")
        await peer.call_gone()
        await peer.goodbye()


@pytest.mark.parametrize("notice_first", [True, False])
async def test_exit_only_after_hangup_complete_and_the_disconnect_notice(
    notice_first: bool,
) -> None:
    async def handler(session: OutboundSession) -> None:
        await session.hangup()

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        hangup = await peer.expect_execute("hangup")
        await peer.reply()
        # The hangup application's own completion never comes; CHANNEL_HANGUP ends it.
        await peer.hangup()
        complete = event("CHANNEL_HANGUP_COMPLETE", Hangup_Cause="NORMAL_CLEARING")
        notice = writers.disconnect_notice(CALL_UUID, linger=True)
        first, second = (notice, complete) if notice_first else (complete, notice)
        await peer.send(first)
        await assert_nothing_sent(peer)
        await peer.send(second)
        await peer.goodbye()
    assert hangup.headers.get("execute-app-arg") is None


async def test_hangup_with_a_cause_and_on_a_dead_call() -> None:
    results: list[object] = []

    async def handler(session: OutboundSession) -> None:
        first = await session.hangup("USER_BUSY")
        results.append(first.event.name if first else None)
        results.append(await session.hangup())
        results.append(session.hangup_cause)

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        await peer.expect_execute("hangup", "USER_BUSY")
        await peer.reply()
        await peer.hangup("USER_BUSY")
        await peer.call_gone("USER_BUSY")
        await peer.goodbye()
    assert results == ["CHANNEL_HANGUP", None, "USER_BUSY"]


async def test_an_unknown_application_ends_with_call_hangup_destination_out_of_order() -> None:
    outcome: list[str] = []

    async def handler(session: OutboundSession) -> None:
        try:
            await session.execute("no_such_app", "x")
        except CallHangup as exc:
            outcome.append(exc.cause)

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        await peer.expect_execute("no_such_app", "x")
        await peer.reply()  # FreeSWITCH accepts it...
        await peer.hangup("DESTINATION_OUT_OF_ORDER")  # ...then hangs up, with no completion
        await peer.call_gone("DESTINATION_OUT_OF_ORDER")
        await peer.goodbye()
    assert outcome == ["DESTINATION_OUT_OF_ORDER"]


async def test_err_replies_raise_command_error_with_the_text() -> None:
    outcome: list[object] = []

    async def handler(session: OutboundSession) -> None:
        try:
            await session.answer()
        except CommandError as exc:
            outcome.append((exc.command, exc.reply))
        try:
            await session.api("bogus")
        except CommandError as exc:
            outcome.append((exc.command, exc.reply, str(exc)))
        outcome.append(await session.api("uptime"))
        outcome.append(await session.getvar("loopback_leg"))

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        await peer.expect_execute("answer")
        await peer.reply("-ERR invalid session id [00000000-0000-0000-0000-000000000000]")
        await peer.expect("api bogus")
        await peer.send(writers.api_response("-ERR bogus Command not found!\n"))
        await peer.expect("api uptime")
        await peer.send(writers.api_response("290\n"))
        await peer.expect("getvar loopback_leg")
        await peer.reply("B")
        await peer.goodbye()
    assert outcome == [
        ("sendmsg", "-ERR invalid session id [00000000-0000-0000-0000-000000000000]"),
        ("api bogus", "-ERR bogus Command not found!", "api bogus: -ERR bogus Command not found!"),
        "290\n",
        "B",
    ]


async def test_a_dropped_connection_unblocks_the_application_and_the_server_goes_on() -> None:
    outcome: list[object] = []

    async def handler(session: OutboundSession) -> None:
        try:
            await session.playback("long.wav")
        except ConnectionClosed as exc:
            outcome.append(str(exc))
            return
        outcome.append("second call")

    async with serving(handler) as server:
        async with dial(server) as peer:
            await peer.handshake()
            await peer.expect_execute("playback", "long.wav")
            await peer.reply()
        async with dial(server) as peer:
            await peer.handshake()
            command = await peer.expect_execute("playback", "long.wav")
            await peer.reply()
            await peer.complete(command)
            await peer.goodbye()
        assert server.total_calls == 2
    assert str(outcome[0]).startswith("FreeSWITCH at 127.0.0.1:")
    assert str(outcome[0]).endswith(" closed the connection")
    assert outcome[1] == "second call"


async def test_a_cancelled_reply_waiter_keeps_its_place_in_the_queue() -> None:
    answers: list[str] = []
    scope = anyio.CancelScope()

    async def handler(session: OutboundSession) -> None:
        with scope:
            answers.append(await session.api("first"))
        answers.append(await session.api("second"))

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        await peer.expect("api first")
        scope.cancel()
        await peer.expect("api second")
        await peer.send(writers.api_response("one\n"), writers.api_response("two\n"))
        await peer.goodbye()
    assert answers == ["two\n"]


async def test_the_handler_failing_logs_once_hangs_up_politely_then_exits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(session: OutboundSession) -> None:
        raise RuntimeError("flow bug")

    with caplog.at_level(logging.INFO, logger="ivrd"):
        async with serving(handler) as server, dial(server) as peer:
            await peer.handshake()
            kill = await peer.read_command()
            assert kill.line == f"api uuid_kill {CALL_UUID} NORMAL_TEMPORARY_FAILURE"
            await peer.send(writers.api_response("+OK\n"))
            await peer.hangup("NORMAL_TEMPORARY_FAILURE")
            await assert_nothing_sent(peer)
            await peer.call_gone("NORMAL_TEMPORARY_FAILURE")
            await peer.goodbye()
    errors = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(errors) == 1
    assert errors[0].getMessage() == "call handler failed"
    assert errors[0].call_uuid == CALL_UUID  # type: ignore[attr-defined]
    assert errors[0].exc_info is not None
    assert str(errors[0].exc_info[1]) == "flow bug"


async def test_hooks_run_concurrently_catch_all_first_and_may_call_api() -> None:
    order: list[str] = []
    sessions: list[OutboundSession] = []
    release = anyio.Event()

    async def handler(session: OutboundSession) -> None:
        @session.on_event
        async def everything(event: Event) -> None:
            order.append(f"all:{event.name}")

        @session.on("DTMF")
        async def dtmf(event: Event) -> None:
            order.append(f"dtmf:{event['DTMF-Digit']}")
            order.append(await session.api(f"uuid_getvar {session.uuid} x"))

        async def maintenance(event: Event) -> None:
            order.append(f"custom:{event.subclass}")
            await release.wait()  # a slow hook: holds up nobody

        session.on("CUSTOM", maintenance, subclass="conference::maintenance")
        sessions.append(session)
        await session.playback("a.wav")
        order.append("played")

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        command = await peer.expect_execute("playback", "a.wav")
        await peer.reply()
        await peer.send(
            event("CUSTOM", Event_Subclass="conference::maintenance"),
            event("CUSTOM", Event_Subclass="sofia::register"),
            event("DTMF", DTMF_Digit="1"),
        )
        await peer.expect(f"api uuid_getvar {CALL_UUID} x")
        await peer.send(writers.api_response("42"))
        await peer.complete(command)
        await assert_nothing_sent(peer)

        # Each event's hooks run in a task of their own: catch-all first, then the named
        # ones; tasks of different events interleave as the scheduler likes.
        def after(first: str, then: str) -> bool:
            return order.index(first) < order.index(then)

        assert sorted(order) == sorted(
            [
                "all:CUSTOM",
                "all:CUSTOM",
                "custom:conference::maintenance",
                "all:DTMF",
                "dtmf:1",
                "42",
                "all:CHANNEL_EXECUTE_COMPLETE",
                "played",
            ]
        )
        assert after("all:CUSTOM", "custom:conference::maintenance")
        assert after("all:DTMF", "dtmf:1")
        assert after("dtmf:1", "42")
        # The handler is done, but a hook still runs: `exit` waits for it.
        assert sessions[0].backlog == (1, 0)
        release.set()
        await peer.goodbye()


async def test_listeners_see_events_in_order_as_read_and_can_be_removed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []
    before_hooks: list[bool] = []

    async def handler(session: OutboundSession) -> None:
        def keys(event: Event) -> None:
            seen.append(f"key {event['DTMF-Digit']}")

        def broken(event: Event) -> None:
            raise RuntimeError("listener bug")

        def anything(event: Event) -> None:
            seen.append(event.name)

        async def hook(event: Event) -> None:
            before_hooks.append(f"key {event['DTMF-Digit']}" in seen)

        session.listen(broken, "DTMF")
        stop_keys = session.listen(keys, "DTMF", "DTMF")  # a name given twice counts once
        session.listen(anything, "DTMF", "CHANNEL_EXECUTE_COMPLETE")
        session.on("DTMF", hook)
        await session.playback("a.wav")
        stop_keys()
        await session.playback("b.wav")

    with caplog.at_level(logging.ERROR, logger="ivrd"):
        async with serving(handler) as server, dial(server) as peer:
            await peer.handshake()
            command = await peer.expect_execute("playback", "a.wav")
            await peer.reply()
            await peer.send(event("DTMF", DTMF_Digit="1"), event("DTMF", DTMF_Digit="2"))
            await peer.complete(command)
            command = await peer.expect_execute("playback", "b.wav")
            await peer.reply()
            await peer.send(event("DTMF", DTMF_Digit="3"))
            await peer.complete(command)
            await answer_and_hang_up(peer)
    # In the order FreeSWITCH sent them, each listener in the order registered; a failing one
    # is logged and stops nobody; a removed one hears nothing more.
    assert seen == [
        "key 1",
        "DTMF",
        "key 2",
        "DTMF",
        "CHANNEL_EXECUTE_COMPLETE",
        "DTMF",
        "CHANNEL_EXECUTE_COMPLETE",
    ]
    # A hook's task runs after the listeners (and after `keys` was removed, hears key 3 alone).
    assert before_hooks == [True, True, False]
    failures = [r.getMessage() for r in caplog.records if "listener" in r.getMessage()]
    assert len(failures) == 3
    assert failures[0].startswith("event listener ")
    assert failures[0].endswith(" failed on DTMF")


async def test_bgapi_subscribes_to_its_jobs_once_and_matches_the_job_uuid() -> None:
    results: list[object] = []

    async def handler(session: OutboundSession) -> None:
        results.append(await session.bgapi("status"))
        try:
            await session.bgapi("originate loopback/busy &park")
        except CommandError as exc:
            results.append(exc.reply)

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        await peer.expect("event plain BACKGROUND_JOB")
        await peer.reply("+OK event listener enabled plain")
        for output in ("UP 0 years\n", "-ERR USER_BUSY\n"):
            command = await peer.read_command()
            assert command.name == "bgapi"
            job = command.headers["Job-UUID"]
            await peer.reply(f"+OK Job-UUID: {job}")
            await peer.send(
                event("BACKGROUND_JOB", body="ignored\n", Job_UUID=str(uuid.uuid4())),
                writers.event_plain([("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", job)], output),
            )
        await peer.goodbye()
    assert results == ["UP 0 years\n", "-ERR USER_BUSY"]


async def test_uuid_break_marks_the_running_application_as_interrupted() -> None:
    results: list[object] = []

    async def handler(session: OutboundSession) -> None:
        async with anyio.create_task_group() as tg:

            async def play() -> None:
                results.append(await session.playback("menu.wav"))

            tg.start_soon(play)
            await session.wait_for("CHANNEL_EXECUTE")
            await session.uuid_break()
        results.append(await session.playback("next.wav"))

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        menu = await peer.expect_execute("playback", "menu.wav")
        await peer.reply()
        await peer.send(event("CHANNEL_EXECUTE", Application="playback"))
        await peer.expect(f"api uuid_break {CALL_UUID}")
        await peer.send(writers.api_response("+OK\n"))
        await peer.complete(menu, "FILE PLAYED")
        following = await peer.expect_execute("playback", "next.wav")
        await peer.reply()
        await peer.complete(following, "FILE PLAYED")
        await peer.goodbye()
    interrupted = [result.interrupted for result in results]  # type: ignore[attr-defined]
    assert interrupted == [True, False]


async def test_play_and_get_digits_returns_the_digits_and_their_status() -> None:
    results: list[object] = []

    async def handler(session: OutboundSession) -> None:
        results.append(
            await session.play_and_get_digits(
                "tone_stream://%(3000,0,440)",
                "tone_stream://%(300,0,300)",
                min=1,
                max=5,
                tries=1,
                timeout=8000,
                variable="pagd_digits",
                digit_timeout=3000,
            )
        )
        results.append(await session.read("enter.wav", variable="v"))

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        pagd = await peer.expect_execute(
            "play_and_get_digits",
            "1 5 1 8000 # tone_stream://%(3000,0,440) tone_stream://%(300,0,300) "
            "pagd_digits \\d+ 3000",
        )
        await peer.reply()
        for digit in "1234#":
            await peer.send(event("DTMF", DTMF_Digit=digit))
        await peer.complete(
            pagd, pagd_digits="1234", read_result="success", read_terminator_used="#"
        )
        read = await peer.expect_execute("read", "1 2 enter.wav v 5000 #")
        await peer.reply()
        await peer.complete(read, read_result="timeout")
        await peer.goodbye()
    statuses = [(r.digits, r.status, r.terminator) for r in results]  # type: ignore[attr-defined]
    assert statuses == [("1234", "ok", "#"), ("", "silence", None)]


async def test_application_methods_send_librevox_s_arguments() -> None:
    async def handler(session: OutboundSession) -> None:
        await session.bridge(
            [Endpoint("user/1000", {"leg_timeout": 20})], ["user/1001"], continue_on_fail=True
        )
        await session.set("foo", "bar baz")
        await session.multiset({"a": 1, "b": "2"})
        await session.export("foo", local=False)
        await session.bind_meta_app(key=2, listen_to="a", respond_on="s", application="park")
        await session.respond(486)
        await session.sleep(250)
        await session.send_dtmf("123", duration_ms=200)
        await session.break_(all=True)

    expected = [
        ("bridge", "{continue_on_fail=true}[leg_timeout=20]user/1000|user/1001"),
        ("set", "foo=bar baz"),
        ("multiset", "^^|a=1|b=2"),
        ("export", "nolocal:foo"),
        ("bind_meta_app", "2 a s park"),
        ("respond", "486"),
        ("sleep", "250"),
        ("send_dtmf", "123@200"),
        ("break", "all"),
    ]
    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        for app, arg in expected:
            command = await peer.expect_execute(app, arg)
            await peer.reply()
            await peer.complete(command)
        await peer.goodbye()


async def test_concurrent_applications_on_one_session_run_one_after_another() -> None:
    async def handler(session: OutboundSession) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(session.playback, "one.wav")
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(session.playback, "two.wav")

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        one = await peer.expect_execute("playback", "one.wav")
        await peer.reply()
        await assert_nothing_sent(peer)
        await peer.complete(one)
        two = await peer.expect_execute("playback", "two.wav")
        await peer.reply()
        await peer.complete(two)
        await peer.goodbye()


async def test_wait_for_ends_with_call_hangup() -> None:
    outcome: list[object] = []

    async def handler(session: OutboundSession) -> None:
        digit = await session.wait_for("DTMF", where=lambda e: e["DTMF-Digit"] == "5")
        outcome.append(digit["DTMF-Digit"])
        try:
            await session.wait_for("DTMF")
        except CallHangup as exc:
            outcome.append(exc.cause)

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        await anyio.wait_all_tasks_blocked()  # the handler is waiting: events reach it
        await peer.send(event("DTMF", DTMF_Digit="4"), event("DTMF", DTMF_Digit="5"))
        await answer_and_hang_up(peer)
    assert outcome == ["5", "NORMAL_CLEARING"]


async def test_bad_framing_from_freeswitch_closes_the_call_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcome: list[str] = []

    async def handler(session: OutboundSession) -> None:
        try:
            await session.answer()
        except ConnectionClosed as exc:
            outcome.append(str(exc))

    with caplog.at_level(logging.ERROR, logger="ivrd"):
        async with serving(handler) as server, dial(server) as peer:
            await peer.handshake()
            await peer.expect_execute("answer")
            await peer.send(b"Content-Length: nope\n\n")
            await peer.read_eof()
    assert outcome[0].endswith("broke the protocol: FreeSWITCH sent a bad Content-Length: 'nope'")
    lines = [record.getMessage() for record in caplog.records]
    assert any("broke the event-socket protocol" in line for line in lines)
    assert caplog.records[0].call_uuid == CALL_UUID  # type: ignore[attr-defined]


async def test_disconnect_half_closes_and_reads_what_freeswitch_still_sends() -> None:
    done: list[bool] = []
    finished = anyio.Event()

    async def handler(session: OutboundSession) -> None:
        await session.disconnect()
        done.append(session.closed)
        finished.set()

    async with serving(handler) as server, dial(server) as peer:
        await peer.handshake()
        await peer.expect("exit")
        await peer.read_eof()  # our write side is shut...
        assert done == []  # ...but we still read
        await peer.send(
            writers.command_reply("+OK bye"), writers.disconnect_notice(CALL_UUID, linger=False)
        )
        await peer.aclose()
        with anyio.fail_after(5):
            await finished.wait()
    assert done == [True]
