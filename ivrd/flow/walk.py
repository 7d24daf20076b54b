"""Walk a validated model tree, yielding every value with the path the author wrote it at.

Paths use the names an author writes (aliases such as `if`, `else`, `set`), dict keys and list
indexes, so `SourceMap.resolve` can locate them. The checker uses this to find every route,
template and expression without listing where each kind may appear.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, RootModel

from ivrd.flow.yamlpos import Path

__all__ = ["walk"]


def walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every value under `value` (itself included), depth first, in document order."""
    yield path, value
    if isinstance(value, RootModel):
        yield from _children(value.root, path)
    elif isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            child = getattr(value, name)
            if child is not None:
                yield from walk(child, (*path, info.alias or name))
    else:
        yield from _children(value, path)


def _children(value: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from walk(child, (*path, key))
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            yield from walk(child, (*path, index))
