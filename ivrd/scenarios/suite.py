"""`ivrd test` as a library call: find scenario files, load them, run every case, judge it.

`run_tests(paths)` returns a `SuiteRun` (results, file problems, timing); it never prints.
Exit codes for CI follow pytest: 0 every scenario passed, 1 some failed, 2 a file could not
be used (a path that does not exist, a scenario file or flow with errors, nothing found).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ivrd.flow import Diagnostic, LoadResult, Severity
from ivrd.scenarios.expect import Failure, check_outcome
from ivrd.scenarios.loading import ScenarioCase, find_scenario_files, load_scenario_file
from ivrd.scenarios.runner import DEFAULT_CONCURRENCY, CallOutcome, run_cases

__all__ = ["ScenarioResult", "SuiteRun", "run_tests"]


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """One scenario: the case, what its call did, and what was wrong with it."""

    case: ScenarioCase
    outcome: CallOutcome
    failures: tuple[Failure, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def id(self) -> str:
        return self.case.id


@dataclass(slots=True)
class SuiteRun:
    """Everything `ivrd test` found and ran."""

    paths: tuple[str, ...]
    files: list[str] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)
    """Files that could not be used, with why (errors only)."""
    results: list[ScenarioResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> list[ScenarioResult]:
        return [result for result in self.results if result.passed]

    @property
    def failed(self) -> list[ScenarioResult]:
        return [result for result in self.results if not result.passed]

    @property
    def exit_code(self) -> int:
        if self.problems or not self.files:
            return 2
        return 1 if self.failed else 0

    def summary(self) -> str:
        """`3 passed, 1 failed in 0.42s`, pytest's last line."""
        parts = [f"{len(self.passed)} passed"]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        files_with_errors = len({problem.file for problem in self.problems})
        if files_with_errors:
            parts.append(f"{files_with_errors} error{'s' if files_with_errors > 1 else ''}")
        return f"{', '.join(parts)} in {self.seconds:.2f}s"


def load_cases(paths: Sequence[str], run: SuiteRun) -> list[ScenarioCase]:
    files, problems = find_scenario_files(paths)
    run.files = files
    run.problems.extend(problems)
    if not files and not problems:
        where = ", ".join(paths)
        run.problems.append(
            Diagnostic(where, 1, 1, "", "no scenario files (*.test.yaml) found here")
        )
    flows: dict[Path, LoadResult] = {}
    cases: list[ScenarioCase] = []
    for file in files:
        loaded = load_scenario_file(file, flows)
        run.problems.extend(d for d in loaded.diagnostics if d.severity is Severity.ERROR)
        cases.extend(loaded.cases)
    return cases


def run_tests(
    paths: Sequence[str],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_result: Callable[[ScenarioResult], None] | None = None,
) -> SuiteRun:
    """Find, load, run and judge the scenarios under `paths` (files or directories).

    `on_result` is called with each result as its scenario finishes, for progress output.
    """
    clock = time.perf_counter()
    run = SuiteRun(tuple(paths))
    cases = load_cases(paths, run)
    by_case: dict[int, ScenarioResult] = {}

    def done(case: ScenarioCase, outcome: CallOutcome) -> None:
        result = ScenarioResult(case, outcome, tuple(check_outcome(case, outcome)))
        by_case[id(case)] = result
        if on_result is not None:
            on_result(result)

    if cases:
        run_cases(cases, concurrency=concurrency, done=done)
    run.results = [by_case[id(case)] for case in cases]
    run.seconds = time.perf_counter() - clock
    return run
