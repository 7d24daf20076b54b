"""What the load benchmarks share: dialling N calls from the fake FreeSWITCH, and measuring.

Imported by the `bench_*.py` scripts next to it (run as `python benchmarks/bench_X.py`).
"""

from __future__ import annotations

import json
import os
import resource
import time

import anyio

from ivrd.testing import Caller, CallRecord, FakeFreeSWITCH


def rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() // 1024


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def pin_to(core: int) -> None:
    cores = os.sched_getaffinity(0)
    if len(cores) > 1:
        os.sched_setaffinity(0, {sorted(cores)[core % len(cores)]})


async def dial_all(port: int, calls: int, caller: Caller) -> None:
    """Place `calls` calls at once; print the result as one JSON line for the parent."""
    fake = FakeFreeSWITCH(call_timeout=600)
    records: list[CallRecord] = []

    async def one() -> None:
        records.append(await fake.call("127.0.0.1", port, caller))

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(calls):
            tg.start_soon(one)
    elapsed = time.perf_counter() - start
    bad = [r for r in records if r.violations or not r.exit_sent or r.hangup_by != "server"]
    result = {
        "elapsed": elapsed,
        "turnarounds": [t for r in records for t in r.turnarounds],
        "bad": len(bad),
        "example": repr(bad[0])[:2000] if bad else None,
    }
    print(json.dumps(result))
