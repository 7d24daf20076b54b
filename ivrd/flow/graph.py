"""A flow as a picture: steps as nodes, outcomes as labelled edges, hooks dashed.

`flow_graph` builds a small graph model; `render_mermaid` and `render_dot` print it. Besides the
steps there are a few marker nodes: where the call starts, each hook (`on key *0`, `on error`,
`after 30m`; their edges are dashed), and in a subflow each return. A conditional route gives one
edge per branch, labelled with the outcome and the condition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ivrd.flow.checks import hook_edges, step_edges
from ivrd.flow.durations import format_duration
from ivrd.flow.models import Flow

__all__ = ["GraphEdge", "GraphNode", "flow_graph", "render_dot", "render_mermaid"]


@dataclass(frozen=True, slots=True)
class GraphNode:
    id: str
    label: str
    kind: str
    """`step`, `start`, `hook` or `return`."""


@dataclass(frozen=True, slots=True)
class GraphEdge:
    source: str
    target: str
    label: str
    dashed: bool = False


def _node_id(kind: str, name: str) -> str:
    spelled = re.sub(r"[^A-Za-z0-9_ ]", lambda m: f"x{ord(m.group()):x}", name)
    return f"{kind}_" + spelled.replace(" ", "_")


def flow_graph(flow: Flow) -> tuple[list[GraphNode], list[GraphEdge]]:
    """Nodes and edges of `flow`, in document order."""
    nodes = [GraphNode("start", "start", "start")]
    edges: list[GraphEdge] = []

    def target_id(name: str) -> str:
        return _node_id("return" if name in flow.returns else "step", name)

    edges.append(GraphEdge("start", target_id(flow.start), ""))
    for name, step in flow.steps.items():
        nodes.append(GraphNode(_node_id("step", name), f"{name}\n{step.type}", "step"))
        for edge in step_edges(flow, name):
            label = edge.outcome if edge.outcome not in ("next", "branches") else ""
            if edge.condition is not None:
                label = f"{label}: {edge.condition}" if label else edge.condition
            edges.append(GraphEdge(_node_id("step", name), target_id(edge.target), label))
    for name in flow.returns:
        nodes.append(GraphNode(_node_id("return", name), f"return {name}", "return"))
    hooks: dict[str, str] = {}
    for edge in hook_edges(flow):
        outcome = edge.outcome
        if outcome == "call_longer_than" and flow.on.call_longer_than is not None:
            outcome = f"after {format_duration(flow.on.call_longer_than.after)}"
        elif outcome.startswith("key "):
            outcome = f"on key {outcome[4:]}"
        elif outcome == "error":
            outcome = "on error"
        hook_id = _node_id("hook", outcome)
        if hook_id not in hooks:
            hooks[hook_id] = outcome
            nodes.append(GraphNode(hook_id, outcome, "hook"))
        edges.append(GraphEdge(hook_id, target_id(edge.target), edge.condition or "", dashed=True))
    if flow.on.hangup:
        nodes.append(GraphNode("hook_hangup", f"on hangup ({len(flow.on.hangup)} actions)", "hook"))
    return nodes, edges


def _mermaid_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;").replace("\n", "<br/>") + '"'


def render_mermaid(flow: Flow) -> str:
    """A Mermaid `flowchart TD`."""
    nodes, edges = flow_graph(flow)
    lines = ["flowchart TD"]
    shapes = {
        "step": ("[", "]"),
        "start": ("((", "))"),
        "hook": ("{{", "}}"),
        "return": ("([", "])"),
    }
    for node in nodes:
        opening, closing = shapes[node.kind]
        lines.append(f"    {node.id}{opening}{_mermaid_text(node.label)}{closing}")
    for edge in edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f"|{_mermaid_text(edge.label)}|" if edge.label else ""
        lines.append(f"    {edge.source} {arrow}{label} {edge.target}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(flow: Flow) -> str:
    """A Graphviz `digraph`."""
    nodes, edges = flow_graph(flow)
    shapes = {"step": "box", "start": "circle", "hook": "hexagon", "return": "oval"}
    lines = [f"digraph {_dot_text(flow.name)} {{", "    rankdir=TB;"]
    for node in nodes:
        lines.append(f"    {node.id} [label={_dot_text(node.label)}, shape={shapes[node.kind]}];")
    for edge in edges:
        attributes = [f"label={_dot_text(edge.label)}"] if edge.label else []
        if edge.dashed:
            attributes.append("style=dashed")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"    {edge.source} -> {edge.target}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"
