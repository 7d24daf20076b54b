"""The pytest-like report and the JUnit XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ivrd.scenarios import run_tests
from ivrd.scenarios.report import format_report, junit_xml

from .conftest import BROKEN, FIXTURES


def test_the_report_shows_each_scenario_then_each_failure_with_its_trace() -> None:
    run = run_tests(
        [str(FIXTURES / "clock.scenarios.yaml"), str(FIXTURES / "failing.scenarios.yaml")]
    )
    text = format_report(run)
    lines = text.splitlines()
    clock, failing = FIXTURES / "clock.scenarios.yaml", FIXTURES / "failing.scenarios.yaml"
    assert lines[0] == f"{clock}::closing time passes during the call PASSED"
    assert f"{failing}::wrong path FAILED" in lines
    assert lines[11].startswith("=")
    assert " FAILURES " in lines[11]
    block = text[text.index(f" {failing}::wrong path _") :]
    block = block[: block.index("\n___")]
    patterns = [
        re.escape(
            f"{failing}:6:7: scenarios.wrong path.expect.path: the steps visited differ;"
            " then 'goodbye' too"
        ),
        r"  expected: hello",
        r"  actual:   hello > goodbye",
        r"trace: hello, disposition hangup, hangup cause NORMAL_CLEARING, [\d.]+s simulated",
        r" +0\.00s  hello \(play\): next -> goodbye  \([\d.]+s\)",
        r" +answer",
        r" +speak flite\|kal\|Hello, and thank you for calling\. Goodbye!",
        r" +[\d.]+s  goodbye \(hangup\): hangup  \([\d.]+s\)",
        r" +hangup NORMAL_CLEARING",
        r"  outside the steps: multiset .*",
    ]
    shown = block.splitlines()[1:]
    assert len(shown) == len(patterns), shown
    for line, pattern in zip(shown, patterns, strict=True):
        assert re.fullmatch(pattern, line), line
    summary = lines[-1]
    assert summary.startswith("=")
    assert summary.endswith("=")
    assert " 4 passed, 7 failed in " in summary


def test_junit_xml(tmp_path: Path) -> None:
    run = run_tests(
        [
            str(FIXTURES / "clock.scenarios.yaml"),
            str(FIXTURES / "failing.scenarios.yaml"),
            str(BROKEN / "field-misspelled.yaml"),
        ]
    )
    root = ET.fromstring(junit_xml(run))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("12", "7", "1")
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    failing = suites[str(FIXTURES / "failing.scenarios.yaml")]
    assert (failing.get("tests"), failing.get("failures")) == ("7", "7")
    case = next(c for c in failing.iter("testcase") if c.get("name") == "wrong path")
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "the steps visited differ; then 'goodbye' too"
    assert failure.text is not None
    assert "actual:   hello > goodbye" in failure.text
    broken = suites[str(BROKEN / "field-misspelled.yaml")]
    error = broken.find("testcase/error")
    assert error is not None
    assert error.get("message") == "unknown field 'pth'; did you mean 'path'?"
    passed = suites[str(FIXTURES / "clock.scenarios.yaml")]
    assert [c.find("failure") for c in passed.iter("testcase")] == [None] * 4
    assert all(float(c.get("time") or "x") >= 0 for c in passed.iter("testcase"))


def test_file_problems_come_first_and_count_as_errors() -> None:
    run = run_tests([str(BROKEN / "field-misspelled.yaml"), str(FIXTURES / "clock.scenarios.yaml")])
    assert run.exit_code == 2
    text = format_report(run)
    assert " ERRORS " in text
    assert f"{BROKEN / 'field-misspelled.yaml'}:5:7: scenarios.greets.expect.pth:" in text
    assert run.summary().startswith("4 passed, 1 error in ")
