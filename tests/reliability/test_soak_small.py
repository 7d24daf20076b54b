"""Item 6 in CI: a small soak (benchmarks/soak.py --quick) must lose nothing and leak nothing.

The real thing, scaled down: `ivrd serve` in a child process, 50 warm-up calls, then 200 calls
through flows/acme-main.yaml at 50 concurrent from the fake FreeSWITCH, with random keys,
random caller hangups and a random fault on 30% of the calls. Run twice at once: the daemon on
asyncio with the fake on trio, and the other way round. Each run must end with every call
accounted for (none lost, none failed), the daemon's count in agreement, its file descriptors
and tasks back to their cold level, its RSS within 15% of the level after the warm-up, and a
clean exit on SIGTERM; the soak's own exit status says the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SOAK = REPO / "benchmarks" / "soak.py"
CALLS, CONCURRENCY, WARMUP = 200, 50, 50
BACKENDS = [("asyncio", "trio"), ("trio", "asyncio")]


def start(daemon: str, fake: str, report: Path, work: Path) -> subprocess.Popen[str]:
    command = [sys.executable, str(SOAK), "--quick", "--calls", str(CALLS)]
    command += ["--concurrency", str(CONCURRENCY), "--warmup", str(WARMUP)]
    command += ["--fault-rate", "0.3", "--seed", "6", "--json", str(report)]
    command += ["--daemon-backend", daemon, "--fake-backend", fake, "--work-dir", str(work)]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO
    )


@pytest.mark.slow
def test_a_small_soak_loses_nothing_and_leaks_nothing(tmp_path: Path) -> None:
    runs = {}
    for daemon, fake in BACKENDS:
        name = f"daemon-{daemon}-fake-{fake}"
        report = tmp_path / f"{name}.json"
        runs[name] = (start(daemon, fake, report, tmp_path / name), report)
    printouts = {}
    try:
        for name, (process, _) in runs.items():
            printouts[name], _ = process.communicate(timeout=300)
    finally:
        for process, _ in runs.values():  # a failed run leaves no process behind
            if process.poll() is None:
                process.kill()
                process.communicate()
    for name, (process, report_file) in runs.items():
        printout = printouts[name]
        assert process.returncode == 0, f"{name}:\n{printout}"
        report: dict[str, Any] = json.loads(report_file.read_text(encoding="utf-8"))
        soak, daemon = report["soak"], report["daemon"]
        outcomes = soak["outcomes"]
        assert soak["placed"] == CALLS
        assert outcomes["lost"] == outcomes["failed"] == 0, printout
        assert sum(outcomes.values()) == CALLS
        # The run did soak what it says: flows to their end, hangups, faults of several kinds.
        assert min(outcomes["normal"], outcomes["caller_hangup"], outcomes["fault"]) > 0, printout
        assert len(soak["faults_injected"]) >= 3, printout
        counts = daemon["metrics"]
        assert counts["started"] == counts["ended"]
        assert counts["active"] == 0
        assert counts["started"] >= CALLS  # of 250: some faults end a call before its flow
        assert daemon["after"]["fds"] == daemon["cold"]["fds"], printout
        assert daemon["after"]["tasks"] == daemon["cold"]["tasks"], printout
        # Each call holds a socket and at least a task: the gauges see the calls come and go.
        assert daemon["peak"]["fds"] > daemon["cold"]["fds"] + CONCURRENCY // 2
        assert daemon["peak"]["tasks"] > daemon["cold"]["tasks"] + CONCURRENCY // 2
        assert daemon["cold"]["tasks"] > 0
        assert daemon["log"]["tracebacks"] == 0
        assert report["daemon_exit_code"] == 0
        assert report["verdict"] == {
            "passed": True,
            "problems": [],
            "rss_limit_kib": report["verdict"]["rss_limit_kib"],
        }
        assert "verdict: PASS" in printout
