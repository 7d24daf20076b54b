"""The company main line (flows/acme-main.yaml) at N concurrent calls: the fake FreeSWITCH
dials an OutboundServer whose handler runs the flow with `run_call`.

    python benchmarks/bench_engine.py [--calls 100 1000] [--backend asyncio|trio]

Every call takes the same path, the longest common one: hours (open) > welcome > language
menu (1) > main menu (2) > account entry (12345678#) > CRM lookup (an httpx MockTransport,
200, not a VIP) > record_for_quality > support (the first agent answers) > goodbye; then
on.hangup (a POST to the CRM and a CDR variable). The fake FreeSWITCH runs in a child process
pinned to the second core (as FreeSWITCH would be another process), this process on the first,
so the memory measured here is the server's and the engine's alone.

Two runs per N:
- throughput: media takes no time (the fake's 20 ms frames remain), so calls per second
  measure the engine, the session and the socket; the step turnaround is the fake's measure
  from sending a CHANNEL_EXECUTE_COMPLETE to receiving the next `sendmsg` (p50/p99 over every
  step of every call), i.e. how quickly the engine goes on to the next application. It is
  measured inside the fake: once the fake's core is saturated (see its CPU per call), its own
  queueing shows in the turnaround too.
- memory: the welcome lasts 2 s so that all N calls are up at once; at that peak the growth
  of this process's Python heap (tracemalloc) and of its RSS, divided by N.

A call failed when the fake saw a protocol violation, no `exit`, a hangup that was not ours,
or the engine's trace did not take the expected path to a `hangup`.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
from _load import dial_all, percentile, pin_to, rss_kib

from ivrd.engine import Trace, run_call
from ivrd.esl import OutboundServer, OutboundSession
from ivrd.flow import load_flow

FLOW_FILE = Path(__file__).resolve().parents[1] / "flows" / "acme-main.yaml"
OPEN = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Berlin
EXPECTED_PATH = [
    "hours",
    "welcome",
    "choose_language",
    "english",
    "main_menu",
    "account",
    "lookup",
    "record_for_quality",
    "support",
    "goodbye",
]
WELCOME = "ivr/acme/en/welcome.wav"


# -- the fake FreeSWITCH's side (child process) ----------------------------------------------


async def place_calls(port: int, calls: int, welcome_seconds: float) -> None:
    from ivrd.testing import Answered, Caller, Press

    caller = Caller(
        script=[
            Press("1", during="play_and_get_digits"),
            Press("2", during="play_and_get_digits"),
            Press("12345678#", during="play_and_get_digits", interval=0),
        ],
        files={WELCOME: welcome_seconds},
        file_seconds=0.0,
        durations={"speak": 0.0, "phrase": 0.0, "say": 0.0},
        bridge_default=Answered(talk=0.0, ring=0.0),
    )
    await dial_all(port, calls, caller)


# -- the server's side (this process) ---------------------------------------------------------


async def crm(request: httpx.Request) -> httpx.Response:
    if request.url.path.startswith("/api/v2/accounts/"):
        return httpx.Response(200, json={"first_name": "Bo", "vip": False})
    return httpx.Response(204)


async def run(calls: int, welcome_seconds: float, backend: str) -> dict[str, Any]:
    flow = load_flow(FLOW_FILE).require()
    up = 0
    peak: dict[str, float] = {}
    traces: list[Trace] = []
    gc.collect()
    base_heap = tracemalloc.get_traced_memory()[0]  # (0, 0) when not tracing
    base_rss = rss_kib()

    async with httpx.AsyncClient(transport=httpx.MockTransport(crm)) as client:

        async def handler(session: OutboundSession) -> None:
            nonlocal up
            up += 1
            if up == calls and welcome_seconds:
                # Every call is up (the last one just connected): the peak.
                peak["heap"] = tracemalloc.get_traced_memory()[0] - base_heap
                peak["rss"] = rss_kib() - base_rss
            secrets = {"CRM_TOKEN": "secret"}
            traces.append(
                await run_call(session, flow, secrets=secrets, http_client=client, now=lambda: OPEN)
            )

        server = OutboundServer(handler, port=0, backlog=4096)
        cpu = time.process_time()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        async with anyio.create_task_group() as tg:
            port = await tg.start(server.serve)
            command = [sys.executable, __file__, "--fake", str(port), str(calls)]
            command += [str(welcome_seconds), "--backend", backend]
            done = await anyio.run_process(command, stderr=None)
            tg.cancel_scope.cancel()
    result: dict[str, Any] = json.loads(done.stdout)
    wrong = [t for t in traces if t.path != EXPECTED_PATH or t.disposition != "hangup"]
    result["failed"] = max(result["bad"], calls - len(traces) + len(wrong))
    if wrong and result["example"] is None:
        result["example"] = json.dumps(wrong[0].as_dict())[:2000]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    fake_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    result.update(peak, cpu=time.process_time() - cpu, fake_cpu=fake_cpu)
    return result


async def main(sizes: list[int], backend: str) -> None:
    for calls in sizes:
        fast = await run(calls, 0.0, backend)
        tracemalloc.start(1)  # only here: tracing slows every allocation down
        held = await run(calls, 2.0, backend)
        tracemalloc.stop()
        turnarounds = fast["turnarounds"]
        failed = fast["failed"] + held["failed"]
        print(
            f"{calls:5d} concurrent calls: {calls / fast['elapsed']:7.1f} calls/s "
            f"({fast['elapsed']:.2f} s, {len(EXPECTED_PATH)} steps, {len(turnarounds) // calls} "
            f"applications per call); EXECUTE_COMPLETE -> next sendmsg "
            f"p50 {percentile(turnarounds, 0.5) * 1000:.2f} ms, "
            f"p99 {percentile(turnarounds, 0.99) * 1000:.2f} ms; "
            f"CPU per call: server {fast['cpu'] / calls * 1000:.2f} ms, "
            f"fake FreeSWITCH {fast['fake_cpu'] / calls * 1000:.2f} ms; "
            + (
                f"per active call: {held['heap'] / calls / 1024:.1f} KiB Python heap, "
                f"{held['rss'] / calls:.1f} KiB RSS; "
                if "heap" in held
                else "per active call: not measured (the calls were never all up at once); "
            )
            + f"failed calls: {failed}",
            flush=True,
        )
        if failed:
            print(f"  e.g. {fast['example'] or held['example']}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument(
        "--fake", nargs=3, metavar=("PORT", "CALLS", "WELCOME"), help=argparse.SUPPRESS
    )
    options = parser.parse_args()
    # Measure the engine, not the console.
    logging.getLogger("ivrd").addHandler(logging.NullHandler())
    logging.getLogger("ivrd").propagate = False
    if options.fake:
        pin_to(1)
        port, calls, welcome = options.fake
        anyio.run(place_calls, int(port), int(calls), float(welcome), backend=options.backend)
    else:
        pin_to(0)
        print(f"backend: {options.backend}; flow: {FLOW_FILE.name}", flush=True)
        anyio.run(main, options.calls, options.backend, backend=options.backend)
