"""Checks beyond the schema, part one: the graph of steps.

A flow that validates can still strand a caller. This module reports:
- targets and `start` that name no step (with a "did you mean");
- steps no route reaches from `start` or a hook (a warning: harmless, but usually a typo);
- dead ends: an outcome that, after fallbacks, leads nowhere (an error: the caller would be lost);
- loops that neither wait for the caller's keys, nor have a way out, nor are bounded by an
  `on.call_longer_than` hook (an error: the call would spin until `max_steps` stops it).
Name and template checks live in `references.py`; both report through `Reporter`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ivrd.flow.errors import Diagnostic, Severity, did_you_mean
from ivrd.flow.models import Flow
from ivrd.flow.routes import Edge, Go, IfBranch, route_edges
from ivrd.flow.steps import QueueStep, TransferStep
from ivrd.flow.walk import walk
from ivrd.flow.yamlpos import Path, SourceMap, format_path

__all__ = ["Reporter", "check_graph", "hook_edges", "step_edges"]

_DEAD_END_HINTS = {
    "too_many_attempts": "add 'too_many_attempts:' here or under defaults",
    "on_error": "add 'on_error:' here or an 'on.error' hook",
    "unavailable": "add 'unavailable:' (busy and no_answer fall back to it)",
    "no_answer": "add 'no_answer:' or 'unavailable:'",
    "busy": "add 'busy:' or 'unavailable:'",
}


@dataclass(slots=True)
class Reporter:
    """Collects diagnostics, locating each path in the source."""

    source: SourceMap
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def add(self, path: Path, message: str, *, warning: bool = False, at_key: bool = False) -> None:
        written, _ = self.source.resolve(path)
        where = self.source.position(written, at_key=at_key)
        severity = Severity.WARNING if warning else Severity.ERROR
        self.diagnostics.append(
            Diagnostic(
                self.source.file, where.line, where.column, format_path(written), message, severity
            )
        )

    def at(self, line: int, column: int, path: Path, message: str) -> None:
        """An error at a place no value occupies (a comment, say), named by `path`."""
        self.diagnostics.append(
            Diagnostic(self.source.file, line, column, format_path(path), message)
        )

    def error(self, path: Path, message: str, *, at_key: bool = False) -> None:
        self.add(path, message, at_key=at_key)

    def warning(self, path: Path, message: str, *, at_key: bool = False) -> None:
        self.add(path, message, warning=True, at_key=at_key)


def step_edges(flow: Flow, name: str) -> list[Edge]:
    """The transitions out of one step (after fallbacks), with absolute paths."""
    edges: list[Edge] = []
    for outcome, path, route in flow.outcome_routes(name):
        if route is not None:
            edges.extend(route_edges(outcome, route, path))
    return edges


def hook_edges(flow: Flow) -> list[Edge]:
    """Transitions a hook can take from anywhere in the flow."""
    edges = [
        Edge(f"key {key}", hook.go, ("on", "key", key, "go")) for key, hook in flow.on.key.items()
    ]
    if flow.on.error is not None:
        edges.extend(route_edges("error", flow.on.error, ("on", "error")))
    if flow.on.call_longer_than is not None:
        edges.append(
            Edge("call_longer_than", flow.on.call_longer_than.go, ("on", "call_longer_than", "go"))
        )
    return edges


def check_graph(flow: Flow, report: Reporter) -> None:
    if _check_targets(flow, report):
        # With a target misspelled, "never reached" would mostly repeat the same mistake.
        _check_reachable(flow, report)
    _check_dead_ends(flow, report)
    _check_loops(flow, report)


def _known_targets(flow: Flow) -> set[str]:
    return set(flow.steps) | set(flow.returns)


def _routes_everywhere(flow: Flow) -> Iterator[tuple[Path, str]]:
    for path, value in walk(flow):
        if isinstance(value, Go | IfBranch):
            yield (*path, "go"), value.go


def _check_targets(flow: Flow, report: Reporter) -> bool:
    """Report unknown targets; True when every target is known."""
    before = len(report.diagnostics)
    known = _known_targets(flow)
    if flow.start not in flow.steps:
        report.error(
            ("start",), f"'{flow.start}' is not a step{did_you_mean(flow.start, flow.steps)}"
        )
    for path, target in _routes_everywhere(flow):
        if target not in known:
            what = "step or return" if flow.returns else "step"
            report.error(path, f"unknown {what} '{target}'{did_you_mean(target, known)}")
    for key, hook in flow.on.key.items():
        for i, name in enumerate(hook.not_during):
            if name not in flow.steps:
                path = ("on", "key", key, "not_during", i)
                report.error(path, f"unknown step '{name}'{did_you_mean(name, flow.steps)}")
    return len(report.diagnostics) == before


def _check_reachable(flow: Flow, report: Reporter) -> None:
    seen: set[str] = set()
    todo = [flow.start] + [e.target for e in hook_edges(flow)]
    while todo:
        name = todo.pop()
        if name in seen or name not in flow.steps:
            continue
        seen.add(name)
        todo.extend(e.target for e in step_edges(flow, name))
    for name in flow.steps:
        if name not in seen:
            report.warning(
                ("steps", name), f"never reached: no route from '{flow.start}' or a hook leads here"
            )


def _check_dead_ends(flow: Flow, report: Reporter) -> None:
    for name, step in flow.steps.items():
        missing = [outcome for outcome, _, route in flow.outcome_routes(name) if route is None]
        if not missing:
            continue
        if isinstance(step, TransferStep | QueueStep) and "unavailable" in missing:
            missing = ["unavailable"]
        listed = ", ".join(f"'{m}'" for m in missing)
        noun = "outcome" if len(missing) == 1 else "outcomes"
        verb = "leads" if len(missing) == 1 else "lead"
        hint = _DEAD_END_HINTS.get(missing[0], f"add '{missing[0]}:'")
        report.error(("steps", name), f"dead end: {noun} {listed} {verb} nowhere; {hint}")


def _strongly_connected(nodes: Iterable[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (a generated flow may have thousands of steps)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(component)
    return found


def _check_loops(flow: Flow, report: Reporter) -> None:
    if flow.on.call_longer_than is not None:
        return
    edges = {
        name: {e.target for e in step_edges(flow, name) if e.target in flow.steps}
        for name in flow.steps
    }
    order = {name: i for i, name in enumerate(flow.steps)}
    for component in _strongly_connected(flow.steps, edges):
        members = set(component)
        first = min(component, key=order.__getitem__)
        if len(component) == 1 and first not in edges[first]:
            continue
        if any(flow.steps[m].waits_for_input for m in component):
            continue
        if _leaves(flow, component, members):
            continue
        if _key_hook_escapes(flow, component):
            continue
        cycle = _cycle_from(first, edges, members)
        report.error(
            ("steps", first),
            f"loop without input or way out: {' -> '.join(cycle)}; "
            "the call would go round until max_steps stops it",
        )


def _leaves(flow: Flow, component: list[str], members: set[str]) -> bool:
    """A subflow return or a step that ends the call also leaves a loop."""
    for name in component:
        for edge in step_edges(flow, name):
            if edge.target not in members:
                return True
    return False


def _key_hook_escapes(flow: Flow, component: list[str]) -> bool:
    for hook in flow.on.key.values():
        for name in component:
            if name not in hook.not_during and flow.steps[name].needs_media:
                return True
    return False


def _cycle_from(first: str, edges: dict[str, set[str]], members: set[str]) -> list[str]:
    """The shortest way round from `first` back to itself, for the message."""
    parent: dict[str, str] = {}
    queue = deque([first])
    while queue:
        node = queue.popleft()
        for following in sorted(edges[node] & members):
            if following == first:
                cycle = [node]
                while cycle[-1] != first:
                    cycle.append(parent[cycle[-1]])
                return [*reversed(cycle), first]
            if following not in parent:
                parent[following] = node
                queue.append(following)
    return [first, first]
