#!/usr/bin/env bash
# The benchmarks' own environment: ivrd with its `bench` extra (the Python peers genesis and
# greenswitch, gevent, matplotlib, uvloop, atheris), kept apart from ivrd's runtime dependencies.
#   benchmarks/setup.sh && benchmarks/.venv-bench/bin/python benchmarks/run_all.py
# benchmarks/README.md describes every script in benchmarks/.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv benchmarks/.venv-bench
benchmarks/.venv-bench/bin/pip install -q -e '.[test,bench]'
