"""The load run: ivrd and the Python peers serving the same call, N calls at once.

    benchmarks/.venv-bench/bin/python benchmarks/bench_load.py [--quick] [--json PATH]
        [--only ivrd-serve|ivrd-library|genesis|greenswitch|ivrd-protocol|floor ...]
        [--concurrency N ...]

The fake FreeSWITCH (`ivrd.testing`, benchmarks/load/loadgen.py) runs in its own process pinned
to one core and dials N calls at once; the server runs in another process pinned to the other
core. Every call is the same six applications: answer, playback, play_and_get_digits (the caller
presses 42#), set a channel variable from the digits, playback, hangup, with a SIP call's
channel data (7 KB `connect` reply, 5-6 KB events). The four servers (benchmarks/load/):

- ivrd-serve: `ivrd serve` with the flow flows/six-steps.yaml (ivrd-serve.yaml: defaults,
  logging at warning, no HTTP endpoint);
- ivrd-library: a hand-written OutboundServer + OutboundSession (ivrd_library.py);
- genesis, greenswitch: the peers as their READMEs show them (peer_genesis.py, peer_greenswitch.py).

And two references, which are not servers to run (no time limits, no error handling) but say
where a call's CPU goes, as the parser run's floors do for parsing:

- floor: the same exchange as one asyncio protocol per call with the least Python there can be:
  frames found by searching the bytes, nothing decoded (floor.py);
- ivrd-protocol: the floor's callbacks with ivrd's sans-I/O layer doing the framing, reading and
  command building (ivrd_protocol.py). ivrd-library above it is the session's share (tasks,
  waits, time limits), ivrd-serve above that the flow engine's and the daemon's.

Per implementation and concurrency N, one fresh server process, warmed up with a few calls, then
two runs (each once: nothing is repeated or best-of; rerun to see the noise):

- memory: N calls at once; each greeting plays until all N calls are in it (or no more arrive
  for 5 s). The server's RSS then, minus its RSS before the run, over the k calls up, is the
  memory per active call. The greetings are then cut short and the calls go on to their end.
- throughput: 2N calls (at least 1000; --quick: 200), N at a time (a call that ends makes room
  for the next, as on N busy lines), no prompt taking any time. calls/s = completed calls over
  the whole run (ramp-up and tail included); server CPU per call = the server's utime+stime
  (/proc/PID/stat, 10 ms ticks) over the run and 1.5 s after it, over all calls placed (failed
  ones too, which is the lower figure for a server that loses calls); turnaround =
  the fake's time from sending a CHANNEL_EXECUTE_COMPLETE to receiving the next `sendmsg`, p50
  and p99 over every step of every call. With N calls busy the server's core is shared, so the
  turnaround includes waiting behind the other calls' work (and, when the load generator's core
  is busy, the fake's own queueing: its CPU time and how busy it was are printed).

A call failed when it did not connect, its server did not send `connect` within 25 s (as
FreeSWITCH), it did not run the six applications to a hangup by the server within 300 s, or the
fake saw a protocol violation (a sendmsg without Event-UUID is allowed: FreeSWITCH takes it).
`calls`, `completed` and `failed` count both runs. A row's note says DISTURBED when other
processes took more than 10% of a core on the two cores during its throughput run (each row
first waits up to 30 s for them to be quiet): rerun it on a quiet machine. Then rounds:
ivrd-serve and greenswitch take turns for four more throughput runs each per N (--quick: one),
and the CPU and p99 targets are judged on the median of the five (`cpu_rounds`). At the end, a
growth check: ivrd-serve serves 5 batches of 1000 calls (200 at a time) in one process; its
CPU per call and RSS must stay flat.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _load import percentile, pin_to
from load.procs import (
    LoadGenerator,
    ServerProcess,
    busy_seconds,
    free_port,
    listen_overflows,
    maps_library,
    wait_for_quiet,
)
from load.targets import print_targets

BENCH = Path(__file__).resolve().parent
LOAD = BENCH / "load"
BENCH_VENV_PYTHON = BENCH / ".venv-bench" / "bin" / "python"
PYTHON = str(BENCH_VENV_PYTHON) if BENCH_VENV_PYTHON.exists() else sys.executable
IMPLEMENTATIONS = ["ivrd-serve", "ivrd-library", "genesis", "greenswitch", "ivrd-protocol", "floor"]
CORES = sorted(os.sched_getaffinity(0))
SERVER_CORE, LOADGEN_CORE = CORES[0], CORES[-1]
WARMUP_CALLS = 5
SETTLE = 1.5
"""Seconds after a run before the server's CPU and RSS are read: greenswitch's sessions poll
their event queue once a second before they end."""
RUN_TIMEOUT = 420.0
DISTURBED = 0.1
"""Other processes taking more than this share of a core on the server's and the load
generator's cores during a throughput run taint it."""
QUIET_WAIT = 30.0
"""Before each row, seconds to wait at most for the machine to be quiet (see DISTURBED)."""
FULL, QUICK = [50, 200, 1000], [20, 50]
ROUNDS = 2
"""A throughput run places ROUNDS * N calls (at least FULL_CALLS), N at a time."""
FULL_CALLS, QUICK_CALLS = 1000, 200
CPU_ROUNDS, QUICK_CPU_ROUNDS = 5, 2
"""Rounds of the comparison with greenswitch (the table's run is the first): see
`cpu_rounds`."""


def server_command(name: str, port: int, concurrency: int) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    if name == "ivrd-serve":
        env["IVRD_LISTEN_PORT"] = str(port)
        return [PYTHON, "-m", "ivrd", "serve", "--config", str(LOAD / "ivrd-serve.yaml")], env
    script = {
        "ivrd-library": "ivrd_library.py",
        "genesis": "peer_genesis.py",
        "greenswitch": "peer_greenswitch.py",
        "ivrd-protocol": "ivrd_protocol.py",
        "floor": "floor.py",
    }[name]
    command = [PYTHON, str(LOAD / script), "--port", str(port)]
    if name == "greenswitch":
        command += ["--max-connections", str(max(1000, 10 * concurrency))]
    return command, env


def event_loop(name: str, pid: int) -> str:
    if name == "greenswitch":
        return "gevent"
    return "uvloop" if maps_library(pid, "uvloop") else "asyncio"


def start(name: str, concurrency: int, logs: Path) -> tuple[ServerProcess, LoadGenerator]:
    port = free_port()
    command, env = server_command(name, port, concurrency)
    log = logs / f"{name}-{concurrency}.log"
    server = ServerProcess(command, port=port, core=SERVER_CORE, env=env, log=log)
    try:
        server.wait_listening()
        generator = LoadGenerator(PYTHON, port, LOADGEN_CORE)
    except Exception:
        server.stop()
        raise
    return server, generator


def run_calls(generator: LoadGenerator, calls: int, concurrency: int) -> dict[str, Any]:
    generator.send({"run": calls, "concurrency": concurrency})
    result: dict[str, Any] = generator.receive("result", RUN_TIMEOUT)
    return result


def measure(name: str, concurrency: int, calls: int, logs: Path) -> dict[str, Any]:
    """One row: memory run, then throughput run (`calls` calls), in a fresh server process."""
    wait_for_quiet({SERVER_CORE, LOADGEN_CORE}, QUIET_WAIT, DISTURBED)
    server, generator = start(name, concurrency, logs)
    try:
        warmup = run_calls(generator, WARMUP_CALLS, WARMUP_CALLS)
        if warmup["completed"] == 0:
            failures = ", ".join(f"{n} {why}" for why, n in warmup["failures"].items())
            raise RuntimeError(
                f"the warm-up calls failed ({failures}); server log ({server.log}): {server.tail()}"
            )
        time.sleep(SETTLE)
        idle, overflows = server.rss(), listen_overflows()
        generator.send({"run": concurrency, "hold": True})
        peak = generator.receive("peak", RUN_TIMEOUT)
        held_rss = server.rss()
        generator.send({"go": True})
        held = generator.receive("result", RUN_TIMEOUT)
        time.sleep(SETTLE)
        ours = {SERVER_CORE, LOADGEN_CORE}
        cpu, busy, began = server.cpu(), busy_seconds(ours), time.perf_counter()
        fast = run_calls(generator, calls, concurrency)
        time.sleep(SETTLE)
        cpu = server.cpu() - cpu
        others = busy_seconds(ours) - busy - cpu - fast["loadgen_cpu"]
        others /= time.perf_counter() - began
        overflows = listen_overflows() - overflows
        loop = event_loop(name, server.pid)
    finally:
        generator.stop()
        server.stop()
    turnarounds = fast["turnarounds"]
    notes = [f"event loop {loop}"]
    if peak < concurrency:
        notes.append(f"memory measured with {peak} of {concurrency} calls up")
    notes += run_notes(fast, held, overflows, others)
    if fast["example"] or held["example"]:
        (logs / f"{name}-{concurrency}.failed-call.txt").write_text(
            fast["example"] or held["example"]
        )
    return {
        "concurrency": concurrency,
        "calls": fast["calls"] + held["calls"],
        "completed": fast["completed"] + held["completed"],
        "failed": fast["failed"] + held["failed"],
        "calls_per_s": round(fast["completed"] / fast["elapsed"], 1),
        "server_cpu_ms_per_call": round(cpu / calls * 1000, 2),
        "turnaround_p50_ms": round(percentile(turnarounds, 0.5) * 1000, 3) if turnarounds else 0.0,
        "turnaround_p99_ms": round(percentile(turnarounds, 0.99) * 1000, 3) if turnarounds else 0.0,
        "memory_kib_per_call": round((held_rss - idle) / peak, 1) if peak else 0.0,
        "loadgen_cpu_s": round(fast["loadgen_cpu"], 2),
        "note": "; ".join(notes),
    }


def measure_round(name: str, concurrency: int, calls: int, logs: Path) -> dict[str, float]:
    """One throughput run (`calls` calls) in a fresh server: its server CPU ms per call placed
    and its p99 turnaround, as the table's columns count them."""
    wait_for_quiet({SERVER_CORE, LOADGEN_CORE}, QUIET_WAIT, DISTURBED)
    server, generator = start(name, concurrency, logs)
    try:
        run_calls(generator, WARMUP_CALLS, WARMUP_CALLS)
        time.sleep(SETTLE)
        cpu = server.cpu()
        result = run_calls(generator, calls, concurrency)
        time.sleep(SETTLE)
        cpu = server.cpu() - cpu
    finally:
        generator.stop()
        server.stop()
    if result["failed"]:  # (the peers lose calls at 1000: counted as in the table's run)
        print(f"{name} at {concurrency}: {result['failed']} of {calls} calls failed", flush=True)
    turnarounds = result["turnarounds"]
    return {
        "cpu": round(cpu / calls * 1000, 2),
        "p99": round(percentile(turnarounds, 0.99) * 1000, 3) if turnarounds else 0.0,
    }


def cpu_rounds(
    names: list[str], sizes: list[int], floor: int, rounds: int, logs: Path
) -> list[dict[str, Any]]:
    """More runs of ivrd-serve and greenswitch, taking turns, for the targets that compare them.

    The table runs each implementation once, minutes apart; on a shared machine the host's
    own load moves a run's CPU per call by a tenth or more in that time (a slow spell has
    moved it by half), and so the ratios. Here the two alternate (the first of a pair changes
    every round), so that a slow spell slows both; the CPU and p99 turnaround targets are
    judged on the median of every run, the table's included.
    """
    pair = [name for name in ("ivrd-serve", "greenswitch") if name in names]
    rows: list[dict[str, Any]] = []
    if len(pair) < 2:
        return rows
    for round_number in range(2, rounds + 1):
        for size in sizes:
            order = pair if round_number % 2 else pair[::-1]
            for name in order:
                calls = max(floor, ROUNDS * size)
                row: dict[str, Any] = {"round": round_number, "name": name, "concurrency": size}
                try:
                    row.update(measure_round(name, size, calls, logs))
                except Exception as exc:
                    print(f"cpu round {round_number}, {name} at {size}: {exc}", flush=True)
                    row.update(cpu=None, p99=None)
                rows.append(row)
                shown = (
                    "not measured"
                    if row["cpu"] is None
                    else f"{row['cpu']:.2f} ms CPU per call, p99 {row['p99']:.2f} ms"
                )
                print(f"cpu round {round_number}, {name} at {size}: {shown}", flush=True)
    return rows


def run_notes(
    fast: dict[str, Any], held: dict[str, Any], overflows: int, others: float
) -> list[str]:
    """What a reader needs to trust (or distrust) a row."""
    notes = []
    if overflows:
        notes.append(f"accept queue full {overflows} times (handshakes dropped, retried)")
    waited = fast["connect_waits_over_1s"] + held["connect_waits_over_1s"]
    if waited:
        longest = max(w for w in (fast["connect_wait_max"], held["connect_wait_max"]) if w)
        notes.append(f"{waited} calls waited >= 1 s for the server's connect (max {longest:.1f} s)")
    for run, result in (("throughput", fast), ("memory", held)):
        if result["failed"]:
            reasons = "; ".join(f"{n} {why}" for why, n in result["failures"].items())
            notes.append(f"{run} run failures: {reasons}")
    if others > DISTURBED:
        notes.append(f"DISTURBED: other processes took {others:.0%} of a core on these cores")
    busy = fast["loadgen_cpu"] / fast["elapsed"] if fast["elapsed"] else 0.0
    notes.append(
        f"{fast['events_per_call']:.0f} events ({fast['bytes_per_call'] / 1024:.0f} KiB) per call; "
        f"load generator busy {busy:.0%} of the throughput run"
    )
    return notes


def failed_row(concurrency: int, calls: int, error: Exception) -> dict[str, Any]:
    return {
        "concurrency": concurrency,
        "calls": calls + concurrency,
        "completed": 0,
        "failed": calls + concurrency,
        "calls_per_s": 0.0,
        "server_cpu_ms_per_call": 0.0,
        "turnaround_p50_ms": 0.0,
        "turnaround_p99_ms": 0.0,
        "memory_kib_per_call": 0.0,
        "loadgen_cpu_s": 0.0,
        "note": f"not measured: {error}"[:500],
    }


def growth(batches: int, size: int, concurrency: int, logs: Path) -> list[dict[str, Any]]:
    """ivrd-serve: `batches` runs of `size` calls (`concurrency` at a time) in one process."""
    server, generator = start("ivrd-serve", concurrency, logs)
    rows = []
    try:
        run_calls(generator, WARMUP_CALLS, WARMUP_CALLS)
        for batch in range(1, batches + 1):
            time.sleep(SETTLE)
            cpu = server.cpu()
            result = run_calls(generator, size, concurrency)
            time.sleep(SETTLE)
            row = {
                "batch": batch,
                "cpu_ms_per_call": round((server.cpu() - cpu) / size * 1000, 2),
                "rss_kib": server.rss(),
            }
            rows.append(row)
            print(
                f"growth, ivrd-serve, batch {batch} ({size} calls, {concurrency} at a time): "
                f"{row['cpu_ms_per_call']:.2f} ms CPU per call, RSS {row['rss_kib']} KiB"
                + (f", {result['failed']} calls failed" if result["failed"] else ""),
                flush=True,
            )
    finally:
        generator.stop()
        server.stop()
    return rows


def environment() -> dict[str, Any]:
    probe = (
        "import sys, json, importlib.metadata as m\n"
        "def v(p):\n"
        "    try: return m.version(p)\n"
        "    except m.PackageNotFoundError: return None\n"
        "print(json.dumps({'python': sys.version.split()[0], 'versions': {p: v(p) for p in "
        "['ivrd', 'genesis', 'greenswitch', 'gevent', 'anyio', 'uvloop']}}))"
    )
    found = json.loads(subprocess.run([PYTHON, "-c", probe], capture_output=True).stdout)
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "python": found["python"],
        "cpu": cpu,
        "cores": os.cpu_count() or 1,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "kernel": platform.release(),
        "versions": found["versions"],
        "pinning": f"server on core {SERVER_CORE}, load generator on core {LOADGEN_CORE}",
        "load_generator": "ivrd.testing.FakeFreeSWITCH (benchmarks/load/loadgen.py), asyncio",
    }


COLUMNS = (
    ("implementation", 13, "{}"),
    ("N", 5, "{}"),
    ("calls", 6, "{}"),
    ("ok", 6, "{}"),
    ("failed", 6, "{}"),
    ("calls/s", 8, "{:.1f}"),
    ("CPU ms/call", 11, "{:.2f}"),
    ("p50 ms", 8, "{:.2f}"),
    ("p99 ms", 8, "{:.2f}"),
    ("KiB/call", 8, "{:.1f}"),
    ("loadgen s", 9, "{:.2f}"),
)


def print_row(name: str, row: dict[str, Any]) -> None:
    values = (
        name,
        row["concurrency"],
        row["calls"],
        row["completed"],
        row["failed"],
        row["calls_per_s"],
        row["server_cpu_ms_per_call"],
        row["turnaround_p50_ms"],
        row["turnaround_p99_ms"],
        row["memory_kib_per_call"],
        row["loadgen_cpu_s"],
    )
    cells = [fmt.format(v).rjust(width) for (_, width, fmt), v in zip(COLUMNS, values, strict=True)]
    print(" ".join(cells) + f"   {row['note']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--quick", action="store_true", help=f"concurrency {QUICK}")
    parser.add_argument("--only", action="append", choices=IMPLEMENTATIONS)
    parser.add_argument("--concurrency", action="append", type=int)
    options = parser.parse_args()
    names = options.only or IMPLEMENTATIONS
    sizes = options.concurrency or (QUICK if options.quick else FULL)
    floor = QUICK_CALLS if options.quick else FULL_CALLS
    pin_to(len(CORES) - 1)  # this process stays off the server's core
    # A SIGTERM (a timeout around the run) unwinds like Ctrl+C: servers and loadgen are stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    logs = Path(tempfile.mkdtemp(prefix="ivrd-bench-load-"))
    print(f"load run: {names} at {sizes} concurrent calls; server logs in {logs}", flush=True)
    print(" ".join(title.rjust(width) for title, width, _ in COLUMNS) + "   note", flush=True)
    report: dict[str, Any] = {"implementations": []}
    for name in names:
        runs = []
        for size in sizes:
            calls = max(floor, ROUNDS * size)
            try:
                row = measure(name, size, calls, logs)
            except Exception as exc:
                row = failed_row(size, calls, exc)
            runs.append(row)
            print_row(name, row)
        report["implementations"].append({"name": name, "runs": runs})
    rounds = QUICK_CPU_ROUNDS if options.quick else CPU_ROUNDS
    report["cpu_rounds"] = cpu_rounds(names, sizes, floor, rounds, logs)
    if "ivrd-serve" in names:
        batches, size, concurrency = (3, 200, 50) if options.quick else (5, 1000, 200)
        try:
            report["growth"] = growth(batches, size, concurrency, logs)
        except Exception as exc:
            report["growth"] = []
            print(f"growth check not measured: {exc}", flush=True)
    report["environment"] = environment()
    print_targets(report)
    if options.json:
        options.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
