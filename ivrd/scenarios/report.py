"""What `ivrd test` prints, and its JUnit XML: text built here, printed by the CLI.

A pytest-like report: one line per scenario (`flows/acme-main.test.yaml::open PASSED`), then
for each failure what was expected and what happened, located in the scenario file, followed
by the call's trace (every step with its outcome and the applications it ran), the caller's
actions, the HTTP requests and the warnings ivrd logged; last the summary line.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from ivrd.engine import Trace
from ivrd.flow import Diagnostic
from ivrd.scenarios.expect import show_value
from ivrd.scenarios.runner import CallOutcome
from ivrd.scenarios.suite import ScenarioResult, SuiteRun

__all__ = [
    "format_details",
    "format_report",
    "format_result_line",
    "format_trace",
    "junit_xml",
]

WIDTH = 80


def _rule(title: str, char: str) -> str:
    text = f" {title} "
    side = max(3, (WIDTH - len(text)) // 2)
    return f"{char * side}{text}{char * side}"


def format_result_line(result: ScenarioResult) -> str:
    return f"{result.id} {'PASSED' if result.passed else 'FAILED'}"


def format_trace(trace: Trace, seconds: float) -> list[str]:
    """The steps of a call, one line each, with the applications each ran below it."""
    lines = [
        f"trace: {trace.flow}, disposition {trace.disposition}, "
        f"hangup cause {trace.hangup_cause}, {seconds:.2f}s simulated"
    ]
    for step in trace.steps:
        outcome = step.outcome or "(no outcome)"
        target = f" -> {step.target}" if step.target else ""
        where = "" if step.flow == trace.flow else f" [{step.flow}]"
        lines.append(
            f"  {step.started:8.2f}s  {step.step} ({step.type}){where}: {outcome}{target}"
            f"  ({step.duration:.2f}s)"
        )
        lines.extend(f"              {command}" for command in step.commands)
        if step.variables:
            shown = ", ".join(f"{k}={show_value(v)}" for k, v in step.variables.items())
            lines.append(f"              vars: {shown}")
        if step.error:
            lines.append(f"              error: {step.error}")
    if trace.commands:
        lines.append("  outside the steps: " + "; ".join(trace.commands))
    return lines


def _outcome_lines(outcome: CallOutcome) -> list[str]:
    lines: list[str] = []
    if outcome.trace is not None:
        lines += format_trace(outcome.trace, outcome.simulated)
    if outcome.actions:
        lines.append("caller: " + "; ".join(str(action) for action in outcome.actions))
    lines += [f"http: {request}" for request in outcome.requests]
    lines += [f"log: {line}" for line in outcome.logs]
    record = outcome.record
    if record is not None:
        lines += [f"fake FreeSWITCH: {note}" for note in record.notes]
    return lines


def _redact(outcome: CallOutcome, text: str) -> str:
    """Secrets and `sensitive` entries masked, as in the trace: the prompts heard, the channel
    variables, the requests and the caller's keys come from the fake's side, unmasked."""
    return outcome.trace.redact(text) if outcome.trace is not None else text


def format_details(result: ScenarioResult) -> str:
    """One failed scenario: its failures, then what the call did."""
    lines = [str(failure) for failure in result.failures]
    lines += _outcome_lines(result.outcome)
    return "\n".join([_rule(result.id, "_"), *(_redact(result.outcome, x) for x in lines)]) + "\n"


def format_problems(problems: Iterable[Diagnostic]) -> str:
    return "".join(f"{problem}\n" for problem in problems)


def format_report(run: SuiteRun, *, lines: bool = True) -> str:
    """The whole report; `lines=False` leaves out the per-scenario lines (already printed)."""
    out: list[str] = []
    if lines:
        out += [format_result_line(result) + "\n" for result in run.results]
    if run.problems:
        out.append(_rule("ERRORS", "=") + "\n")
        out.append(format_problems(run.problems))
    if run.failed:
        out.append(_rule("FAILURES", "=") + "\n")
        out += [format_details(result) for result in run.failed]
    out.append(_rule(run.summary(), "=") + "\n")
    return "".join(out)


def junit_xml(run: SuiteRun) -> str:
    """The run as JUnit XML: a test suite per scenario file, a test case per scenario."""
    root = ET.Element("testsuites", name="ivrd test", time=f"{run.seconds:.3f}")
    suites: dict[str, ET.Element] = {}

    def suite(file: str) -> ET.Element:
        if file not in suites:
            suites[file] = ET.SubElement(root, "testsuite", name=file)
        return suites[file]

    for problem in run.problems:
        case = ET.SubElement(suite(problem.file), "testcase", classname=problem.file, name="(file)")
        error = ET.SubElement(case, "error", message=problem.message)
        error.text = str(problem)
    for result in run.results:
        case = ET.SubElement(
            suite(result.case.file),
            "testcase",
            classname=result.case.file,
            name=result.case.name,
            time=f"{result.outcome.seconds:.3f}",
        )
        if not result.passed:
            message = _redact(result.outcome, result.failures[0].message)
            failure = ET.SubElement(case, "failure", message=message)
            failure.text = format_details(result)
    for element in suites.values():
        cases = element.findall("testcase")
        element.set("tests", str(len(cases)))
        element.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        element.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    root.set("tests", str(sum(len(e.findall("testcase")) for e in suites.values())))
    root.set("failures", str(len(run.failed)))
    root.set("errors", str(len(run.problems)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
