"""`ivrd test --coverage`: the steps, outcomes and hooks of each flow that no scenario reached.

Every flow the scenarios ran, and each subflow it runs, is listed with what its traces never
showed: steps never entered, outcomes never taken (from `Flow.outcome_routes`, so fallbacks
count where they are written: a transfer's `busy` that falls back to `unavailable` is still its
own outcome), each branch of a conditional route (`next [if result.status == 404]`), and the
hooks (`on.key *0`, `on.error`, `on.call_longer_than`). A trace records a step's outcome as
`next (BRANCH)` when a condition chose the way; the branch is matched by its source text.
Outcomes an input step handles itself (a retry after silence) are not in the trace and not
counted. Each gap is located in the flow file, like a diagnostic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ivrd.flow import Choice, Flow
from ivrd.flow.yamlpos import Path, format_path
from ivrd.scenarios.suite import ScenarioResult
from ivrd.scenarios.targets import all_steps

__all__ = ["CoverageItem", "FlowCoverage", "compute_coverage", "format_coverage"]


@dataclass(frozen=True, slots=True)
class CoverageItem:
    """A step, an outcome (or branch) of a step, or a hook; `reached` if a trace showed it."""

    kind: str
    """`step`, `outcome` or `hook`."""
    label: str
    """What it is, for people: `step`, `outcome '1'`, `outcome 'next', branch 'else'`, `hook`."""
    path: Path
    reached: bool


@dataclass(slots=True)
class FlowCoverage:
    """One flow file and what of it the scenarios reached."""

    file: str
    flow: Flow
    items: list[CoverageItem] = field(default_factory=list)

    def count(self, kind: str) -> tuple[int, int]:
        mine = [item for item in self.items if item.kind == kind]
        return sum(item.reached for item in mine), len(mine)

    @property
    def missing(self) -> list[CoverageItem]:
        return [item for item in self.items if not item.reached]

    @property
    def complete(self) -> bool:
        return not self.missing


def _split_outcome(text: str) -> tuple[str, str | None]:
    """`next (result.status == 404)` -> ("next", "result.status == 404")."""
    if text.endswith(")") and " (" in text:
        word, _, branch = text.partition(" (")
        return word, branch[:-1]
    return text, None


def _seen(results: Sequence[ScenarioResult]) -> tuple[set[tuple[str, str]], set[tuple[str, ...]]]:
    steps: set[tuple[str, str]] = set()
    outcomes: set[tuple[str, ...]] = set()
    for result in results:
        trace = result.outcome.trace
        for record in trace.steps if trace is not None else ():
            steps.add((record.flow, record.step))
            if record.outcome is None:
                continue
            word, branch = _split_outcome(record.outcome)
            outcomes.add((record.flow, record.step, word))
            if branch is not None:
                outcomes.add((record.flow, record.step, word, branch))
            outcomes.add((record.flow, "", record.outcome))  # hooks: `key *0`, `error`
    return steps, outcomes


def _flow_items(
    flow: Flow, steps: set[tuple[str, str]], outcomes: set[tuple[str, ...]]
) -> list[CoverageItem]:
    items: list[CoverageItem] = []
    for name in flow.steps:
        items.append(CoverageItem("step", "step", ("steps", name), (flow.name, name) in steps))
        for outcome, path, route in flow.outcome_routes(name):
            if route is None:
                continue
            if isinstance(route, Choice):
                branches = [(b.condition.source, i) for i, b in enumerate(route.conditions)]
                branches.append(("else", len(route.root) - 1))
                for branch, index in branches:
                    reached = (flow.name, name, outcome, branch) in outcomes
                    label = f"outcome '{outcome}', branch '{branch}'"
                    items.append(CoverageItem("outcome", label, (*path, index), reached))
            else:
                reached = (flow.name, name, outcome) in outcomes
                items.append(CoverageItem("outcome", f"outcome '{outcome}'", path, reached))
    hooks: list[tuple[str, Path]] = [(f"key {keys}", ("on", "key", keys)) for keys in flow.on.key]
    if flow.on.error is not None:
        hooks.append(("error", ("on", "error")))
    if flow.on.call_longer_than is not None:
        hooks.append(("call_longer_than", ("on", "call_longer_than")))
    for outcome, path in hooks:
        items.append(CoverageItem("hook", "hook", path, (flow.name, "", outcome) in outcomes))
    return items


def compute_coverage(results: Sequence[ScenarioResult]) -> list[FlowCoverage]:
    """Coverage of every flow (and subflow) the results ran, by flow file, in file order."""
    steps, outcomes = _seen(results)
    flows: dict[str, Flow] = {}
    for result in results:
        for owner, _ in all_steps(result.case.flow):
            file = owner.source.file if owner.source is not None else owner.name
            flows.setdefault(file, owner)
    return [
        FlowCoverage(file, flow, _flow_items(flow, steps, outcomes))
        for file, flow in sorted(flows.items())
    ]


def format_coverage(coverage: Sequence[FlowCoverage]) -> str:
    """A line per flow with its counts, then each gap located in the flow file."""
    lines: list[str] = []
    for entry in coverage:
        counts = []
        for kind, word in (("step", "steps"), ("outcome", "outcomes"), ("hook", "hooks")):
            reached, total = entry.count(kind)
            if total:
                counts.append(f"{reached}/{total} {word}")
        verdict = "complete" if entry.complete else f"{len(entry.missing)} not reached"
        lines.append(f"coverage: {entry.file}: {', '.join(counts)}: {verdict}")
        source = entry.flow.source
        for item in entry.missing:
            where = ""
            if source is not None:
                position = source.position(item.path)
                where = f"{entry.file}:{position.line}:{position.column}: "
            what = {"step": "never entered", "hook": "never fired"}.get(item.kind, "never taken")
            lines.append(f"  {where}{format_path(item.path)}: {item.label} {what}")
    return "".join(f"{line}\n" for line in lines)
