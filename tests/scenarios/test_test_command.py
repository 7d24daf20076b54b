"""`ivrd test`: the example scenarios pass, failures and bad files give CI's exit codes."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from ivrd.cli import main
from ivrd.scenarios import SuiteRun

from .conftest import BROKEN, FIXTURES, FLOWS, REPO

EXAMPLE_FILES = sorted(FLOWS.glob("*.test.yaml"))


def ivrd(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_every_example_flow_has_scenarios() -> None:
    flows = sorted(p.name for p in FLOWS.glob("*.yaml") if not p.name.endswith(".test.yaml"))
    assert [p.name for p in EXAMPLE_FILES] == [f.replace(".yaml", ".test.yaml") for f in flows]


def test_the_examples_pass_quickly(examples: tuple[SuiteRun, float], record_property: Any) -> None:
    run, seconds = examples
    record_property("examples_seconds", round(seconds, 3))
    assert [r.id for r in run.failed] == []
    assert run.problems == []
    assert len(run.results) >= 40
    assert run.exit_code == 0
    # About a second on the development machine; the issue asks for under 10 s on CI. The
    # bound here is generous so that a loaded machine cannot make the test flaky.
    assert seconds < 30


def test_ivrd_test_on_the_examples(in_repo: Path, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    code, output = ivrd("test", "flows", "--coverage", "--junit", str(junit))
    assert code == 0, output
    lines = output.splitlines()
    assert "flows/acme-main.test.yaml::Christmas Day is a holiday PASSED" in lines
    assert "flows/hello.test.yaml::says hello and hangs up PASSED" in lines
    summary = next(line for line in lines if " passed in " in line)
    assert " failed" not in summary
    assert (
        "coverage: flows/pin-check.yaml: 12/12 steps, 19/19 outcomes, 1/1 hooks: complete" in lines
    )
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "0"
    assert int(root.get("tests") or 0) >= 40


def test_failures_exit_1_and_show_expected_actual_and_trace(in_repo: Path) -> None:
    failing = str((FIXTURES / "failing.scenarios.yaml").relative_to(REPO))
    code, output = ivrd("test", failing)
    assert code == 1
    assert f"{failing}::wrong path FAILED" in output
    assert "  expected: hello\n  actual:   hello > goodbye\n" in output
    assert "trace: hello, disposition hangup, hangup cause NORMAL_CLEARING" in output
    assert "      0.00s  hello (play): next -> goodbye  (2.56s)\n" in output
    assert output.rstrip().endswith("=")
    assert " 0 passed, 7 failed in " in output.splitlines()[-1]


def test_unusable_files_exit_2(tmp_path: Path) -> None:
    code, output = ivrd("test", str(BROKEN / "field-misspelled.yaml"))
    assert code == 2
    assert "scenarios.greets.expect.pth: unknown field 'pth'; did you mean 'path'?" in output
    code, output = ivrd("test", str(tmp_path / "nowhere"))
    assert code == 2
    assert f"{tmp_path / 'nowhere'}:1:1: no such file or directory" in output
    code, output = ivrd("test", str(tmp_path))
    assert code == 2
    assert "no scenario files (*.test.yaml) found here" in output


def test_the_current_directory_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(FLOWS / "hello.yaml", tmp_path)
    shutil.copy(FLOWS / "hello.test.yaml", tmp_path)
    monkeypatch.chdir(tmp_path)
    code, output = ivrd("test")
    assert code == 0, output
    assert output.splitlines()[0] == "hello.test.yaml::says hello and hangs up PASSED"


def typed(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_schema_accepts_the_examples_and_refuses_mistakes() -> None:
    code, output = ivrd("test", "--schema")
    assert code == 0
    schema = json.loads(output)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in [*EXAMPLE_FILES, FIXTURES / "clock.scenarios.yaml"]:
        errors = [error.message for error in validator.iter_errors(typed(path))]
        assert errors == [], path
    for name in (
        "field-misspelled",
        "disposition-misspelled",
        "http-failure-unknown",
        "transfer-result-unknown",
        "queue-result-unknown",
        "scenarios-missing",
        "action-word-unknown",
    ):
        assert not validator.is_valid(typed(BROKEN / f"{name}.yaml")), name
