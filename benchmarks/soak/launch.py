"""How the soak starts the daemon: `run_daemon`, which is all `ivrd serve --config` does, plus
one thing for the measurement: SIGUSR1 runs a full garbage collection and says so on stderr.

    python benchmarks/soak/launch.py CONFIG asyncio|trio

Why: a call leaves reference cycles behind (exceptions with their tracebacks, finished
sessions); CPython frees them only at its next full collection, which comes more rarely the
more objects the process holds. Weighed without one, the daemon's RSS counts garbage still
waiting (tens of MB at hundreds of calls). The soak asks for a collection before it weighs the
start and the end, so it compares what the daemon really keeps.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
from types import FrameType

from ivrd.daemon import run_daemon

COLLECTED = "soak: full garbage collection"


def collect(signum: int, frame: FrameType | None) -> None:
    found = gc.collect()
    line = {"level": "info", "logger": "soak", "msg": f"{COLLECTED}, {found} unreachable objects"}
    os.write(2, (json.dumps(line) + "\n").encode())  # one write: no line of the log is split


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, collect)
    sys.exit(run_daemon(sys.argv[1], backend=sys.argv[2]))
