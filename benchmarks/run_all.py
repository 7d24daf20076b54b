"""Issue 8's comparison in one command: the parser run, the load run, then docs/benchmarks.md.

    benchmarks/setup.sh && benchmarks/.venv-bench/bin/python benchmarks/run_all.py [--quick]

Each run is its own process (bench_parser.py, then bench_load.py, each writing --json), so one
run's memory and warm caches do not colour the other's. Their JSON then goes to
report.write_report, which writes docs/benchmarks.md and the plots in docs/benchmarks/.

--quick runs small sizes (a smoke check of the whole chain, not figures to quote).
--parser-results/--load-results take a run's JSON from an earlier run instead of running it
(to redraw the page, or to try the report on made-up results); --keep DIR keeps the JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from report import environment, write_report

BENCH = Path(__file__).resolve().parent
DOCS = BENCH.parent / "docs"
PARSER_FULL = ["--events", "20000", "--repeat", "3"]
PARSER_QUICK = ["--events", "2000", "--repeat", "1"]


class RunFailed(Exception):
    """A run could not be made or did not finish: the page is not written."""


def run_script(script: str, arguments: list[str], results: Path) -> dict[str, Any]:
    path = BENCH / script
    if not path.exists():
        raise RunFailed(
            f"{path} is missing, so that run cannot be made "
            "(--parser-results/--load-results take an earlier run's JSON instead)"
        )
    command = [sys.executable, str(path), *arguments, "--json", str(results)]
    print(f"\n$ {' '.join(command)}", flush=True)
    finished = subprocess.run(command, cwd=BENCH.parent, check=False)
    if finished.returncode != 0:
        raise RunFailed(f"{script} exited with status {finished.returncode}")
    if not results.exists():
        raise RunFailed(f"{script} finished but wrote no results to {results}")
    loaded: dict[str, Any] = json.loads(results.read_text())
    return loaded


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--quick", action="store_true", help="small sizes: a smoke check")
    options.add_argument("--parser-results", type=Path, help="an earlier parser run's JSON")
    options.add_argument("--load-results", type=Path, help="an earlier load run's JSON")
    options.add_argument("--keep", type=Path, help="copy both runs' JSON into this directory")
    options.add_argument("--docs", type=Path, default=DOCS, help="where benchmarks.md goes")
    args = options.parse_args()

    env = environment()  # before the runs: the date is when they started
    scratch = Path(tempfile.mkdtemp(prefix="ivrd-benchmarks-"))
    try:
        if args.parser_results:
            parser = json.loads(args.parser_results.read_text())
        else:
            sizes = PARSER_QUICK if args.quick else PARSER_FULL
            parser = run_script("bench_parser.py", sizes, scratch / "parser.json")
        if args.load_results:
            load = json.loads(args.load_results.read_text())
        else:
            quick = ["--quick"] if args.quick else []
            load = run_script("bench_load.py", quick, scratch / "load.json")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name, results in (("parser.json", parser), ("load.json", load)):
                (args.keep / name).write_text(json.dumps(results, indent=2) + "\n")
    except RunFailed as exc:
        print(f"run_all: {exc}; docs not written", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    page = write_report(parser, load, args.docs, env, quick=args.quick)
    print(f"\nwrote {page}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
