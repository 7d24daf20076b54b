"""Which flow a call runs.

In order: the channel variable named by `routing.variable` (`ivr_flow` by default, set in the
dialplan before `socket`), else the first route whose `destination` pattern is found in the
destination number (a regex search, as in FreeSWITCH's dialplan conditions: anchor it with
`^...$`), else `routing.default`. A call that names a flow explicitly gets that flow or none: it
never falls through to a route meant for other calls.

A call with no flow is hung up, never left waiting: `UNALLOCATED_NUMBER` when nothing matched
(nothing here serves that number), `NORMAL_TEMPORARY_FAILURE` when the flow chosen is not loaded
(a broken or missing file: fixing it and reloading helps, so the caller's network may retry).
"""

from __future__ import annotations

from dataclasses import dataclass

from ivrd.daemon.config import Config, RoutingConfig
from ivrd.daemon.loading import config_diagnostic
from ivrd.daemon.registry import FlowRegistry
from ivrd.flow import Diagnostic, Flow
from ivrd.flow.errors import Severity, did_you_mean

__all__ = ["NO_FLOW_CAUSE", "NO_ROUTE_CAUSE", "RouteDecision", "check_routes", "route_call"]

NO_ROUTE_CAUSE = "UNALLOCATED_NUMBER"
NO_FLOW_CAUSE = "NORMAL_TEMPORARY_FAILURE"


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The flow a call runs (None: hang up with `cause`), and why, for the log."""

    flow: Flow | None
    name: str | None
    reason: str
    cause: str | None = None


def route_call(
    routing: RoutingConfig,
    registry: FlowRegistry,
    *,
    variable: str | None,
    destination: str | None,
) -> RouteDecision:
    """Route one call, given its routing variable's value and its destination number."""
    if routing.variable is not None and variable:
        return _pick(registry, variable, f"channel variable {routing.variable}={variable}")
    if destination is not None:
        for index, rule in enumerate(routing.routes):
            if rule.destination.search(destination):
                why = f"destination {destination} matches routing.routes.{index}"
                return _pick(registry, rule.flow, why)
    if routing.default is not None:
        return _pick(registry, routing.default, "routing.default")
    shown = destination if destination is not None else "(none)"
    why = f"no route for destination {shown} and no routing.default"
    return RouteDecision(None, None, why, NO_ROUTE_CAUSE)


def _pick(registry: FlowRegistry, name: str, reason: str) -> RouteDecision:
    flow = registry.get(name)
    if flow is None:
        return RouteDecision(None, name, f"{reason}, but no flow '{name}' is loaded", NO_FLOW_CAUSE)
    return RouteDecision(flow, name, reason)


def check_routes(
    config: Config, registry: FlowRegistry, severity: Severity = Severity.WARNING
) -> list[Diagnostic]:
    """Routes and the default that name flows the registry does not have."""
    found: list[Diagnostic] = []
    known = list(registry)
    targets: list[tuple[tuple[str | int, ...], str]] = [
        (("routing", "routes", index, "flow"), rule.flow)
        for index, rule in enumerate(config.routing.routes)
    ]
    if config.routing.default is not None:
        targets.append((("routing", "default"), config.routing.default))
    for path, name in targets:
        if name not in registry:
            hint = did_you_mean(name, known) or (
                f"; the flows are {', '.join(known)}" if known else "; no flow is loaded"
            )
            message = f"no flow named '{name}' in {config.flows_directory}{hint}"
            found.append(config_diagnostic(config, path, message, severity))
    return found
