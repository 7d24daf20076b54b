"""The daemon under soak: `ivrd serve` as a child process, its logs, and what it weighs.

`start_daemon` writes a configuration and a flows directory (flows/acme-main.yaml, with the
CRM's base_url pointed at the soak's own CRM on loopback) into a work directory and starts
`ivrd serve` (launch.py) on free ports, logging JSON lines to stderr. `DaemonLog` reads them:
the ports, each call's start and end (with its disposition) by uuid, and how many lines were
warnings, errors and tracebacks. `measure` reads the process from outside: open file
descriptors and RSS from /proc/PID, the event loop's task count and the active calls from
`/metrics` (`ivrd_tasks`, `ivrd_calls_active`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpx

REPO = Path(__file__).resolve().parents[2]
FLOW = REPO / "flows" / "acme-main.yaml"
CRM_BASE_URL = "https://crm.acme.example/api/v2"
CRM_TOKEN = "soak-token"
LAUNCH = Path(__file__).resolve().with_name("launch.py")
COLLECTED = "soak: full garbage collection"


@dataclass
class DaemonLog:
    """What the daemon's JSON log lines said so far."""

    file: Path
    ports: dict[str, int] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    finished: dict[str, str] = field(default_factory=dict)
    levels: Counter[str] = field(default_factory=Counter)
    tracebacks: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    lines: int = 0
    collections: int = 0
    _ready: anyio.Event = field(default_factory=anyio.Event)
    _collected: anyio.Event = field(default_factory=anyio.Event)

    def take(self, raw: bytes) -> None:
        self.lines += 1
        try:
            line: dict[str, Any] = json.loads(raw)
        except ValueError:
            self.levels["not json"] += 1
            self.tracebacks.append(raw.decode(errors="replace")[:2000])
            return
        message, level = str(line.get("msg", "")), str(line.get("level", "?"))
        self.levels[level] += 1
        uuid = line.get("call_uuid")
        if message.startswith("running flow") and uuid:
            self.started.add(uuid)
        elif message.startswith("call finished") and uuid:
            self.finished[uuid] = str(line.get("disposition"))
        elif message.startswith("serving on"):
            self.ports["esl"] = int(line["port"])
        elif message.startswith("metrics and health on"):
            self.ports["http"] = int(message.rsplit(":", 1)[1].strip("/"))
        elif message.startswith(COLLECTED):
            self.collections += 1
            self._collected.set()
            self._collected = anyio.Event()
        if "exc" in line:
            self.tracebacks.append(f"{message}\n{line['exc']}"[:4000])
        elif level in ("error", "critical"):
            # Group by the message's text without numbers and uuids, for the report.
            self.errors["".join(c for c in message if not c.isdigit())[:160]] += 1
        if "esl" in self.ports and "http" in self.ports:
            self._ready.set()

    async def ready(self) -> None:
        await self._ready.wait()

    def next_collection(self) -> anyio.Event:
        """Set when the next full garbage collection is reported."""
        return self._collected


@dataclass
class Daemon:
    process: anyio.abc.Process
    log: DaemonLog
    backend: str
    stderr_read: anyio.Event = field(default_factory=anyio.Event)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def read_stderr(self) -> None:
        """Until the daemon's stderr ends (`stderr_read` is then set)."""
        assert self.process.stderr is not None
        buffered = b""
        try:
            with self.log.file.open("ab") as copy:
                async for chunk in self.process.stderr:
                    copy.write(chunk)
                    buffered += chunk
                    *complete, buffered = buffered.split(b"\n")
                    for raw in complete:
                        if raw.strip():
                            self.log.take(raw)
        except anyio.ClosedResourceError:
            pass  # closed under us: the process was killed and closed
        finally:
            self.stderr_read.set()


def write_setup(work: Path, crm_port: int, max_calls: int) -> Path:
    """The flows directory and config.yaml for the soak; the config's path."""
    flows = work / "flows"
    flows.mkdir(parents=True, exist_ok=True)
    text = FLOW.read_text(encoding="utf-8")
    if text.count(CRM_BASE_URL) != 1:
        raise RuntimeError(f"{FLOW} no longer names the CRM as {CRM_BASE_URL}")
    local = f"http://127.0.0.1:{crm_port}/api/v2"
    (flows / FLOW.name).write_text(text.replace(CRM_BASE_URL, local), encoding="utf-8")
    config = work / "config.yaml"
    config.write_text(
        "\n".join(
            [
                "listen: {host: 127.0.0.1, port: 0, backlog: 4096}",
                f"flows: {{directory: {flows}}}",
                "routing: {default: acme-main}",
                f"limits: {{max_calls: {max_calls}, drain_timeout: 10s}}",
                "logging: {level: info, format: json}",
                "http: {enabled: true, host: 127.0.0.1, port: 0}",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return config


async def start_daemon(config: Path, backend: str, core: int | None) -> Daemon:
    """`ivrd serve --config CONFIG` on `backend` (through launch.py), pinned to `core`."""
    command = [sys.executable, str(LAUNCH), str(config), backend]
    env = {name: value for name, value in os.environ.items() if not name.startswith("IVRD_")}
    env["IVRD_SECRET_CRM_TOKEN"] = CRM_TOKEN
    process = await anyio.open_process(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env
    )
    if core is not None:
        # Before Python has started a thread: every thread it makes inherits the core.
        os.sched_setaffinity(process.pid, {core})
    return Daemon(process, DaemonLog(config.parent / "ivrd.log"), backend)


@dataclass(frozen=True)
class Sample:
    """The daemon process at one moment."""

    rss_kib: int
    fds: int
    threads: int
    tasks: int
    active_calls: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as status:
        return dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)


async def scrape(http_port: int) -> dict[str, float]:
    """The daemon's /metrics, as {sample name with labels: value} (one fresh connection)."""
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        response = await client.get(f"http://127.0.0.1:{http_port}/metrics")
    response.raise_for_status()
    values: dict[str, float] = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def measure(daemon: Daemon) -> tuple[Sample, dict[str, float]]:
    """fds and RSS from /proc (while no scrape is open), then tasks and calls from /metrics."""
    pid = daemon.pid
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    status = _status(pid)
    metrics = await scrape(daemon.log.ports["http"])
    active = sum(value for name, value in metrics.items() if name.startswith("ivrd_calls_active"))
    sample = Sample(
        rss_kib=int(status["VmRSS"].split()[0]),
        fds=fds,
        threads=int(status["Threads"]),
        tasks=int(metrics.get("ivrd_tasks", -1)),
        active_calls=int(active),
    )
    return sample, metrics


async def measure_collected(daemon: Daemon) -> Sample:
    """`measure` after a full garbage collection in the daemon (see launch.py)."""
    collected = daemon.log.next_collection()
    daemon.process.send_signal(signal.SIGUSR1)
    with anyio.fail_after(60):
        await collected.wait()
    return (await measure(daemon))[0]
