"""Typed values for HTTP mock bodies: `json: {vip: true, id: "0042"}` means what JSON means.

The positions loader (`ivrd.flow.yamlpos`) reads every scalar as text, which is right for flows
but not for a JSON body, where `true` and `"true"` differ. The scenario loader reads the file a
second time with the YAML 1.2 core schema (true/false, null, decimal numbers; `yes`, `0123` and
`12:30` stay text, quoted scalars are always text) and takes each `json:` value from there.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import ScalarNode

__all__ = ["load_typed"]


class _CoreLoader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema's implicit types only."""


_CoreLoader.yaml_implicit_resolvers = {}
_RESOLVERS = (
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^[-+]?[0-9]+$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$",
        "-+.0123456789",
    ),
)
for _tag, _pattern, _first in _RESOLVERS:
    _CoreLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    assert isinstance(node, ScalarNode)
    return int(node.value)  # decimal, always: "0123" is 123, not octal 83


def _float(loader: yaml.SafeLoader, node: yaml.Node) -> float:
    assert isinstance(node, ScalarNode)
    return float(node.value)


_CoreLoader.add_constructor("tag:yaml.org,2002:int", _int)
_CoreLoader.add_constructor("tag:yaml.org,2002:float", _float)


def load_typed(text: str) -> Any:
    """The document with typed scalars, or None if it cannot be read (the positions loader
    reports why)."""
    try:
        return yaml.load(text, Loader=_CoreLoader)  # a SafeLoader: builds plain data only
    except yaml.YAMLError:
        return None
