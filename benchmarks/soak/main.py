"""The soak run itself: start the daemon, warm it up, soak it, let it settle, judge it.

The daemon runs as `ivrd serve` in a child process pinned to the first core; this process (the
fake FreeSWITCH, the CRM and the measuring) runs on the second. Measurements of the daemon are
taken at four moments: cold (serving, no call yet), start (after a warm-up batch at the same
concurrency, settled: caches filled, the allocator at its working size), peak (the highest
values sampled each second under load) and after (the soak done, settled). Cold, start and
after are weighed after a full garbage collection in the daemon (launch.py says why); the
RSS before that last collection is reported too. The verdict:

- no call lost, no call failed (warm-up included), no traceback in the daemon's log;
- the daemon's own count agrees: every call it started it ended, none is active;
- file descriptors and tasks back to their cold level exactly;
- RSS after within `rss_tolerance` (15%) of the start level. CPython does not give freed
  memory back to the system, so RSS keeps the high-water mark of its working set; the warm-up
  (twice the concurrency, by default) brings it most of the way there. A leak of a kilobyte
  per call would add 20 MB over 20,000 calls; the printout also shows RSS by share of the calls
  done, which keeps growing with a leak and levels off without one;
- the daemon drains and exits 0 on SIGTERM.
"""

from __future__ import annotations

import os
import random
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from load.procs import cpu_seconds

from .callers import Behaviour
from .calls import Tally, place_calls
from .crm import CrmServer
from .daemon import (
    CRM_TOKEN,
    Daemon,
    Sample,
    measure,
    measure_collected,
    start_daemon,
    write_setup,
)

SAMPLE_EVERY = 1.0


@dataclass(frozen=True)
class Options:
    calls: int = 20_000
    concurrency: int = 500
    warmup: int = 1000
    behaviour: Behaviour = field(default_factory=Behaviour)
    seed: int = 1
    deadline: float = 300.0
    settle: float = 30.0
    rss_tolerance: float = 0.15
    daemon_backend: str = "asyncio"
    fake_backend: str = "asyncio"
    crm_slow_rate: float = 0.02
    work_dir: Path | None = None


@dataclass
class Peak:
    """The highest values sampled, and RSS by calls done (a leak grows with the calls; a
    working set that has grown to its size stays flat)."""

    values: dict[str, int] = field(default_factory=dict)
    rss_by_calls: list[tuple[int, int]] = field(default_factory=list)

    def add(self, sample: Sample, calls_done: int) -> None:
        for name, value in sample.as_dict().items():
            self.values[name] = max(self.values.get(name, value), value)
        self.rss_by_calls.append((calls_done, sample.rss_kib))

    def rss_at(self, calls: int) -> int | None:
        """RSS (KiB) at the first sample with at least `calls` calls done."""
        return next((rss for done, rss in self.rss_by_calls if done >= calls), None)


async def _sample_peaks(daemon: Daemon, peak: Peak, done: Callable[[], int]) -> None:
    while True:
        peak.add((await measure(daemon))[0], done())
        await anyio.sleep(SAMPLE_EVERY)


async def _settle(daemon: Daemon, cold: Sample, limit: float) -> tuple[Sample, Sample, float]:
    """Let the daemon settle: a full garbage collection, then measurements every half second
    until no call is active and fds and tasks are back at `cold`, or `limit` s have passed (a
    socket of our own last scrape may still be closing at the first look). The measurement
    before the collection, the last one, and the seconds it took."""
    began = anyio.current_time()
    uncollected, _ = await measure(daemon)
    while True:
        sample = await measure_collected(daemon)
        back = sample.fds <= cold.fds and sample.tasks <= cold.tasks
        if (sample.active_calls == 0 and back) or anyio.current_time() - began > limit:
            return uncollected, sample, anyio.current_time() - began
        await anyio.sleep(0.5)


def _pin(cores: list[int]) -> tuple[int | None, int | None]:
    """(the daemon's core, ours); None where there is only one."""
    if len(cores) < 2:
        return None, None
    os.sched_setaffinity(0, {cores[1]})
    return cores[0], cores[1]


async def run_soak(options: Options) -> dict[str, Any]:
    """Run the whole soak; the report as a dict (`report.verdict` says whether it passed)."""
    work = options.work_dir or Path(tempfile.mkdtemp(prefix="ivrd-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    daemon_core, our_core = _pin(sorted(os.sched_getaffinity(0)))
    rng = random.Random(options.seed)
    crm = CrmServer(CRM_TOKEN, seed=options.seed, slow_rate=options.crm_slow_rate)
    warm, soak = Tally(), Tally()
    peak = Peak()
    report: dict[str, Any] = {"work_dir": str(work), "cores": [daemon_core, our_core]}
    async with anyio.create_task_group() as tasks:
        crm_port = await tasks.start(crm.serve)
        max_calls = max(1000, 2 * options.concurrency)
        config = write_setup(work, crm_port, max_calls)
        daemon = await start_daemon(config, options.daemon_backend, daemon_core)
        async with daemon.process:
            tasks.start_soon(daemon.read_stderr)
            with anyio.fail_after(60):
                await daemon.log.ready()
            cold = await measure_collected(daemon)
            sampler = anyio.CancelScope()

            async def sample() -> None:
                with sampler:
                    await _sample_peaks(daemon, peak, lambda: soak.placed)

            tasks.start_soon(sample)
            esl = daemon.log.ports["esl"]
            behaviour, deadline = options.behaviour, options.deadline
            if options.warmup:
                await place_calls(
                    esl, options.warmup, options.concurrency, behaviour, rng, deadline, warm
                )
            _, start, _ = await _settle(daemon, cold, options.settle)
            cpu_daemon, cpu_ours = cpu_seconds(daemon.pid), time.process_time()
            began = time.perf_counter()
            await place_calls(
                esl, options.calls, options.concurrency, behaviour, rng, deadline, soak
            )
            elapsed = time.perf_counter() - began
            cpu_daemon, cpu_ours = (
                cpu_seconds(daemon.pid) - cpu_daemon,
                time.process_time() - cpu_ours,
            )
            sampler.cancel()
            uncollected, after, settled_in = await _settle(daemon, cold, options.settle)
            _, metrics = await measure(daemon)
            daemon.process.send_signal(signal.SIGTERM)
            with anyio.move_on_after(60):
                report["daemon_exit_code"] = await daemon.process.wait()
            if daemon.process.returncode is None:
                daemon.process.kill()
                report["daemon_exit_code"] = "killed: did not stop within 60 s of SIGTERM"
            # Its last lines, then the end of its stderr, before the process is closed: a
            # stream closed while it is being read fails the reader (on trio).
            with anyio.move_on_after(10):
                await daemon.stderr_read.wait()
        tasks.cancel_scope.cancel()
    log = daemon.log
    warm.settle(log.started, log.finished)
    soak.settle(log.started, log.finished)
    report.update(
        options={
            "calls": options.calls,
            "concurrency": options.concurrency,
            "warmup": options.warmup,
            "fault_rate": options.behaviour.fault_rate,
            "hangup_rate": options.behaviour.hangup_rate,
            "faults": list(options.behaviour.fault_kinds),
            "media_seconds": options.behaviour.media_seconds,
            "slow_callers": options.behaviour.slow,
            "seed": options.seed,
            "daemon_backend": options.daemon_backend,
            "fake_backend": options.fake_backend,
            "rss_tolerance": options.rss_tolerance,
        },
        warmup=warm.as_dict(),
        soak=soak.as_dict(),
        elapsed_s=round(elapsed, 1),
        calls_per_s=round(options.calls / elapsed, 1) if elapsed else None,
        cpu_s={"daemon": round(cpu_daemon, 1), "load_process": round(cpu_ours, 1)},
        daemon={
            "cold": cold.as_dict(),
            "start": start.as_dict(),
            "peak": peak.values,
            "rss_kib_by_calls_done": {
                f"{share:.0%}": peak.rss_at(int(share * options.calls))
                for share in (0.1, 0.25, 0.5, 0.75, 1.0)
            },
            "after": after.as_dict(),
            "after_before_collection": uncollected.as_dict(),
            "settled_in_s": round(settled_in, 1),
            "metrics": _daemon_counts(metrics),
            "log": {
                "lines": log.lines,
                "levels": dict(log.levels),
                "errors": dict(log.errors.most_common(10)),
                "tracebacks": len(log.tracebacks),
                "first_tracebacks": log.tracebacks[:3],
            },
        },
        crm=dict(crm.requests),
    )
    report["verdict"] = _verdict(report, warm, soak, cold, start, after, options.rss_tolerance)
    return report


def _daemon_counts(metrics: dict[str, float]) -> dict[str, Any]:
    def total(prefix: str) -> int:
        return int(sum(value for name, value in metrics.items() if name.startswith(prefix + "{")))

    ended: dict[str, int] = {}
    for name, value in metrics.items():
        if name.startswith("ivrd_calls_ended_total{"):
            disposition = name.split('disposition="', 1)[1].split('"', 1)[0]
            ended[disposition] = ended.get(disposition, 0) + int(value)
    return {
        "started": total("ivrd_calls_started_total"),
        "ended": sum(ended.values()),
        "ended_by_disposition": ended,
        "active": total("ivrd_calls_active"),
        "refused": total("ivrd_calls_refused_total"),
        "esl_errors": total("ivrd_esl_errors_total"),
    }


def _verdict(
    report: dict[str, Any],
    warm: Tally,
    soak: Tally,
    cold: Sample,
    start: Sample,
    after: Sample,
    tolerance: float,
) -> dict[str, Any]:
    problems = []
    for name, tally in (("warm-up", warm), ("soak", soak)):
        for outcome in ("lost", "failed"):
            if tally.outcomes[outcome]:
                problems.append(f"{name}: {tally.outcomes[outcome]} call(s) {outcome}")
    counts = report["daemon"]["metrics"]
    if counts["started"] != counts["ended"] or counts["active"]:
        problems.append(
            f"daemon: {counts['started']} calls started, {counts['ended']} ended, "
            f"{counts['active']} still active"
        )
    if report["daemon"]["log"]["tracebacks"]:
        problems.append(f"daemon: {report['daemon']['log']['tracebacks']} traceback(s) logged")
    if after.fds != cold.fds:
        problems.append(f"fds: {after.fds} after, {cold.fds} cold")
    if after.tasks != cold.tasks:
        problems.append(f"tasks: {after.tasks} after, {cold.tasks} cold")
    limit = int(start.rss_kib * (1 + tolerance))
    if after.rss_kib > limit:
        problems.append(f"RSS: {after.rss_kib} KiB after, more than {limit} KiB")
    if report.get("daemon_exit_code") != 0:
        problems.append(f"daemon exit on SIGTERM: {report.get('daemon_exit_code')}")
    return {"passed": not problems, "problems": problems, "rss_limit_kib": limit}
