"""`ivrd validate`, `ivrd schema` and `ivrd graph`: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivrd.cli import main
from ivrd.flow import flow_json_schema

ROOT = Path(__file__).resolve().parents[1]
FLOWS = ROOT / "flows"
BROKEN = ROOT / "tests" / "flow" / "broken"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(ROOT)
    return CliRunner()


def test_validate_clean_flows(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", "flows"])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "4 files checked: 0 errors, 0 warnings\n"


def test_validate_reports_errors_and_exits_1(runner: CliRunner) -> None:
    result = runner.invoke(
        main, ["validate", "tests/flow/broken/digits-min-above-max.yaml", "flows/hello.yaml"]
    )
    assert result.exit_code == 1
    assert result.stdout == (
        "tests/flow/broken/digits-min-above-max.yaml:9:19: steps.account.digits.min: "
        "must be at most 'max' (6)\n"
    )
    assert result.stderr == "2 files checked: 1 error, 0 warnings\n"


def test_warnings_fail_only_with_strict(runner: CliRunner) -> None:
    path = "tests/flow/broken/unreachable-step.yaml"
    relaxed = runner.invoke(main, ["validate", path])
    assert relaxed.exit_code == 0
    assert "warning: never reached" in relaxed.stdout
    strict = runner.invoke(main, ["validate", "--strict", path])
    assert strict.exit_code == 1
    assert strict.stdout == relaxed.stdout


def test_validate_json_for_editors_and_ci(runner: CliRunner) -> None:
    result = runner.invoke(
        main, ["validate", "--format", "json", "tests/flow/broken/menu-ambiguous-keys.yaml"]
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        {
            "file": "tests/flow/broken/menu-ambiguous-keys.yaml",
            "line": 11,
            "column": 7,
            "path": "steps.main_menu.options.10",
            "message": "option '10' starts with option '1': a caller pressing 1 waits for "
            "between_digits_timeout before it counts",
            "severity": "warning",
        }
    ]
    assert result.stderr == ""


def test_validate_a_directory_of_broken_flows(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", "--format", "json", "tests/flow/broken"])
    assert result.exit_code == 1
    records = json.loads(result.stdout)
    files = {r["file"] for r in records}
    # Every broken flow is reported (the valid subflow in parts/ is not).
    assert len(files) == len(list(BROKEN.glob("*.yaml")))
    assert all(set(r) == {"file", "line", "column", "path", "message", "severity"} for r in records)


@pytest.mark.parametrize(
    "args",
    [["validate"], ["validate", "no/such/file.yaml"], ["validate", "--format", "xml", "flows"]],
)
def test_usage_errors_exit_2(runner: CliRunner, args: list[str]) -> None:
    assert runner.invoke(main, args).exit_code == 2


def test_schema_to_stdout_and_file(runner: CliRunner, tmp_path: Path) -> None:
    printed = runner.invoke(main, ["schema"])
    assert printed.exit_code == 0
    assert json.loads(printed.stdout) == flow_json_schema()
    target = tmp_path / "flow.schema.json"
    written = runner.invoke(main, ["schema", "-o", str(target)])
    assert written.exit_code == 0
    assert written.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8")) == flow_json_schema()


def test_graph_mermaid_and_dot(runner: CliRunner) -> None:
    mermaid = runner.invoke(main, ["graph", "flows/hello.yaml"])
    assert mermaid.exit_code == 0
    assert mermaid.stdout == (
        "flowchart TD\n"
        '    start(("start"))\n'
        '    step_hello["hello<br/>play"]\n'
        '    step_goodbye["goodbye<br/>hangup"]\n'
        "    start --> step_hello\n"
        "    step_hello --> step_goodbye\n"
    )
    dot = runner.invoke(main, ["graph", "--format", "dot", "flows/hello.yaml"])
    assert dot.exit_code == 0
    assert dot.stdout == (
        'digraph "hello" {\n'
        "    rankdir=TB;\n"
        '    start [label="start", shape=circle];\n'
        '    step_hello [label="hello\\nplay", shape=box];\n'
        '    step_goodbye [label="goodbye\\nhangup", shape=box];\n'
        "    start -> step_hello;\n"
        "    step_hello -> step_goodbye;\n"
        "}\n"
    )


def test_graph_of_a_broken_flow_reports_and_exits_1(runner: CliRunner) -> None:
    result = runner.invoke(main, ["graph", "tests/flow/broken/target-misspelled.yaml"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "tests/flow/broken/target-misspelled.yaml:9:11: steps.hello.next: "
        "unknown step 'goodby'; did you mean 'goodbye'?\n"
    )
