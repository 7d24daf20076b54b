"""Transitions: where a step goes next.

A route is written one of three ways, and every outcome of every step takes any of them:

    next: goodbye                                   # a step name
    next: {go: account, set: {queue: support}}      # set flow variables, then go
    next:                                           # conditions, tried in order
      - if: "result.status == 200 and vars.customer.vip"
        go: vip
      - else: support

`Route` is `Go | Choice`. A list of conditions must end with exactly one `else`, so every route
leads somewhere; the checker can then treat a missing outcome as the only kind of dead end.
There is no special `end` target: `hangup` is the only step that ends a call, so a flow says how
it says goodbye. Inside a subflow the names listed under `returns` are targets too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ivrd.flow.base import FlowModel
from ivrd.flow.fieldtypes import NAME_PATTERN, Name, TemplateExpr, TemplateText, VarName
from ivrd.flow.yamlpos import Path

__all__ = ["Choice", "Edge", "ElseBranch", "Go", "IfBranch", "Route", "route_edges"]


class Go(FlowModel):
    """Go to a step, after setting flow variables. A plain step name is short for `{go: NAME}`."""

    go: Name
    """The step to go to."""
    set_vars: dict[VarName, TemplateText] = Field(default_factory=dict, alias="set")
    """Flow variables to set first (templated values), readable as `vars.NAME`."""

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"go": data} if isinstance(data, str) else data

    shorthand_schema: ClassVar[dict[str, Any] | None] = {"type": "string", "pattern": NAME_PATTERN}


class IfBranch(FlowModel):
    """`{if: EXPRESSION, go: STEP}`: taken when the expression is true."""

    condition: TemplateExpr = Field(alias="if")
    """A Jinja2 expression without braces, e.g. `result.status == 200`."""
    go: Name
    """The step to go to."""
    set_vars: dict[VarName, TemplateText] = Field(default_factory=dict, alias="set")
    """Flow variables to set first."""

    def target(self) -> Go:
        return Go(go=self.go, set_vars=self.set_vars)


class ElseBranch(FlowModel):
    """`{else: STEP}`: the last branch, taken when no condition held."""

    otherwise: Go = Field(alias="else")
    """Where to go when no condition held."""


def _branch_kind(value: Any) -> str:
    if isinstance(value, ElseBranch) or (isinstance(value, dict) and "else" in value):
        return "<else>"
    return "<if>"


Branch = Annotated[
    Annotated[IfBranch, Tag("<if>")] | Annotated[ElseBranch, Tag("<else>")],
    Discriminator(_branch_kind),
]


class Choice(RootModel[tuple[Branch, ...]]):
    """Conditions tried in order; exactly one `else`, last."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="after")
    def _else_last(self) -> Self:
        elses = [i for i, b in enumerate(self.root) if isinstance(b, ElseBranch)]
        if not elses:
            raise PydanticCustomError(
                "route_else", "a list of conditions must end with an 'else:' branch"
            )
        if len(elses) > 1 or elses[0] != len(self.root) - 1:
            raise PydanticCustomError(
                "route_else",
                "'else:' must come last, and only once (found as branch {at})",
                {"at": ", ".join(str(i) for i in elses)},
            )
        return self

    @property
    def conditions(self) -> tuple[IfBranch, ...]:
        return tuple(b for b in self.root if isinstance(b, IfBranch))

    @property
    def otherwise(self) -> Go:
        last = self.root[-1]
        assert isinstance(last, ElseBranch)
        return last.otherwise

    def resolve(self, holds: Callable[[IfBranch], bool]) -> Go:
        """The first branch whose condition `holds`, else the `else` branch."""
        for branch in self.conditions:
            if holds(branch):
                return branch.target()
        return self.otherwise


def _route_kind(value: Any) -> str:
    return "<conditions>" if isinstance(value, list | tuple | Choice) else "<target>"


Route = Annotated[
    Annotated[Go, Tag("<target>")] | Annotated[Choice, Tag("<conditions>")],
    Discriminator(_route_kind),
]
"""Where an outcome leads: a `Go` or a `Choice` of conditions."""


@dataclass(frozen=True, slots=True)
class Edge:
    """One possible transition, as the checker and the graph see it."""

    outcome: str
    target: str
    path: Path
    """Where the target is written, relative to the owner of the route."""
    condition: str | None = None
    """The `if:` source for a conditional branch, `else` for the last one, None otherwise."""


def route_edges(outcome: str, route: Go | Choice, path: Path) -> list[Edge]:
    """Every step `route` can lead to; `path` locates the route in the document."""
    if isinstance(route, Go):
        return [Edge(outcome, route.go, (*path, "go"))]
    edges = [
        Edge(outcome, b.go, (*path, i, "go"), b.condition.source)
        for i, b in enumerate(route.root)
        if isinstance(b, IfBranch)
    ]
    last = len(route.root) - 1
    edges.append(Edge(outcome, route.otherwise.go, (*path, last, "else", "go"), "else"))
    return edges
