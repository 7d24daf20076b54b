"""Graphs: every step a node, every outcome a labelled edge, hooks dashed; Mermaid and DOT."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivrd.flow import Flow, flow_graph, load_flow, load_flow_text, render_dot, render_mermaid

FLOWS = Path(__file__).resolve().parents[2] / "flows"
EXAMPLES = sorted(p for p in FLOWS.rglob("*.yaml") if not p.name.endswith(".test.yaml"))

MERMAID_NODE = re.compile(r'^    (\w+)(\(\(|\[|\{\{|\(\[)"(.*)"(\)\)|\]|\}\}|\]\))$')
MERMAID_EDGE = re.compile(r'^    (\w+) (-->|-\.->)(?:\|"(.*)"\|)? (\w+)$')
DOT_NODE = re.compile(r'^    (\w+) \[label="(.*)", shape=(\w+)\];$')
DOT_EDGE = re.compile(r"^    (\w+) -> (\w+)(?: \[(.*)\])?;$")


def parse_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str, str, bool]]]:
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str, bool]] = []
    for line in lines[1:]:
        node, edge = MERMAID_NODE.match(line), MERMAID_EDGE.match(line)
        assert node or edge, line
        if node:
            nodes[node[1]] = node[3]
        elif edge:
            edges.append((edge[1], edge[4], edge[3] or "", edge[2] == "-.->"))
    return nodes, edges


def parse_dot(text: str) -> tuple[dict[str, str], list[tuple[str, str, str, bool]]]:
    lines = text.splitlines()
    assert lines[0].startswith("digraph ")
    assert lines[0].endswith("{")
    assert lines[1] == "    rankdir=TB;"
    assert lines[-1] == "}"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str, bool]] = []
    for line in lines[2:-1]:
        node, edge = DOT_NODE.match(line), DOT_EDGE.match(line)
        assert node or edge, line
        if node:
            nodes[node[1]] = node[2]
        elif edge:
            attributes = edge[3] or ""
            label = re.search(r'label="((?:[^"\\]|\\.)*)"', attributes)
            edges.append(
                (edge[1], edge[2], label[1] if label else "", "style=dashed" in attributes)
            )
    return nodes, edges


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("render", [render_mermaid, render_dot])
def test_examples_render_with_every_step_and_edge(path: Path, render: object) -> None:
    flow = load_flow(path).require()
    text = render(flow)  # type: ignore[operator]
    parse = parse_mermaid if render is render_mermaid else parse_dot
    nodes, edges = parse(text)
    model_nodes, model_edges = flow_graph(flow)
    assert set(nodes) == {n.id for n in model_nodes}
    assert len(edges) == len(model_edges)
    step_ids = {f"step_{name}" for name in flow.steps}
    assert step_ids <= set(nodes)
    # Every edge joins drawn nodes, and every step except the start has an edge into it.
    assert all(a in nodes and b in nodes for a, b, _, _ in edges)
    targets = {b for _, b, _, _ in edges}
    assert step_ids <= targets


def test_acme_edges_are_labelled_and_hooks_dashed() -> None:
    flow = load_flow(FLOWS / "acme-main.yaml").require()
    nodes, edges = parse_mermaid(render_mermaid(flow))
    assert nodes["start"] == "start"
    assert nodes["step_main_menu"] == "main_menu<br/>menu"
    assert ("start", "step_hours", "", False) in edges
    assert ("step_hours", "step_welcome", "open", False) in edges
    assert ("step_hours", "step_holiday_message", "holiday", False) in edges
    assert ("step_main_menu", "step_account", "2", False) in edges
    assert ("step_main_menu", "step_operator", "too_many_attempts", False) in edges
    assert ("step_lookup", "step_vip", "result.status == 200 and vars.customer.vip", False) in edges
    assert ("step_lookup", "step_record_for_quality", "else", False) in edges
    assert ("step_support", "step_voicemail", "busy", False) in edges
    dashed = {(a, b) for a, b, _, is_dashed in edges if is_dashed}
    assert dashed == {
        ("hook_on_key_x2a0", "step_operator"),
        ("hook_on_error", "step_sorry_goodbye"),
        ("hook_after_30m", "step_goodbye"),
    }
    assert nodes["hook_on_key_x2a0"] == "on key *0"
    assert nodes["hook_hangup"] == "on hangup (2 actions)"


def test_dot_escapes_and_styles() -> None:
    flow = load_flow(FLOWS / "acme-main.yaml").require()
    nodes, edges = parse_dot(render_dot(flow))
    assert nodes["step_main_menu"] == "main_menu\\nmenu"
    assert ("hook_on_error", "step_sorry_goodbye", "", True) in edges
    assert render_dot(flow).startswith('digraph "acme-main" {')


def test_subflow_returns_are_nodes() -> None:
    flow = load_flow(FLOWS / "subflows" / "verify-pin.yaml").require()
    nodes, edges = parse_mermaid(render_mermaid(flow))
    assert {nodes[f"return_{r}"] for r in flow.returns} == {
        "return verified",
        "return failed",
        "return locked",
    }
    assert ("step_remember_name", "return_verified", "", False) in edges


def test_quotes_in_labels_are_escaped() -> None:
    flow: Flow = load_flow_text(
        "ivr: 1\nname: q\nstart: a\nsteps:\n"
        "  a: {type: choose, branches: [{if: 'vars.x == \"y\"', go: b}, {else: b}]}\n"
        "  b: {type: hangup}\nvariables: {x: y}\n",
        "q.yaml",
    ).require()
    assert '|"vars.x == #quot;y#quot;"|' in render_mermaid(flow)
    assert 'label="vars.x == \\"y\\""' in render_dot(flow)
