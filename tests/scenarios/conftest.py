"""Shared set-up: where the example flows and scenario fixtures are, and one run of the examples.

The scenarios of `flows/` are run once per test session (they take about a second) and the
result is shared by the tests that look into particular calls.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trio.testing import MockClock

from ivrd.scenarios import ScenarioResult, SuiteRun, run_tests

REPO = Path(__file__).resolve().parents[2]
FLOWS = REPO / "flows"
HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
BROKEN = HERE / "broken"


@pytest.fixture
def anyio_backend() -> Any:
    return ("trio", {"clock": MockClock(autojump_threshold=0)})


@pytest.fixture
def in_repo() -> Iterator[Path]:
    """Run with the repository as the working directory (files named as a user would)."""
    before = os.getcwd()
    os.chdir(REPO)
    try:
        yield REPO
    finally:
        os.chdir(before)


@pytest.fixture(scope="session")
def examples() -> tuple[SuiteRun, float]:
    """`ivrd test flows` as a library call, and the real seconds it took."""
    before = os.getcwd()
    os.chdir(REPO)
    try:
        clock = time.perf_counter()
        run = run_tests(["flows"])
        return run, time.perf_counter() - clock
    finally:
        os.chdir(before)


def result_named(run: SuiteRun, name: str) -> ScenarioResult:
    found = [result for result in run.results if result.case.name == name]
    assert len(found) == 1, f"no single scenario named {name!r}"
    return found[0]
