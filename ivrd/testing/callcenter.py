"""`callcenter QUEUE`: a mod_callcenter queue, as the caller's channel lives it.

What mod_callcenter.c (callcenter_function, its member thread and the agent thread) does to
the channel running the application, with the queue's behaviour taken from the scenario
(`Caller.queues`, by the name the application is given):

- No name, or no such queue in callcenter.conf: a warning in the log, nothing else. The
  application returns at once, the channel is not answered and no `cc_*` variable is set.
- Otherwise the channel is answered and joins: `cc_side=member`, `cc_member_uuid`,
  `cc_queue_joined_epoch`, `cc_queue`; CUSTOM `callcenter::info` events `member-queue-start`
  (with the channel's data) and `members-count`. The music on hold (`cc_moh_override`, else
  the queue's `local_stream://moh`) plays while the caller waits. A uuid_break does not end
  the wait, the music starts again: only the channel going away, a key of `cc_exit_keys` or
  the member thread ends it. Messages queued meanwhile under an event-locked `callcenter` are
  thrown away (switch_core_session_flush_private_events).
- The caller leaves without an agent: `cc_cause=cancel` and `cc_cancel_reason` TIMEOUT (the
  queue's max-wait-time), NO_AGENT_TIMEOUT (no agent logged in), EXIT_WITH_KEY (a key of
  `cc_exit_keys`, kept in `cc_exit_key`) or BREAK_OUT (the caller hung up: the completion then
  follows CHANNEL_HANGUP); `cc_queue_canceled_epoch`; `member-queue-end` with `CC-Cause:
  Cancel`. The socket's flow goes on.
- An agent answers: the agent thread sets `cc_agent_found` and `cc_agent_uuid` and bridges
  the agent with uuid_bridge, which takes the channel out of the `socket` application. So
  `callcenter` completes with `cc_cause=answered` when the conversation STARTS; then come
  CHANNEL_UNPARK and the `socket` application's completion, CHANNEL_EXECUTE `uuid_bridge`,
  CHANNEL_BRIDGE (`cc_agent_bridged`, `cc_agent`, `cc_queue_answered_epoch`). Messages the
  socket sends meanwhile run one at a time inside the bridge (switch_ivr_parse_next_event),
  the agent waiting. When the agent hangs up: CHANNEL_UNBRIDGE, `cc_queue_terminated_epoch`,
  `bridge-agent-end`, `member-queue-end` with `CC-Cause: Terminated`; the channel goes on in
  the dialplan after `socket`, where nothing follows: NORMAL_CLEARING.

Left out: the agents' own channels (their events carry only the `CC-` headers here), the
`CC-Hangup-Cause` of the agent events, periodic announcements, abandoned-call resumption.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from ivrd.testing.caller import AgentAnswers, NoSuchQueue, QueueOutcome, QueueTimeout
from ivrd.testing.events import Pairs
from ivrd.testing.media import answer_channel, file_type
from ivrd.testing.separate import separate_string

if TYPE_CHECKING:
    from ivrd.testing.execution import Execution, RunningApp

CALLCENTER_EVENT = "callcenter::info"
DEFAULT_MOH = "local_stream://moh"
AGENT_SYSTEM = "single_box"
LEAD_FRAMES = 10
"""Frames a bridge passes audio before it runs a queued message (DEFAULT_LEAD_FRAMES)."""


@dataclass
class Member:
    """The caller as a member of one queue."""

    queue: str
    uuid: str
    joined: int
    cid_name: str
    cid_number: str
    pressed: list[str] = field(default_factory=list)

    def headers(self, call: Execution) -> list[tuple[str, str]]:
        return [
            ("CC-Member-UUID", self.uuid),
            ("CC-Member-Session-UUID", call.uuid),
            ("CC-Member-CID-Name", self.cid_name),
            ("CC-Member-CID-Number", self.cid_number),
        ]


def _epoch(call: Execution) -> int:
    return int(call.fake.source.now())


def _cc_event(call: Execution, queue: str, action: str, headers: Pairs, *, channel: bool) -> None:
    """A `callcenter::info` event, with the member channel's data when mod_callcenter adds it
    (only those reach the member's own socket)."""
    pairs = [("CC-Queue", queue), ("CC-Action", action), *headers]
    if channel:
        if call.fake.wanted("CUSTOM", call.uuid):
            call.fake.publish_event(call.state.event("CUSTOM", pairs, subclass=CALLCENTER_EVENT))
    else:
        call.fake.publish_event(call.fake.source.event("CUSTOM", pairs, subclass=CALLCENTER_EVENT))


def _count(call: Execution, queue: str, members: int) -> None:
    """cc_queue_count: how many callers wait in the queue (here only this one)."""
    headers = [("CC-Count", str(members)), ("CC-Selection", "Single-Queue")]
    _cc_event(call, queue, "members-count", headers, channel=False)


def _flush(call: Execution) -> None:
    """switch_core_session_flush_private_events: what the socket queued is thrown away."""
    for message in call.queue:
        name = message.app.name if message.app is not None else message.command.line
        call.violation("flushed", f"{name} was sent during callcenter and thrown away unrun")
    call.queue.clear()


async def _wait(call: Execution, running: RunningApp, member: Member, outcome: QueueOutcome) -> str:
    """The caller waits to music on hold: "agent", a cancel reason, or "hangup"."""
    assert not isinstance(outcome, NoSuchQueue)
    deadline = anyio.current_time() + outcome.wait

    def on_dtmf(digit: str) -> bool:
        if digit in (call.state.get_var("cc_exit_keys") or ""):
            member.pressed.append(digit)
            return True
        return False

    while True:
        _flush(call)
        moh = call.expand(call.state.get_var("cc_moh_override") or DEFAULT_MOH)
        # A file that does not exist: "Couldn't play file", the wait goes on without audio.
        where = [("Playback-File-Type", file_type(moh)), ("Playback-File-Path", moh)]
        playing = call.caller.file_duration(moh) is not None
        if playing:
            call.publish("PLAYBACK_START", where, variables=False)
        remaining = max(0.0, deadline - anyio.current_time())
        result = await call.media(running, remaining, on_dtmf=on_dtmf)
        if playing:
            status = "done" if result == "done" else "break"
            call.publish("PLAYBACK_STOP", [*where, ("Playback-Status", status)])
        if result == "hangup":
            return "hangup"
        if result == "dtmf":
            return "EXIT_WITH_KEY"
        if result == "done":
            if isinstance(outcome, AgentAnswers):
                return "agent"
            return "TIMEOUT" if isinstance(outcome, QueueTimeout) else "NO_AGENT_TIMEOUT"


async def callcenter(call: Execution, running: RunningApp) -> str | None:
    words = separate_string(running.arg, " ", 6)
    queue = words[0] if words else ""
    if not queue:
        call.fake.log(4, "No Queue name provided\n", call.uuid)
        return None
    outcome = call.caller.queue(queue)
    if isinstance(outcome, NoSuchQueue):
        call.fake.log(4, f"Queue {queue} not found\n", call.uuid)
        return None
    answer_channel(call)
    state = call.state
    member = Member(
        queue,
        str(uuidlib.uuid4()),
        _epoch(call),
        state.options.caller_id_name,
        state.options.caller_id_number,
    )
    for name, value in (
        ("cc_side", "member"),
        ("cc_member_uuid", member.uuid),
        ("cc_agent_found", None),
        ("cc_agent_bridged", None),
        ("cc_queue_joined_epoch", str(member.joined)),
        ("cc_queue", queue),
    ):
        state.set_var(name, value)
    _cc_event(call, queue, "member-queue-start", member.headers(call), channel=True)
    _count(call, queue, 1)
    ended = await _wait(call, running, member, outcome)
    if ended == "agent" and isinstance(outcome, AgentAnswers) and state.up:
        _agent_answers(call, member, outcome)
    else:
        reason = "BREAK_OUT" if ended == "hangup" else ended
        if reason == "EXIT_WITH_KEY":
            state.set_var("cc_exit_key", member.pressed[-1])
        _flush(call)
        now = str(_epoch(call))
        _cc_event(
            call,
            queue,
            "member-queue-end",
            [
                ("CC-Member-Leaving-Time", now),
                ("CC-Member-Joined-Time", str(member.joined)),
                ("CC-Cause", "Cancel"),
                ("CC-Cancel-Reason", reason),
                *member.headers(call),
            ],
            channel=True,
        )
        state.set_var("cc_queue_canceled_epoch", now)
        state.set_var("cc_cause", "cancel")
        state.set_var("cc_cancel_reason", reason)
    _count(call, queue, 0)
    return None


def _agent_answers(call: Execution, member: Member, outcome: AgentAnswers) -> None:
    """The agent thread's side up to uuid_bridge, then the end of callcenter_function."""
    state = call.state
    bridge = Bridge(call, member, outcome, str(uuidlib.uuid4()), _epoch(call))
    offering = [
        ("CC-Agent", outcome.agent),
        ("CC-Agent-Type", "Callback"),
        ("CC-Agent-System", AGENT_SYSTEM),
        *member.headers(call),
    ]
    _cc_event(call, member.queue, "agent-offering", offering, channel=False)
    started = [*bridge.agent_headers(), *bridge.times(), *member.headers(call)]
    _cc_event(call, member.queue, "bridge-agent-start", started, channel=False)
    state.set_var("cc_agent_found", "true")
    state.set_var("cc_agent_uuid", bridge.agent_uuid)
    # switch_ivr_uuid_bridge names the peer on the channel before anything else happens.
    state.set_var("bridge_channel", bridge.agent_channel)
    state.set_var("bridge_uuid", bridge.agent_uuid)
    state.set_var("signal_bond", bridge.agent_uuid)
    _flush(call)
    state.set_var("cc_agent_found", None)
    state.set_var("cc_cause", "answered")
    call.transferred = True
    call.elsewhere = bridge.run


@dataclass
class Bridge:
    """The conversation with the agent, once the channel left the socket application."""

    call: Execution
    member: Member
    outcome: AgentAnswers
    agent_uuid: str
    answered: int
    """When the agent answered (epoch seconds; the agent is called and answers at once here)."""

    @property
    def agent_channel(self) -> str:
        return f"sofia/internal/{self.outcome.agent}"

    def agent_headers(self) -> list[tuple[str, str]]:
        return [
            ("CC-Agent", self.outcome.agent),
            ("CC-Agent-System", AGENT_SYSTEM),
            ("CC-Agent-UUID", self.agent_uuid),
        ]

    def times(self) -> list[tuple[str, str]]:
        return [
            ("CC-Agent-Called-Time", str(self.answered)),
            ("CC-Agent-Answered-Time", str(self.answered)),
            ("CC-Member-Joined-Time", str(self.member.joined)),
        ]

    def _other_leg(self) -> list[tuple[str, str]]:
        return [
            ("Bridge-A-Unique-ID", self.call.uuid),
            ("Bridge-B-Unique-ID", self.agent_uuid),
            ("Other-Type", "originatee"),
            ("Other-Leg-Direction", "outbound"),
            ("Other-Leg-Unique-ID", self.agent_uuid),
            ("Other-Leg-Channel-Name", self.agent_channel),
            ("Other-Leg-Destination-Number", self.outcome.agent.split("@", 1)[0]),
        ]

    async def run(self) -> None:
        call, state = self.call, self.call.state
        uuid_bridge = [("Application", "uuid_bridge"), ("Application-Data", self.agent_uuid)]
        call.publish("CHANNEL_EXECUTE", uuid_bridge)
        state.set_time("Channel-Bridged-Time")
        other_leg = self._other_leg()
        call.publish("CHANNEL_BRIDGE", other_leg)
        bridged_at = anyio.current_time()
        state.set_var("cc_agent_bridged", "true")
        state.set_var("cc_agent", self.outcome.agent)
        state.set_var("cc_queue_answered_epoch", str(_epoch(call)))
        await self._talk(bridged_at)
        cause = state.hangup_cause or "NORMAL_CLEARING"
        state.set_var("bridge_hangup_cause", cause)
        state.set_var("last_bridge_hangup_cause", cause)
        call.publish("CHANNEL_UNBRIDGE", other_leg)
        now = str(_epoch(call))
        ended = [
            *self.agent_headers(),
            ("CC-Agent-Bridged", "true"),
            *self.times(),
            ("CC-Bridge-Terminated-Time", now),
            *self.member.headers(call),
        ]
        _cc_event(call, self.member.queue, "bridge-agent-end", ended, channel=False)
        state.set_var("cc_queue_terminated_epoch", now)
        left = [
            ("CC-Cause", "Terminated"),
            *self.agent_headers(),
            *self.times()[:2],
            ("CC-Member-Leaving-Time", now),
            ("CC-Member-Joined-Time", str(self.member.joined)),
            *self.member.headers(call),
        ]
        _cc_event(call, self.member.queue, "member-queue-end", left, channel=True)

    async def _talk(self, bridged_at: float) -> None:
        """Until the agent hangs up (or the caller): keys go to the agent, queued messages run
        one at a time once the bridge passed its lead frames."""
        call, state = self.call, self.call.state
        hangs_up_at = bridged_at + self.outcome.talk
        lead = bridged_at + LEAD_FRAMES * call.frame
        while state.up and anyio.current_time() < hangs_up_at:
            if call.dtmf:
                call.dequeue_dtmf()
            elif call.queue and anyio.current_time() >= lead:
                await call.run_next_message()
            else:
                wake_at = min(hangs_up_at, lead) if call.queue else hangs_up_at
                with anyio.move_on_at(wake_at):
                    await call.wake.wait()
