"""What every step shares: `StepBase`, the shape of an outcome, end keys, outcome fallbacks."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from ivrd.flow.base import FlowModel
from ivrd.flow.routes import Route
from ivrd.flow.yamlpos import Path

__all__ = ["EndKey", "StepBase", "StepRoute", "fallback_route"]

StepRoute = tuple[str, Path, Route | None]
"""An outcome's name, where its route is written (relative to the step), and the route."""

_END_KEYS = ("#", "*", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "none")


def _end_key(value: Any) -> str:
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    if text in _END_KEYS:
        return text
    raise PydanticCustomError("end_key", "must be one key (0-9, * or #) or none")


EndKey = Annotated[
    str,
    PlainValidator(_end_key),
    WithJsonSchema(
        {"anyOf": [{"enum": list(_END_KEYS)}, {"type": "integer", "minimum": 0, "maximum": 9}]}
    ),
]
"""The key that ends an entry early, or `none`."""


def fallback_route(
    outcome: str, route: Route | None, other: str, fallback: Route | None
) -> StepRoute:
    """`outcome`'s route, or the `other` outcome's, located where it is written."""
    if route is not None:
        return (outcome, (outcome,), route)
    return (outcome, (other,), fallback)


class StepBase(FlowModel):
    """What every step has."""

    type: str
    description: str | None = None
    """A note for people; shown in graphs."""

    waits_for_input: ClassVar[bool] = False
    """True for steps that wait for the caller's keys (a loop through one is not a busy loop)."""

    def routes(self) -> list[StepRoute]:
        return [("next", ("next",), getattr(self, "next", None))]

    @property
    def needs_media(self) -> bool:
        """Whether the call must be answered (or in early media) before this step runs."""
        return False
