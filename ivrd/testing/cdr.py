"""The call detail variables FreeSWITCH adds when a channel reaches CS_REPORTING.

Hangup cause and its q.850 code, the dialled digits, start/answer/end stamps and epochs, and
the durations in seconds, milliseconds and microseconds, as CHANNEL_HANGUP_COMPLETE shows them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivrd.testing.channel import ChannelState

# The q.850 codes of the hangup causes a fake call can end with.
Q850 = {
    "UNALLOCATED_NUMBER": 1,
    "NO_ROUTE_DESTINATION": 3,
    "NORMAL_CLEARING": 16,
    "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18,
    "NO_ANSWER": 19,
    "SUBSCRIBER_ABSENT": 20,
    "CALL_REJECTED": 21,
    "NUMBER_CHANGED": 22,
    "DESTINATION_OUT_OF_ORDER": 27,
    "INVALID_NUMBER_FORMAT": 28,
    "NORMAL_UNSPECIFIED": 31,
    "NORMAL_CIRCUIT_CONGESTION": 34,
    "NETWORK_OUT_OF_ORDER": 38,
    "NORMAL_TEMPORARY_FAILURE": 41,
    "SWITCH_CONGESTION": 42,
    "RECOVERY_ON_TIMER_EXPIRE": 102,
    "ORIGINATOR_CANCEL": 487,
    "ALLOTTED_TIMEOUT": 602,
    "MEDIA_TIMEOUT": 604,
}


def cdr_variables(state: ChannelState) -> list[tuple[str, str]]:
    """The variables FreeSWITCH adds at CS_REPORTING (hangup cause, stamps, durations)."""
    times = state.times
    start = times["Channel-Created-Time"]
    answer = times["Channel-Answered-Time"]
    progress = times["Channel-Progress-Time"]
    media = times["Channel-Progress-Media-Time"]
    bridge = times["Channel-Bridged-Time"]
    end = times["Channel-Hangup-Time"] or state.source.now_us()

    def stamp(us: int) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us // 1_000_000))

    def since(us: int) -> int:
        return end - us if us else 0

    cause = state.hangup_cause or "NORMAL_CLEARING"
    q850 = Q850.get(cause, 16)
    pairs = [
        ("hangup_cause", cause),
        ("hangup_cause_q850", str(q850 if q850 <= 127 else 16)),
        ("digits_dialed", "".join(state.digits_dialed) or "none"),
        ("start_stamp", stamp(start)),
        ("profile_start_stamp", stamp(start)),
    ]
    if answer:
        pairs.append(("answer_stamp", stamp(answer)))
    if progress:
        pairs.append(("progress_stamp", stamp(progress)))
    if media:
        pairs.append(("progress_media_stamp", stamp(media)))
    pairs.append(("end_stamp", stamp(end)))
    for name, value in (("start", start), ("profile_start", start), ("answer", answer)):
        pairs += [(f"{name}_epoch", str(value // 1_000_000)), (f"{name}_uepoch", str(value))]
    for name, value in (("bridge", bridge), ("last_hold", 0)):
        pairs += [(f"{name}_epoch", str(value // 1_000_000)), (f"{name}_uepoch", str(value))]
    pairs += [("hold_accum_seconds", "0"), ("hold_accum_usec", "0"), ("hold_accum_ms", "0")]
    for name, value in (
        ("resurrect", 0),
        ("progress", progress),
        ("progress_media", media),
        ("end", end),
    ):
        pairs += [(f"{name}_epoch", str(value // 1_000_000)), (f"{name}_uepoch", str(value))]
    if state.last_app is not None:
        pairs += [("last_app", state.last_app[0]), ("last_arg", state.last_app[1])]
    pairs.append(("caller_id", state.options.caller_id_number))
    spans = {
        "duration": end - start,
        "billsec": since(answer),
        "progresssec": progress - start if progress else 0,
        "answersec": answer - start if answer else 0,
        "waitsec": (bridge - start) if bridge else 0,
        "progress_mediasec": media - start if media else 0,
        "flow_billsec": end - start,
    }
    for divisor, unit, duration in (
        (1_000_000, "sec", "duration"),
        (1000, "msec", "mduration"),
        (1, "usec", "uduration"),
    ):
        for name, value in spans.items():
            key = duration if name == "duration" else name[:-3] + unit
            pairs.append((key, str(value // divisor)))
    if not state.options.sip:
        pairs.append(("is_loopback", "1"))
    return pairs
