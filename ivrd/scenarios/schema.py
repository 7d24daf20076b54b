"""The JSON Schema of scenario files, for editors' YAML plugins (`ivrd test --schema`).

Generated from the models, for what a person may write. A mocked service takes one reply or a
list of them (the models turn one into a list before validating); the schema says so.
"""

from __future__ import annotations

from typing import Any

from ivrd.scenarios.models import ScenarioFile

__all__ = ["SCENARIO_SCHEMA_ID", "scenario_json_schema"]

SCENARIO_SCHEMA_ID = "https://ivrd.dev/schema/scenarios-1.json"


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file."""
    schema = ScenarioFile.model_json_schema(mode="validation")
    for definition in schema.get("$defs", {}).values():
        http = definition.get("properties", {}).get("http")
        if http is not None:
            replies = http["additionalProperties"]
            http["additionalProperties"] = {"anyOf": [replies["items"], replies]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCENARIO_SCHEMA_ID,
        **schema,
        "title": "ivrd scenarios",
    }
