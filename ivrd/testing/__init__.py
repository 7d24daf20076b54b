"""A fake FreeSWITCH that speaks mod_event_socket exactly as the captures show.

Used by ivrd's tests, `ivrd test` (scenarios under trio's MockClock: no real time passes),
`ivrd simulate` and the load benchmarks. Pure anyio: it runs on asyncio and trio.

Outbound: the fake dials your outbound socket server, like `socket ip:port async full`, and
plays one call; `call()` returns its record once the socket is closed::

    fake = FakeFreeSWITCH()
    record = await fake.call(
        "127.0.0.1", port,
        Caller(
            script=[Press("1", during="play_and_get_digits", delay=0.5), HangUp(after="bridge")],
            bridge={"user/2001": Busy(), "user/2002": Answered(talk=30)},
            files={"ivr/welcome.wav": 3.0},
        ),
        channel=Channel(caller_id_number="+4930123456", destination_number="100",
                        variables={"ivr_flow": "main"}, sip=True),
    )
    assert record.hangup_by == "server" and record.exit_sent
    assert [app.name for app in record.apps] == ["answer", "playback", "play_and_get_digits", ...]

Inbound: an ESL server like port 8021 (`auth`, `event`, `filter`, `api`, `bgapi`, `originate`,
`myevents <uuid>`, `log` ...); events of every call the fake runs reach subscribed clients::

    async with anyio.create_task_group() as tg:
        port = await tg.start(fake.serve_inbound)        # host="127.0.0.1", port=0
        fake.api_handlers["my_cmd"] = lambda arg: "+OK done\\n"
        fake.publish({"Event-Subclass": "acme::ping", "x": "1"})   # a CUSTOM event
        await fake.restart(down_for=2.0)   # drop clients, refuse for 2 s, listen again
        fake.rude_rejection = True         # new clients get text/rude-rejection

API summary (everything is importable from `ivrd.testing`):

- `FakeFreeSWITCH(*, password="ClueCon", users={"user@domain": "pw"}, hostname="fakeswitch",
  park=FIRST_SENDMSG, frame=0.02, call_timeout=3600.0, socket_address=None,
  originate_caller=None, connect_timeout=10.0)`. `connect_timeout`: how long `call()` waits
  for the TCP connection (None: as long as the kernel, like FreeSWITCH). `park`: when the
  `socket` application parks (CHANNEL_PARK): by default while the first `sendmsg` is read
  (its CHANNEL_PARK comes before that +OK) or 20 ms after `connect`; a float is a delay after
  `connect`; `ParkAtCommand(n, name=None, latest=None)` parks while the n-th command after
  `connect` is read. `frame`: a parked,
  idle channel picks up queued messages at its next 20 ms frame (0: at once).
  `socket_address`: where the dialplan sends `originate loopback/<ext> ...` (its B leg).
- `await fake.call(host, port, caller=None, *, channel=None, park=None, max_seconds=None)
  -> CallRecord`: returns once the socket is closed (or `max_seconds`, default
  `call_timeout`, passed: `record.timed_out`). Raises OSError if nothing listens.
- Inbound: `await fake.serve_inbound(host="127.0.0.1", port=0, *, task_status)`;
  `fake.api_handlers[name] = fn(arg) -> str | Awaitable[str]`; `fake.publish(headers,
  body=None)`; `fake.drop_inbound()`; `await fake.restart(down_for)`; `fake.rude_rejection`.
- Live calls: `fake.calls[uuid]` (OutboundCall: `.press(digit)`, `.caller_hangup(cause)`,
  `.hangup(cause, by)`, `.state.variables`, `.done`, `.answered`); ended: `fake.records`.
- `Channel(uuid=None, caller_id_number="0000000000", caller_id_name="",
  destination_number="ivr1", context="default", channel_name=None, variables={}, sip=False,
  answered=False)`.
- `Caller(script=[...], bridge={target: outcome}, bridge_default=Answered(),
  files={path: seconds | None}, file_seconds=1.0, durations={app: seconds},
  hangup_after_voicemail=True, fault=None)`; steps `Press(digits, *, interval=0.02, source="APP")`,
  `HangUp(*, cause="NORMAL_CLEARING")`, `Silence()`, each with `during=` / `after=` (an
  application name, a tuple of names, `PROMPTS` or "*"), `nth=`, `at=`, `delay=`; outcomes
  `Answered(talk=10, ring=1)`, `Busy(ring=0.5)`, `NoAnswer()`, `Failed(cause, ring=0)`.
  `queues={name: outcome}`, `queue_default=NoSuchQueue()` for mod_callcenter's `callcenter`
  (see `ivrd.testing.callcenter`): `AgentAnswers(wait=10, talk=10, agent="1000@default")`,
  `QueueTimeout(wait=60)`, `NoAgent(wait=15)`, `NoSuchQueue()`; a key of the channel's
  `cc_exit_keys` pressed during `callcenter` leaves the queue.
- `CallRecord`: `commands` (ReceivedCommand: `at`, parsed `command`), `apps` (AppRecord:
  name, arg, event_uuid, event_lock, received_at, started_at, ended_at, duration, response,
  nested), `dtmf` (SentDtmf), `spoken` (Speech: at, engine, voice, the text a TTS engine was
  handed, as FreeSWITCH would hand it: `ivrd.testing.speech`), `variables` (final),
  `hangup_cause`, `hangup_by` ("caller", "server", "switch", "timeout"), `hangup_at`,
  `exit_at` / `exit_sent` / `exit_after_hangup`, `client_closed`, `closed_at` /
  `close_after_hangup`, `timed_out`, `violations` (Violation: at, kind, detail; kinds:
  nested-execution, bad-framing, no-connect, unknown-command, unknown-application, bad-uuid,
  no-event-uuid, after-hangup, not-reading, flushed), `notes`, `turnarounds` (seconds from an
  EXECUTE_COMPLETE to the next `sendmsg`), `events_sent`, `bytes_sent`, `fault` (FaultRecord:
  fault, injected, injected_at, detail, outcome).
- Faults (`ivrd.testing.faults`): `Caller(fault=Fault.close_mid_application(at_app="playback",
  delay=0.2))`; also `close_mid_reply(at_command="sendmsg", keep=None)`,
  `close_mid_frame(at_app)`, `no_reply(at_command)`, `unknown_application(at_app)`,
  `hangup_before_complete(at_app, cause=...)`, `disconnect_notice(at_app, linger=...)`, each
  with `nth=`.

Known differences from a real FreeSWITCH: only the controlled channel exists (no A leg, no
CODEC / CALL_UPDATE events, transfer targets are not channels); an `originate` to a non-loopback
endpoint only creates a channel when its application is `&socket(...)`; the `hangup`
application gets its EXECUTE_COMPLETE, as switch_core_session_exec fires one after every
application; a command line the parser cannot frame ends the socket (FreeSWITCH would skip
the line).
"""

from ivrd.testing.caller import (
    PROMPTS,
    AgentAnswers,
    Answered,
    BridgeOutcome,
    Busy,
    Caller,
    Failed,
    HangUp,
    NoAgent,
    NoAnswer,
    NoSuchQueue,
    Press,
    QueueOutcome,
    QueueTimeout,
    Silence,
    Step,
)
from ivrd.testing.channel import Channel
from ivrd.testing.fake import FakeFreeSWITCH
from ivrd.testing.faults import FAULT_KINDS, Fault, FaultRecord
from ivrd.testing.outbound import FIRST_SENDMSG, OutboundCall, ParkAtCommand
from ivrd.testing.record import (
    AppRecord,
    CallRecord,
    ReceivedCommand,
    SentDtmf,
    Violation,
)

__all__ = [
    "FAULT_KINDS",
    "FIRST_SENDMSG",
    "PROMPTS",
    "AgentAnswers",
    "Answered",
    "AppRecord",
    "BridgeOutcome",
    "Busy",
    "CallRecord",
    "Caller",
    "Channel",
    "Failed",
    "FakeFreeSWITCH",
    "Fault",
    "FaultRecord",
    "HangUp",
    "NoAgent",
    "NoAnswer",
    "NoSuchQueue",
    "OutboundCall",
    "ParkAtCommand",
    "Press",
    "QueueOutcome",
    "QueueTimeout",
    "ReceivedCommand",
    "SentDtmf",
    "Silence",
    "Step",
    "Violation",
]
