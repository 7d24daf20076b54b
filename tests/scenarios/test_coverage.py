"""`ivrd test --coverage`: the example scenarios reach every step and outcome they can."""

from __future__ import annotations

from pathlib import Path

from ivrd.scenarios import SuiteRun, run_tests
from ivrd.scenarios.coverage import compute_coverage, format_coverage

from .conftest import FLOWS


def test_the_examples_cover_every_step_outcome_and_hook(examples: tuple[SuiteRun, float]) -> None:
    run, _ = examples
    coverage = {entry.file: entry for entry in compute_coverage(run.results)}
    assert sorted(coverage) == [
        "flows/acme-main.yaml",
        "flows/hello.yaml",
        "flows/pin-check.yaml",
        "flows/subflows/verify-pin.yaml",
    ]
    for entry in coverage.values():
        assert entry.complete, format_coverage([entry])
    # Every queue outcome included: the fake FreeSWITCH runs mod_callcenter's `callcenter`.
    acme = coverage["flows/acme-main.yaml"]
    assert acme.count("step") == (23, 23)
    assert acme.count("hook") == (3, 3)
    assert acme.count("outcome") == (45, 45)


def test_gaps_are_listed_where_the_flow_writes_them(tmp_path: Path) -> None:
    scenarios = tmp_path / "one.test.yaml"
    scenarios.write_text(
        f"flow: {FLOWS / 'pin-check.yaml'}\n"
        "scenarios:\n  no account:\n    caller: [silence, silence, silence]\n",
        encoding="utf-8",
    )
    run = run_tests([str(scenarios)])
    assert run.exit_code == 0
    text = format_coverage(compute_coverage(run.results))
    flow, subflow = FLOWS / "pin-check.yaml", FLOWS / "subflows" / "verify-pin.yaml"
    lines = text.splitlines()
    assert lines[0] == f"coverage: {flow}: 3/12 steps, 2/19 outcomes, 0/1 hooks: 27 not reached"
    assert f"  {flow}:51:11: steps.account.next: outcome 'next' never taken" in lines
    assert f"  {flow}:54:3: steps.verify: step never entered" in lines
    assert f"  {flow}:125:10: on.error: hook never fired" in lines
    assert (
        f"  {flow}:72:9: steps.balance_lookup.next.0: outcome 'next', branch"
        " 'result.status == 200' never taken"
    ) in lines
    assert f"  {flow}:75:15: steps.balance_lookup.on_error: outcome 'on_error' never taken" in lines
    assert f"coverage: {subflow}: 0/7 steps, 0/12 outcomes: 19 not reached" in lines
