"""Soak: 20,000 calls through the company main line (flows/acme-main.yaml) at 500 concurrent.

    python benchmarks/soak.py [--calls 20000] [--concurrency 500] [--fault-rate 0.1] [--seed 1]
                              [--json soak.json] [--quick]

The real daemon (`ivrd serve`, a child process pinned to the first core) serves calls from
the fake FreeSWITCH (this process, on the second core): random callers who press keys,
stay silent, hang up at random moments, and on a share of calls a random fault of
`ivrd.testing.faults` (the socket closes mid-application, mid-reply, mid-frame; no reply ever
comes; an unknown application; CHANNEL_HANGUP before EXECUTE_COMPLETE; a disconnect notice with
and without linger). acme-main's CRM is a small HTTP server in this process. It prints calls
placed, completed, ended by caller hangup, ended by a fault, failed and lost; the daemon's RSS,
file descriptors and tasks cold, after a warm-up, at peak and after the soak; and a verdict.
Exit status 0 only if nothing was lost or failed, fds and tasks came back to their cold level,
RSS stayed within tolerance and the daemon exited cleanly on SIGTERM. See benchmarks/soak/ for
the rules, and tests/reliability/README.md (item 6).

`--quick` is the CI variant: prompts of 50 ms, no silent callers and no ringing out (5 s and
20 s waits), no `no_reply` fault (30 s reply timeouts), and no slow CRM answers.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

import anyio
from soak.callers import Behaviour
from soak.main import Options, run_soak
from soak.report import render

from ivrd.testing import FAULT_KINDS


def options_from(argv: list[str] | None = None) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--warmup", type=int, help="warm-up calls first (default: 2 x concurrency)")
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument("--hangup-rate", type=float, default=0.15)
    parser.add_argument("--faults", help=f"comma-separated kinds (default: all of {FAULT_KINDS})")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the whole report here")
    parser.add_argument("--deadline", type=float, default=300.0, help="s before a call is lost")
    parser.add_argument("--rss-tolerance", type=float, default=0.15)
    parser.add_argument("--daemon-backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--fake-backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--work-dir", type=Path, help="config, flows and the daemon's log")
    parser.add_argument("--quick", action="store_true", help="the CI variant (see above)")
    args = parser.parse_args(argv)
    kinds = tuple(args.faults.split(",")) if args.faults else FAULT_KINDS
    unknown = set(kinds) - set(FAULT_KINDS)
    if unknown:
        parser.error(f"unknown fault kinds: {', '.join(sorted(unknown))}")
    behaviour = Behaviour(
        fault_rate=args.fault_rate, hangup_rate=args.hangup_rate, fault_kinds=kinds
    )
    options = Options(
        calls=args.calls,
        concurrency=args.concurrency,
        warmup=2 * args.concurrency if args.warmup is None else args.warmup,
        behaviour=behaviour,
        seed=args.seed,
        deadline=args.deadline,
        rss_tolerance=args.rss_tolerance,
        daemon_backend=args.daemon_backend,
        fake_backend=args.fake_backend,
        work_dir=args.work_dir,
    )
    if args.quick:
        quick_kinds = tuple(kind for kind in kinds if kind != "no_reply")
        behaviour = replace(
            behaviour, media_seconds=0.05, slow=False, hangup_within=1.0, fault_kinds=quick_kinds
        )
        options = replace(options, behaviour=behaviour, crm_slow_rate=0.0, settle=10.0)
    return options, args.json


def main() -> int:
    options, json_path = options_from()
    # The fake and the CRM log nothing worth a line per call.
    logging.getLogger("ivrd").addHandler(logging.NullHandler())
    logging.getLogger("ivrd").propagate = False
    report = anyio.run(run_soak, options, backend=options.fake_backend)
    print(render(report), flush=True)
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    return 0 if report["verdict"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
