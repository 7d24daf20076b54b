"""The load benchmark's FreeSWITCH: the fake (`ivrd.testing`) dialling N calls at once.

    taskset --cpu-list 1 python benchmarks/load/loadgen.py --port 8084

Driven by benchmarks/bench_load.py over stdin/stdout, one JSON object per line. It reads
`{"run": M, "concurrency": N}` and places M calls, N at a time (a call that ends makes room for
the next one, as on N busy lines); `{"run": N, "hold": true}` places N calls at once, and every
greeting plays until all N are in it (or no more arrive for HOLD_SETTLE s), the line
`{"peak": k}` is printed, and the greetings are cut short (uuid_break) when `{"go": true}`
comes back: the server's memory is read in between, with k calls up at once. Each run ends
with `{"result": {...}}`: completed and failed calls (why they failed), the elapsed time, every
EXECUTE_COMPLETE -> next sendmsg turnaround, how long calls waited for the server's `connect`,
and this process's own CPU time.

Every call: a SIP call's channel data (`Channel(sip=True)`: about 7 KB in the `connect` reply,
5-6 KB per event), the caller presses 42# during play_and_get_digits, every other prompt
takes no time. Like FreeSWITCH's `socket` application the fake waits as long as the kernel
for the TCP connection (no timeout of its own: SYN retries after 1, 3, 7 ... s when the
server's accept queue is full) and 25 s for the server's first command.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from collections import Counter
from typing import Any

import anyio

from ivrd.testing import Caller, CallRecord, Channel, FakeFreeSWITCH, Press

GREETING = "ivr/welcome.wav"
MENU = "ivr/menu.wav"
THANKS = "ivr/thanks.wav"
EXPECTED = ["answer", "playback", "play_and_get_digits", "set", "playback", "hangup"]
# Applications a server may send around the six (ivrd's flows set channel defaults first).
SETUP = {"multiset"}
HOLD_SECONDS = 600.0
HOLD_SETTLE = 5.0
HOLD_LIMIT = 60.0
CALL_DEADLINE = 300.0
"""Seconds a call may take from its `connect` to its end before it counts as failed."""
# Not a mistake: FreeSWITCH accepts a sendmsg without Event-UUID (greenswitch sends none).
HARMLESS = {"no-event-uuid"}


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def why_failed(record: CallRecord) -> str | None:
    """None if the call ran the six steps and the server hung up; else the reason."""
    if record.timed_out:
        return "deadline passed"
    harmful = [v for v in record.violations if v.kind not in HARMLESS]
    if harmful:
        return f"violation: {harmful[0].kind}"
    apps = [app for app in record.apps if app.name not in SETUP]
    if [app.name for app in apps] != EXPECTED:
        return "applications: " + " ".join(app.name for app in apps)
    if any(app.ended_at is None for app in apps[:-1]) or apps[-1].started_at is None:
        return "an application did not run to its end"
    if apps[3].arg != "choice=42":
        return f"set {apps[3].arg!r}"
    if record.hangup_by != "server" or record.hangup_cause != "NORMAL_CLEARING":
        return f"hangup by {record.hangup_by} ({record.hangup_cause})"
    return None


class LoadGenerator:
    def __init__(self, port: int) -> None:
        self.port = port
        self.files: dict[str, float | None] = {GREETING: 0.0, MENU: 0.0, THANKS: 0.0}
        self.caller = Caller(
            script=[Press("42#", during="play_and_get_digits", interval=0)], files=self.files
        )
        self.channel = Channel(caller_id_number="+4930123456", destination_number="5000", sip=True)

    async def run(self, calls: int, concurrency: int, hold: bool) -> dict[str, Any]:
        """`calls` calls, `concurrency` at a time: each call that ends makes room for the next."""
        fake = FakeFreeSWITCH(connect_timeout=None, call_timeout=CALL_DEADLINE)
        self.files[GREETING] = HOLD_SECONDS if hold else 0.0
        lines = anyio.CapacityLimiter(concurrency)
        # A call's figures, not its record: thousands of records (each with its commands and
        # variables) kept alive would make every garbage collection walk them all again.
        turnarounds: list[float] = []
        waits: list[float] = []
        events = sent = ended = 0
        failures: Counter[str] = Counter()
        example: list[str] = []

        async def one() -> None:
            nonlocal events, sent, ended
            try:
                async with lines:
                    record = await fake.call(
                        "127.0.0.1", self.port, self.caller, channel=self.channel
                    )
            except Exception as exc:  # refused, reset, kernel gave up: the call failed
                failures[f"connect: {type(exc).__name__} {exc}"[:120]] += 1
                return
            fake.records.clear()  # (the fake keeps every ended call's record for tests)
            ended += 1
            turnarounds.extend(record.turnarounds)
            if record.connected_at:
                waits.append(record.connected_at - record.started_at)
            events += record.events_sent
            sent += record.bytes_sent
            reason = why_failed(record)
            if reason is not None:
                failures[reason] += 1
                if not example:
                    example.append(repr(record)[:3000])

        # What exists before the calls (modules, the templates) lives as long as the process:
        # out of the garbage collector's sight, its full collections walk only the calls.
        gc.collect()
        gc.freeze()
        cpu = cpu_seconds()
        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(calls):
                tg.start_soon(one)
            if hold:
                tg.start_soon(self._hold, fake, calls)
        elapsed = time.perf_counter() - start
        waits.sort()
        return {
            "calls": calls,
            "completed": calls - sum(failures.values()),
            "failures": dict(failures.most_common(5)),
            "failed": sum(failures.values()),
            "example": example[0] if example else None,
            "elapsed": elapsed,
            "turnarounds": turnarounds,
            "connect_waits_over_1s": sum(1 for w in waits if w >= 1.0),
            "connect_wait_max": waits[-1] if waits else None,
            "events_per_call": events / max(1, ended),
            "bytes_per_call": sent / max(1, ended),
            "loadgen_cpu": cpu_seconds() - cpu,
        }

    async def _hold(self, fake: FakeFreeSWITCH, calls: int) -> None:
        """Report the peak of calls in their greeting, wait for "go", then let them go on."""
        started = anyio.current_time()
        up = changed = 0
        while up < calls:
            now = anyio.current_time()
            if (up and now - changed > HOLD_SETTLE) or now - started > HOLD_LIMIT:
                break
            await anyio.sleep(0.05)
            count = sum(1 for call in list(fake.calls.values()) if _in_greeting(call.runs))
            if count > up:
                up, changed = count, anyio.current_time()
        emit({"peak": up, "after": anyio.current_time() - started})
        await anyio.to_thread.run_sync(sys.stdin.readline)
        self.files[GREETING] = 0.0
        # Cut the greetings short, also of calls that start theirs a little later.
        while fake.calls:
            for call in list(fake.calls.values()):
                if _in_greeting(call.runs):
                    call.break_media()
            await anyio.sleep(0.05)


def _in_greeting(runs: list[Any]) -> bool:
    return any(run.name == "playback" and not run.ended for run in runs)


async def serve(port: int) -> None:
    generator = LoadGenerator(port)
    emit({"ready": True})
    while True:
        line = await anyio.to_thread.run_sync(sys.stdin.readline)
        if not line:
            return
        order = json.loads(line)
        calls = int(order["run"])
        concurrency = int(order.get("concurrency", calls))
        emit({"result": await generator.run(calls, concurrency, bool(order.get("hold")))})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    # Plain asyncio, not uvloop: the fake times turnarounds with the loop's clock, and uvloop's
    # clock counts whole milliseconds.
    anyio.run(serve, options.port)


if __name__ == "__main__":
    main()
