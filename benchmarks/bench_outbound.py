"""N concurrent calls from the fake FreeSWITCH through OutboundServer and a small Python IVR.

    python benchmarks/bench_outbound.py [--calls 100 1000] [--backend asyncio|trio] [--uvloop]

Each call: answer, playback, play_and_get_digits (the caller presses 42#), set, playback,
hangup; FreeSWITCH's side is `ivrd.testing.FakeFreeSWITCH` in the same process, so the figures
are for server and fake together on one core and the library's own share is lower.

Two runs per N:
- throughput: media takes no time, so the calls per second measure the socket, the parser,
  the session and the fake; the turnaround is the fake's measure of the time from sending a
  CHANNEL_EXECUTE_COMPLETE to receiving the next `sendmsg` (p50/p99 over every step of every
  call), i.e. how quickly the library answers FreeSWITCH.
- memory: each prompt lasts 2 s so that all N calls are up at once; at that peak tracemalloc
  attributes the live memory to the library (a stack that goes through ivrd/esl and not
  through ivrd/testing) and the RSS delta over the whole process (library plus fake) is shown too.
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from ivrd.esl import OutboundServer, OutboundSession
from ivrd.testing import Caller, CallRecord, FakeFreeSWITCH, Press

GREETING = "ivr/welcome.wav"
MENU = "ivr/menu.wav"
THANKS = "ivr/thanks.wav"
FAKE_OPTIONS: dict[str, Any] = {}


def rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() // 1024


async def run_calls(
    calls: int,
    caller: Caller,
    handler: Callable[[OutboundSession], Awaitable[None]],
    at_peak: Callable[[], None] | None = None,
) -> tuple[float, list[CallRecord], OutboundServer]:
    """Place `calls` calls at once; returns the wall time, the records and the server."""
    up = 0
    peak = anyio.Event()

    async def counted(session: OutboundSession) -> None:
        nonlocal up
        await session.answer()
        up += 1
        if up == calls:
            peak.set()
        await handler(session)

    server = OutboundServer(counted, port=0, backlog=4096)
    fake = FakeFreeSWITCH(call_timeout=600, **FAKE_OPTIONS)
    records: list[CallRecord] = []
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve)
        start = time.perf_counter()

        async def one() -> None:
            records.append(await fake.call("127.0.0.1", port, caller))

        async with anyio.create_task_group() as dialing:
            for _ in range(calls):
                dialing.start_soon(one)
            if at_peak is not None:
                await peak.wait()
                at_peak()
        elapsed = time.perf_counter() - start
        tg.cancel_scope.cancel()
    return elapsed, records, server


async def ivr_after_answer(session: OutboundSession) -> None:
    # `counted` already answered: the rest of the IVR.
    await session.playback(GREETING)
    result = await session.play_and_get_digits(
        MENU, "silence_stream://250", min=1, max=4, tries=1, timeout=5000, variable="choice"
    )
    await session.set("choice", result.digits or "none")
    await session.playback(THANKS)
    await session.hangup()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def check(records: list[CallRecord], calls: int) -> None:
    bad = [r for r in records if r.violations or not r.exit_sent or r.hangup_by != "server"]
    if len(records) != calls or bad:
        raise SystemExit(f"{len(bad)} of {len(records)} calls went wrong: {bad[:1]}")


async def throughput(calls: int) -> dict[str, Any]:
    caller = Caller(script=[Press("42#", during="play_and_get_digits", interval=0)], file_seconds=0)
    elapsed, records, _ = await run_calls(calls, caller, ivr_after_answer)
    check(records, calls)
    turnarounds = [t for record in records for t in record.turnarounds]
    return {
        "calls_per_second": calls / elapsed,
        "elapsed": elapsed,
        "p50_ms": percentile(turnarounds, 0.50) * 1000,
        "p99_ms": percentile(turnarounds, 0.99) * 1000,
        "turnarounds": len(turnarounds),
    }


def library_bytes(snapshot: tracemalloc.Snapshot) -> int:
    """Live bytes allocated on behalf of the library: an ivrd/esl frame, no ivrd/testing one."""
    library = snapshot.filter_traces(
        [
            tracemalloc.Filter(True, "*/ivrd/esl/*", all_frames=True),
            tracemalloc.Filter(False, "*/ivrd/testing/*", all_frames=True),
        ]
    )
    return sum(stat.size for stat in library.statistics("filename"))


async def memory(calls: int) -> dict[str, Any]:
    caller = Caller(
        script=[Press("42#", during="play_and_get_digits", interval=0)],
        files={GREETING: 2.0, MENU: 0.0, THANKS: 0.0},
    )
    gc.collect()
    tracemalloc.start(30)
    base = tracemalloc.take_snapshot()
    base_rss = rss_kib()
    peak: dict[str, Any] = {}

    def at_peak() -> None:
        # Only the snapshot here: analysing it would stall every call for seconds.
        peak["snapshot"] = tracemalloc.take_snapshot()
        peak["rss_kib"] = rss_kib() - base_rss

    _, records, _ = await run_calls(calls, caller, ivr_after_answer, at_peak)
    tracemalloc.stop()
    check(records, calls)
    library = library_bytes(peak["snapshot"]) - library_bytes(base)
    return {
        "library_kib_per_call": library / calls / 1024,
        "rss_kib_per_call": peak["rss_kib"] / calls,
    }


async def main(sizes: list[int]) -> None:
    for calls in sizes:
        fast = await throughput(calls)
        mem = await memory(calls)
        print(
            f"{calls:5d} concurrent calls: {fast['calls_per_second']:7.1f} calls/s "
            f"({fast['elapsed']:.2f} s), EXECUTE_COMPLETE -> next sendmsg "
            f"p50 {fast['p50_ms']:.2f} ms, p99 {fast['p99_ms']:.2f} ms "
            f"({fast['turnarounds']} turnarounds); memory per active call: "
            f"library {mem['library_kib_per_call']:.1f} KiB (tracemalloc), "
            f"process {mem['rss_kib_per_call']:.1f} KiB (RSS, library + fake)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--uvloop", action="store_true", help="asyncio with uvloop (if installed)")
    options = parser.parse_args()
    backend_options = {"use_uvloop": True} if options.uvloop else {}
    print(f"backend: {options.backend}{' + uvloop' if options.uvloop else ''}")
    anyio.run(main, options.calls, backend=options.backend, backend_options=backend_options)
