"""The processes of a load run: the server under test and the load generator, and what /proc
says about them (CPU time, RSS, whether it listens, which libraries it loaded).

Used by benchmarks/bench_load.py. Linux only: everything is read from /proc.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LOAD_DIR = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of `pid` (/proc/PID/stat, in clock ticks)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def busy_seconds(cores: Iterable[int]) -> float:
    """CPU time all processes spent on these cores so far (/proc/stat's cpuN lines)."""
    wanted = {f"cpu{core}" for core in cores}
    total = 0
    with open("/proc/stat") as stat:
        for line in stat:
            fields = line.split()
            if fields and fields[0] in wanted:
                user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
                total += user + nice + system + irq + softirq + steal
    return total / CLOCK_TICKS


def listen_overflows() -> int:
    """How often an accept queue of this machine was full so far (TcpExt ListenOverflows):
    each time, the kernel dropped a handshake and the caller's side retries it after 1, 3, 7 ...
    seconds."""
    with open("/proc/net/netstat") as netstat:
        lines = [line.split() for line in netstat if line.startswith("TcpExt:")]
    names, values = lines[0], lines[1]
    return int(values[names.index("ListenOverflows")])


def wait_for_quiet(cores: Iterable[int], limit: float, share: float) -> bool:
    """Wait up to `limit` s for a second in which these cores are busy less than `share` of a
    core (other helpers' test runs come and go); whether it came."""
    cores = list(cores)
    deadline = time.monotonic() + limit
    while True:
        busy, began = busy_seconds(cores), time.monotonic()
        time.sleep(1.0)
        if (busy_seconds(cores) - busy) / (time.monotonic() - began) < share:
            return True
        if time.monotonic() > deadline:
            return False


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`, without connecting to it."""
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        next(table)
        return any(
            fields[1] == wanted and fields[3] == "0A" for fields in (line.split() for line in table)
        )


def maps_library(pid: int, name: str) -> bool:
    """Whether process `pid` has a shared library whose path contains `name` mapped."""
    with open(f"/proc/{pid}/maps") as maps:
        return any(name in line for line in maps)


def on_core(core: int, command: Sequence[str]) -> list[str]:
    """`command` pinned to `core` from its first instruction on (its threads inherit it)."""
    return ["taskset", "--cpu-list", str(core), *command]


class ServerProcess:
    """A server under test, pinned to one core, its output kept in a log file."""

    def __init__(
        self, command: Sequence[str], *, port: int, core: int, env: dict[str, str], log: Path
    ) -> None:
        self.port = port
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            on_core(core, command),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_listening(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not listening(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}): {self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not listen within {timeout:.0f} s")
            time.sleep(0.05)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> int:
        return rss_kib(self.pid)

    def tail(self, lines: int = 2) -> str:
        """The last lines of the server's output, on one line (the exception, usually)."""
        self._log_file.flush()
        text = self.log.read_bytes()[-4000:].decode("utf-8", "replace")
        return " / ".join(line.strip() for line in text.strip().splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


class LoadGenerator:
    """benchmarks/load/loadgen.py in a child process, spoken to in JSON lines."""

    def __init__(self, python: str, port: int, core: int) -> None:
        self.process = subprocess.Popen(
            on_core(core, [python, str(LOAD_DIR / "loadgen.py"), "--port", str(port)]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        self.receive("ready", 120.0)

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def receive(self, key: str, timeout: float) -> Any:
        """The value of `key` in the next message that has it; raises on timeout or exit."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {key!r} from the load generator within {timeout:.0f} s")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"the load generator exited ({self.process.wait()})")
            message = json.loads(line)
            if key in message:
                return message[key]

    def stop(self) -> None:
        """Close its input (it ends between runs at once); end it if a run is still going."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
