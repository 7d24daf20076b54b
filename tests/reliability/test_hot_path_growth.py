"""Nothing in the hot path grows with the number of calls already handled (issue 8).

The load benchmark's growth batches (benchmarks/bench_load.py) time the CPU per call of one
`ivrd serve` over thousands of calls. On a shared machine that moves by a tenth from batch to
batch: it shows a steep trend, but cannot rule out a gentle one. This test asks the same
question with counts that do not depend on the machine's speed. One server and one fake
FreeSWITCH in this process take batches of the benchmark's own call (the six steps), and for
each batch it counts the Python functions called per call (a profile hook) and, after a full
collection, the objects left alive. A cache, a registry or a list that grows with every call
shows in the objects; work that walks such a thing shows in the calls. (The objects counted
are those the collector tracks, containers and instances: a list of strings growing counts
once. Memory as a whole is the small soak's to watch: its daemon's RSS, test_soak_small.py.)
"""

from __future__ import annotations

import gc
import sys
from asyncio import TimerHandle
from contextvars import Context
from pathlib import Path
from types import FrameType
from typing import Any

import anyio
import pytest

from ivrd.engine import run_call
from ivrd.esl import OutboundServer, OutboundSession
from ivrd.flow import load_flow
from ivrd.testing import Caller, CallRecord, Channel, FakeFreeSWITCH, Press

SIX_STEPS = Path(__file__).resolve().parents[2] / "benchmarks" / "load" / "flows" / "six-steps.yaml"
BATCH, CONCURRENCY, BATCHES = 20, 5, 4

pytestmark = pytest.mark.anyio


def alive() -> int:
    """The objects the collector tracks, less the stale entries of the event loop's timers.

    Both loops drop a timer cancelled before it is due lazily. asyncio keeps the TimerHandle
    (and the context it was to run in) in its heap until the timer comes due or cancelled
    handles are most of the heap, then purges them all at once. Trio keeps the entry of a
    cancel scope that exited before its deadline, a (deadline, id, scope) tuple, and the scope
    until the heap holds 1000 more entries than live deadlines. So the count leaves out
    asyncio's cancelled handles and their contexts, and on trio trio's own objects and those
    entries; everything of ivrd's, anyio's and the fake's counts.
    """
    objects = gc.get_objects()
    cancelled = [item for item in objects if type(item) is TimerHandle and item.cancelled()]
    stale = {id(item) for item in cancelled}
    stale.update(
        id(referent)
        for handle in cancelled
        for referent in gc.get_referents(handle)
        if type(referent) is Context
    )
    return sum(1 for item in objects if id(item) not in stale and not _trio_owned(item))


def _trio_owned(item: object) -> bool:
    if type(item) is tuple and len(item) == 3:
        item = item[2]
    module = type(item).__module__  # (a descriptor for a few of C's types)
    return isinstance(module, str) and module.startswith("trio")


class Batches:
    """Calls placed `CONCURRENCY` at a time; what each batch cost and left behind."""

    def __init__(self, fake: FakeFreeSWITCH, port: int) -> None:
        self.fake, self.port = fake, port
        self.caller = Caller(
            script=[Press("42#", during="play_and_get_digits", interval=0)], file_seconds=0.0
        )
        self.channel = Channel(caller_id_number="+4930123456", destination_number="5000", sip=True)
        self.functions = 0

    def _count(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            self.functions += 1

    async def run(self, *, counted: bool) -> tuple[float, int]:
        """One batch: Python functions called per call, then the objects alive after it."""
        lines = anyio.CapacityLimiter(CONCURRENCY)
        records: list[CallRecord] = []

        async def one() -> None:
            async with lines:
                record = await self.fake.call(
                    "127.0.0.1", self.port, self.caller, channel=self.channel
                )
            records.append(record)

        gc.collect()
        self.functions = 0
        if counted:
            sys.setprofile(self._count)
        try:
            async with anyio.create_task_group() as tasks:
                for _ in range(BATCH):
                    tasks.start_soon(one)
        finally:
            sys.setprofile(None)
        for record in records:
            assert record.violations == []
            assert record.exit_sent
            assert [app.name for app in record.apps][-3:] == ["set", "playback", "hangup"]
            assert record.apps[-3].arg == "choice=42"
        # The fake keeps every call's record for the tests that read them: not the server's.
        records.clear()
        self.fake.records.clear()
        gc.collect()
        return self.functions / BATCH, alive()


async def test_each_batch_of_calls_costs_the_same_and_leaves_nothing_behind() -> None:
    flow = load_flow(SIX_STEPS).require()

    async def handler(session: OutboundSession) -> None:
        await run_call(session, flow)

    server = OutboundServer(handler, "127.0.0.1", 0)
    async with anyio.create_task_group() as tasks:
        port = await tasks.start(server.serve)
        batches = Batches(FakeFreeSWITCH(), port)
        with anyio.fail_after(120):
            await batches.run(counted=False)  # warm-up: caches fill, first-time imports run
            measured = [await batches.run(counted=True) for _ in range(BATCHES)]
        tasks.cancel_scope.cancel()

    (first_functions, first_objects), (last_functions, last_objects) = measured[0], measured[-1]
    shown = ", ".join(
        f"{functions:.0f} functions/call, {objects} objects" for functions, objects in measured
    )
    # Less than one object kept for every second call handled since the first batch.
    assert last_objects - first_objects < (BATCHES - 1) * BATCH // 2, shown
    # The count moves a little with how the bytes happen to be chunked (a few tenths of a
    # percent); work that grew with the calls handled would add to every later call.
    assert last_functions < first_functions * 1.03, shown
    assert server.total_calls == (BATCHES + 1) * BATCH
