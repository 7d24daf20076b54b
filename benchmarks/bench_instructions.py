"""Instructions per call of one load-run server under callgrind: a measure with no noise.

    benchmarks/.venv-bench/bin/python benchmarks/bench_instructions.py
        [--only ivrd-serve|ivrd-library|ivrd-protocol|floor ...] [--calls 300] [--concurrency 10]

CPU time on a shared machine moves by 10% from one minute to the next (docs/benchmarks.md runs
the CPU comparison in rounds for that reason), which hides a change of a few percent. The
number of instructions a server executes per call does not move: this runs the load run's
server (benchmarks/bench_load.py's command, not pinned) under `valgrind --tool=callgrind`,
calls it with the load generator (warm-up calls first, then the counters zeroed with
`callgrind_control`), and prints the instructions executed per call in user space (Python,
libraries; not the kernel's side of the system calls, and nothing about cache misses or
wake-ups, which CPU time includes). Compare two versions of ivrd with it, not ivrd with a peer:
a server that polls (greenswitch) executes instructions while it waits, and valgrind makes
every wait long. About a minute per server; needs valgrind.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_load import PYTHON, server_command
from load.procs import LoadGenerator, free_port, listening

SERVERS = ("ivrd-serve", "ivrd-library", "ivrd-protocol", "floor")
WARM_UP = 50
# Everything is about fifty times slower under valgrind: generous limits.
LISTEN_WITHIN, CALLS_WITHIN = 300.0, 1800.0


def instructions_per_call(name: str, calls: int, concurrency: int, work: Path) -> float:
    port = free_port()
    command, env = server_command(name, port, concurrency)
    out = work / f"{name}.callgrind"
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    generator = None
    try:
        deadline = time.monotonic() + LISTEN_WITHIN
        while not listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start listening under valgrind")
            time.sleep(0.2)
        generator = LoadGenerator(PYTHON, port, core=1)
        run(generator, WARM_UP, concurrency)
        control(["-z"], server.pid)  # start counting now: start-up and warm-up left out
        failed = run(generator, calls, concurrency)
        if failed:
            raise RuntimeError(f"{name}: {failed} of {calls} calls failed under valgrind")
        control(["-d"], server.pid)
        dumps = sorted(work.glob(f"{name}.callgrind.*"))
        if not dumps:
            raise RuntimeError(f"{name}: callgrind wrote no dump")
        return summary(dumps[-1]) / calls
    finally:
        if generator is not None:
            generator.stop()
        server.terminate()
        server.wait()


def run(generator: LoadGenerator, calls: int, concurrency: int) -> int:
    generator.send({"run": calls, "concurrency": concurrency})
    result = generator.receive("result", CALLS_WITHIN)
    return int(result["failed"])


def control(options: list[str], pid: int) -> None:
    subprocess.run(["callgrind_control", *options, str(pid)], check=True, capture_output=True)


def summary(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no summary line in {dump}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=SERVERS)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=10)
    options = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind (with callgrind_control) is needed: apt install valgrind")
    with tempfile.TemporaryDirectory(prefix="ivrd-instructions-") as work:
        for name in options.only or SERVERS:
            count = instructions_per_call(name, options.calls, options.concurrency, Path(work))
            print(f"{name:14s} {count / 1e6:7.3f} M instructions per call", flush=True)


if __name__ == "__main__":
    main()
