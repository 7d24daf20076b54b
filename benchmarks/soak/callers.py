"""Who calls the company main line during a soak: random callers, hangups and faults.

Each call gets a `CallPlan` drawn from one seeded `random.Random`, so a seed replays the same
callers. What callers do is what flows/acme-main.test.yaml shows they do, with the odds of a
busy day: most pick English and support with a valid account number, some want sales, the
operator, German, a VIP desk; some press a wrong key, enter a short account number, stay
silent (5 s first-digit timeouts), press `*0` for the operator; some hang up at a random
moment. The people they are put through to answer, are busy, do not answer or cannot be
reached; in the sales queue an agent answers, or nobody does in time, or no agent is there.
A share of calls carries one random fault of `ivrd.testing.faults` at a random application
or command.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from ivrd.testing import (
    FAULT_KINDS,
    AgentAnswers,
    Answered,
    BridgeOutcome,
    Busy,
    Caller,
    Failed,
    Fault,
    NoAgent,
    NoAnswer,
    Press,
    QueueOutcome,
    QueueTimeout,
    Silence,
    Step,
)

SILENCE = ""
# What callers answer at their first, second and later menus (language, main menu, account).
LANGUAGE_KEYS = {"1": 50, "2": 25, "7": 8, SILENCE: 7, "*0": 5, "9": 5}
MAIN_MENU_KEYS = {"2": 30, "1": 15, "3": 15, "0": 15, "9": 5, "5": 8, SILENCE: 7, "*0": 5}
LATER_KEYS = {
    "12345678#": 45,
    "87654321#": 15,  # the VIP
    "55555555#": 10,  # unknown to the CRM
    "123#": 10,  # too short
    "1": 10,
    "0": 5,
    SILENCE: 5,
}
# Applications acme-main runs, and commands ivrd sends: where a fault may strike.
FAULT_APPS = (
    "multiset",
    "answer",
    "playback",
    "play_and_get_digits",
    "set",
    "speak",
    "phrase",
    "bridge",
    "record_session",
    "callcenter",
    "voicemail",
    "record",
    "hangup",
)
FAULT_COMMANDS = ("connect", "myevents", "linger", "divert_events", "sendmsg", "api", "exit")
HANGUP_CAUSES = ("NORMAL_CLEARING", "ORIGINATOR_CANCEL")


@dataclass(frozen=True)
class Behaviour:
    """The odds and the pace of a soak's callers."""

    fault_rate: float = 0.10
    hangup_rate: float = 0.15
    hangup_within: float = 8.0
    """A hanging-up caller hangs up this many seconds at most after the first application."""
    media_seconds: float = 0.3
    """How long each prompt (file, TTS, phrase) plays."""
    slow: bool = True
    """Whether callers may stay silent at a menu (a 5 s timeout each) and transfer targets may
    ring out (20-30 s): realistic, but too slow for CI."""
    fault_kinds: tuple[str, ...] = FAULT_KINDS


@dataclass(frozen=True)
class CallPlan:
    caller: Caller
    hangup_after: float | None
    """Seconds after the first application at which the caller hangs up (None: never)."""
    keys: tuple[str, ...]

    @property
    def fault(self) -> Fault | None:
        return self.caller.fault


def _pick(rng: random.Random, weights: dict[str, int], without: frozenset[str]) -> str:
    choices = [key for key in weights if key not in without]
    return rng.choices(choices, [weights[key] for key in choices])[0]


def _bridge_outcome(rng: random.Random, media: float, slow: bool) -> BridgeOutcome:
    roll = rng.random() * (1.0 if slow else 0.98)
    if roll < 0.70:
        return Answered(talk=rng.uniform(media, 6 * media), ring=media)
    if roll < 0.82:
        return Busy(ring=media)
    if roll < 0.90:
        return Failed("NO_ANSWER", ring=media)
    if roll < 0.98:
        return Failed("USER_NOT_REGISTERED")
    return NoAnswer()  # rings until `ring_for` (20-30 s of real time)


def _queue_outcome(rng: random.Random, media: float) -> QueueOutcome:
    roll = rng.random()
    if roll < 0.6:
        return AgentAnswers(wait=rng.uniform(media, 4 * media), talk=rng.uniform(media, 6 * media))
    if roll < 0.8:
        return QueueTimeout(wait=rng.uniform(media, 4 * media))
    return NoAgent(wait=rng.uniform(media, 4 * media))


def random_fault(rng: random.Random, kinds: Sequence[str]) -> Fault:
    """One fault of a random kind, at a random application or command of acme-main's calls."""
    kind = rng.choice(list(kinds))
    app = rng.choice(FAULT_APPS)
    nth = rng.choice((1, 1, 1, 2, 3)) if app in ("playback", "play_and_get_digits") else 1
    delay = round(rng.uniform(0.0, 0.5), 3)
    if kind == "close_mid_application":
        return Fault.close_mid_application(app, nth=nth, delay=delay)
    if kind == "close_mid_frame":
        return Fault.close_mid_frame(app, nth=nth)
    if kind == "unknown_application":
        return Fault.unknown_application(app, nth=nth)
    if kind == "hangup_before_complete":
        return Fault.hangup_before_complete(app, nth=nth, cause=rng.choice(HANGUP_CAUSES))
    if kind == "disconnect_notice":
        return Fault.disconnect_notice(app, nth=nth, delay=delay, linger=rng.random() < 0.5)
    command = rng.choice(FAULT_COMMANDS)
    nth = rng.randint(1, 12) if command == "sendmsg" else 1
    if kind == "close_mid_reply":
        return Fault.close_mid_reply(command, nth=nth)
    if kind == "no_reply":
        return Fault.no_reply(command, nth=nth)
    raise ValueError(f"unknown fault kind {kind!r}")


def plan_call(rng: random.Random, behaviour: Behaviour) -> CallPlan:
    """One caller: keys for each menu, transfer outcomes, a hangup, perhaps a fault."""
    media, slow = behaviour.media_seconds, behaviour.slow
    # Enough answers for the longest path; a caller who runs out stays silent (5 s a prompt).
    count = 10
    # Without slow callers: no silence, and no lone key where the account number may be asked
    # (the entry then waits 3 s for more digits).
    quiet = frozenset() if slow else frozenset({SILENCE})
    lone = frozenset() if slow else frozenset({SILENCE, "1", "0"})
    keys = [_pick(rng, LANGUAGE_KEYS, quiet), _pick(rng, MAIN_MENU_KEYS, quiet)]
    keys += [_pick(rng, LATER_KEYS, lone) for _ in range(count - 2)]
    script: list[Step] = []
    for entry in keys:
        if entry == SILENCE:
            script.append(Silence(during="play_and_get_digits"))
        else:
            delay = round(rng.uniform(0.0, media), 3)
            script.append(Press(entry, during="play_and_get_digits", delay=delay))
    fault = None
    if behaviour.fault_kinds and rng.random() < behaviour.fault_rate:
        fault = random_fault(rng, behaviour.fault_kinds)
    hangup_after = None
    if rng.random() < behaviour.hangup_rate:
        hangup_after = round(rng.uniform(0.0, behaviour.hangup_within), 3)
    caller = Caller(
        script=script,
        bridge={target: _bridge_outcome(rng, media, slow) for target in ("user/2001", "user/2002")},
        bridge_default=_bridge_outcome(rng, media, slow),
        file_seconds=media,
        durations={
            "speak": media,
            "say": media,
            "phrase": media,
            "voicemail": rng.uniform(media, 4 * media),
            "record": rng.uniform(media, 4 * media),
        },
        queues={"sales@default": _queue_outcome(rng, media)},
        fault=fault,
    )
    return CallPlan(caller, hangup_after, tuple(keys))
