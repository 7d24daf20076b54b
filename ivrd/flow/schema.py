"""The JSON Schema of a flow file, for editors' YAML plugins and CI.

Generated from the models (field docstrings become descriptions), for the input side: what a
person may write. Where our loader reads text and an editor's YAML reads a number or boolean
(`box: 100`, `attempts: 3`, `sensitive: true`, an unquoted menu key `1`), the schema accepts
both. Maps whose keys have a pattern refuse other keys, as the models do. Source positions are
not part of it. Because YAML 1.1 reads the key `on` as true, the schema also accepts the hooks
under the property name "true".
"""

from __future__ import annotations

from typing import Any

from ivrd.flow.models import Flow

__all__ = ["SCHEMA_ID", "flow_json_schema"]

SCHEMA_ID = "https://ivrd.dev/schema/flow-1.json"


def flow_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a flow file."""
    schema = Flow.model_json_schema(mode="validation")
    _close_pattern_maps(schema)
    # YAML 1.1 parsers (PyYAML, and tools built on it) read the key `on` as the boolean true;
    # accept that spelling too, so such tools check the hooks instead of refusing the file.
    schema["properties"]["true"] = schema["properties"]["on"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "ivrd flow",
    }


def _close_pattern_maps(node: Any) -> None:
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_pattern_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_pattern_maps(value)
