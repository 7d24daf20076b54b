"""N concurrent calls from the fake FreeSWITCH through OutboundServer and a small Python IVR.

    python benchmarks/bench_outbound.py [--calls 100 1000] [--backend asyncio|trio] [--uvloop]

Each call: the load benchmark's six applications (`six_steps` of load/ivrd_library.py: answer,
playback, play_and_get_digits (the caller presses 42#), set, playback, hangup). The fake
FreeSWITCH (`ivrd.testing`) runs in a child process, as FreeSWITCH would, so this process holds
only the server and the IVR and its memory is theirs alone.

Two runs per N:
- throughput: media takes no time, so the calls per second measure the socket, the parser
  and the session (and the fake, on the other core); the turnaround is the fake's measure of
  the time from sending a CHANNEL_EXECUTE_COMPLETE to receiving the next `sendmsg` (p50/p99
  over every step of every call), i.e. how quickly the library answers FreeSWITCH.
- memory: the greeting lasts 2 s so that all N calls are up at once; at that peak the growth
  of this process's Python heap (tracemalloc) and of its RSS, divided by N.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from typing import Any

import anyio
from _load import dial_all, percentile, rss_kib
from load.ivrd_library import GREETING, MENU, THANKS, six_steps

from ivrd.esl import OutboundServer, OutboundSession

# -- the fake FreeSWITCH's side (child process) ----------------------------------------------


async def place_calls(port: int, calls: int, greeting_seconds: float) -> None:
    from ivrd.testing import Caller, Press

    caller = Caller(
        script=[Press("42#", during="play_and_get_digits", interval=0)],
        files={GREETING: greeting_seconds, MENU: 0.0, THANKS: 0.0},
    )
    await dial_all(port, calls, caller)


# -- the server's side (this process) ---------------------------------------------------------


async def run(calls: int, greeting_seconds: float, backend: str) -> dict[str, Any]:
    up = 0
    peak: dict[str, float] = {}
    gc.collect()
    base_heap = tracemalloc.get_traced_memory()[0]  # (0, 0) when not tracing
    base_rss = rss_kib()

    async def counted(session: OutboundSession) -> None:
        nonlocal up
        up += 1
        if up == calls and greeting_seconds:
            peak["heap"] = tracemalloc.get_traced_memory()[0] - base_heap
            peak["rss"] = rss_kib() - base_rss
        await six_steps(session)

    server = OutboundServer(counted, port=0, backlog=4096)
    cpu = time.process_time()
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve)
        command = [sys.executable, __file__, "--fake", str(port), str(calls), str(greeting_seconds)]
        command += ["--backend", backend]
        done = await anyio.run_process(command, stderr=None)
        tg.cancel_scope.cancel()
    result: dict[str, Any] = json.loads(done.stdout)
    if result["bad"] or up != calls:
        raise SystemExit(f"{result['bad']} of {calls} calls went wrong: {result['example']}")
    result.update(peak, cpu=time.process_time() - cpu)
    return result


async def main(sizes: list[int], backend: str) -> None:
    for calls in sizes:
        fast = await run(calls, 0.0, backend)
        tracemalloc.start(1)  # only here: tracing slows every allocation down
        held = await run(calls, 2.0, backend)
        tracemalloc.stop()
        turnarounds = fast["turnarounds"]
        print(
            f"{calls:5d} concurrent calls: {calls / fast['elapsed']:7.1f} calls/s "
            f"({fast['elapsed']:.2f} s); EXECUTE_COMPLETE -> next sendmsg "
            f"p50 {percentile(turnarounds, 0.5) * 1000:.2f} ms, "
            f"p99 {percentile(turnarounds, 0.99) * 1000:.2f} ms ({len(turnarounds)} steps); "
            f"server CPU {fast['cpu'] / calls * 1000:.2f} ms per call; "
            f"per active call: {held['heap'] / calls / 1024:.1f} KiB Python heap, "
            f"{held['rss'] / calls:.1f} KiB RSS",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--uvloop", action="store_true", help="asyncio with uvloop (if installed)")
    parser.add_argument(
        "--fake", nargs=3, metavar=("PORT", "CALLS", "GREETING"), help=argparse.SUPPRESS
    )
    options = parser.parse_args()
    backend_options = {"use_uvloop": True} if options.uvloop else {}
    if options.fake:
        port, calls, greeting = options.fake
        anyio.run(place_calls, int(port), int(calls), float(greeting), backend=options.backend)
    else:
        print(f"backend: {options.backend}{' + uvloop' if options.uvloop else ''}", flush=True)
        anyio.run(
            main,
            options.calls,
            options.backend,
            backend=options.backend,
            backend_options=backend_options,
        )
