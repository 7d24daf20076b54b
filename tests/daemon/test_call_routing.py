"""Routing decisions: variable, then destination patterns, then the default; never nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from _daemon_helpers import write_flows

from ivrd.daemon import (
    NO_FLOW_CAUSE,
    NO_ROUTE_CAUSE,
    FlowRegistry,
    RoutingConfig,
    check_routes,
    load_config,
    route_call,
)
from ivrd.flow import Severity, load_directory


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> FlowRegistry:
    directory = write_flows(tmp_path_factory.mktemp("flows"), "main", "sales", "support")
    return FlowRegistry.build(load_directory(directory))[0]


ROUTING = RoutingConfig.model_validate(
    {
        "routes": [
            {"destination": "^1000$", "flow": "sales"},
            {"destination": "^1", "flow": "support"},
            {"destination": "^2", "flow": "gone"},
        ],
        "default": "main",
    }
)


@pytest.mark.parametrize(
    ("variable", "destination", "flow", "reason"),
    [
        ("support", "1000", "support", "channel variable ivr_flow=support"),
        (None, "1000", "sales", "destination 1000 matches routing.routes.0"),
        ("", "1001", "support", "destination 1001 matches routing.routes.1"),
        (None, "3000", "main", "routing.default"),
        (None, None, "main", "routing.default"),
    ],
)
def test_a_call_gets_the_first_flow_that_applies(
    registry: FlowRegistry, variable: str | None, destination: str | None, flow: str, reason: str
) -> None:
    decision = route_call(ROUTING, registry, variable=variable, destination=destination)
    assert decision.flow is registry.get(flow)
    assert (decision.name, decision.reason, decision.cause) == (flow, reason, None)


def test_a_flow_named_by_the_variable_that_is_not_loaded_is_not_replaced(
    registry: FlowRegistry,
) -> None:
    decision = route_call(ROUTING, registry, variable="salse", destination="1000")
    assert decision.flow is None
    assert decision.cause == NO_FLOW_CAUSE
    assert decision.reason == "channel variable ivr_flow=salse, but no flow 'salse' is loaded"


def test_a_route_to_a_missing_flow_hangs_up_temporarily(registry: FlowRegistry) -> None:
    decision = route_call(ROUTING, registry, variable=None, destination="2000")
    assert (decision.flow, decision.cause) == (None, NO_FLOW_CAUSE)
    assert decision.reason == (
        "destination 2000 matches routing.routes.2, but no flow 'gone' is loaded"
    )


def test_no_route_and_no_default_is_an_unallocated_number(registry: FlowRegistry) -> None:
    routing = RoutingConfig.model_validate({"routes": [{"destination": "^1", "flow": "sales"}]})
    decision = route_call(routing, registry, variable=None, destination="555")
    assert (decision.flow, decision.cause) == (None, NO_ROUTE_CAUSE)
    assert decision.reason == "no route for destination 555 and no routing.default"


def test_routing_by_variable_can_be_turned_off(registry: FlowRegistry) -> None:
    routing = RoutingConfig.model_validate({"variable": None, "default": "main"})
    decision = route_call(routing, registry, variable="sales", destination="1")
    assert decision.name == "main"


def test_routes_to_unknown_flows_are_found_with_their_line(
    tmp_path: Path, registry: FlowRegistry
) -> None:
    (tmp_path / "flows").mkdir()
    file = tmp_path / "config.yaml"
    file.write_text(
        "routing:\n  routes:\n    - {destination: '^1', flow: salse}\n  default: mian\n",
        encoding="utf-8",
    )
    config = load_config(file, {"IVRD_ROUTING_DEFAULT": "nope"}).require()
    found = [str(d) for d in check_routes(config, registry, Severity.ERROR)]
    assert found == [
        f"{file}:3:33: routing.routes.0.flow: no flow named 'salse' in {tmp_path}/flows; "
        "did you mean 'sales'?",
        f"environment IVRD_ROUTING_DEFAULT: routing.default: no flow named 'nope' in "
        f"{tmp_path}/flows; the flows are main, sales, support",
    ]
