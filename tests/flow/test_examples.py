"""The example flows in flows/: they load with no diagnostic at all and use every step type."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivrd.flow import (
    STEP_TYPES,
    CheckHoursStep,
    Flow,
    MenuStep,
    RunStep,
    TransferStep,
    load_flow,
    validate_paths,
)

FLOWS = Path(__file__).resolve().parents[2] / "flows"
EXAMPLES = sorted(
    str(p.relative_to(FLOWS)) for p in FLOWS.rglob("*.yaml") if not p.name.endswith(".test.yaml")
)


def load(name: str) -> Flow:
    result = load_flow(FLOWS / name)
    assert [str(d) for d in result.diagnostics] == []
    return result.require()


def test_the_examples_are_there() -> None:
    assert EXAMPLES == [
        "acme-main.yaml",
        "hello.yaml",
        "pin-check.yaml",
        "subflows/verify-pin.yaml",
    ]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_loads_without_any_diagnostic(name: str) -> None:
    load(name)


def test_the_flows_directory_validates_strictly() -> None:
    report = validate_paths([FLOWS])
    assert len(report.files) == len(EXAMPLES)
    assert not report.failed(strict=True)


def test_every_step_type_appears_in_the_examples() -> None:
    used = {step.type for name in EXAMPLES for step in load(name).steps.values()}
    assert used == set(STEP_TYPES)


def test_hello_is_small() -> None:
    hello = load("hello.yaml")
    assert [s.type for s in hello.steps.values()] == ["play", "hangup"]
    assert hello.defaults.answer == "answer"


def test_acme_main_has_what_the_design_describes() -> None:
    acme = load("acme-main.yaml")
    assert acme.languages.codes == ("en", "de")
    assert isinstance(acme.steps[acme.start], CheckHoursStep)
    language_menu = acme.steps["choose_language"]
    assert isinstance(language_menu, MenuStep)
    assert set(language_menu.options) == {"1", "2"}
    assert acme.steps["account"].type == "ask"
    lookup = acme.steps["lookup"]
    assert lookup.type == "http"
    assert acme.route("lookup", "on_error") is not None
    support = acme.steps["support"]
    assert isinstance(support, TransferStep)
    assert acme.route("support", "unavailable") == acme.route("support", "busy")
    assert set(acme.on.key) == {"*0"}
    assert acme.on.key["*0"].not_during == ("account",)
    assert len(acme.on.hangup) == 2
    assert acme.on.error is not None
    assert acme.on.call_longer_than is not None


def test_pin_check_runs_its_subflow() -> None:
    flow = load("pin-check.yaml")
    verify = flow.steps["verify"]
    assert isinstance(verify, RunStep)
    subflow = flow.subflow(verify.subflow)
    assert subflow.is_subflow
    assert set(verify.returns) == set(subflow.returns) == {"verified", "failed", "locked"}
    assert set(subflow.inputs) == {"account", "max_tries"}
    assert subflow.outputs == ("customer_name",)
    assert subflow.source is not None
    assert subflow.source.file.endswith("verify-pin.yaml")
