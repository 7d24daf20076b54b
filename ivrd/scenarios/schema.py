"""The JSON Schema of scenario files, for editors' YAML plugins (`ivrd test --schema`)."""

from __future__ import annotations

from typing import Any

from ivrd.scenarios.models import ScenarioFile

__all__ = ["SCENARIO_SCHEMA_ID", "scenario_json_schema"]

SCENARIO_SCHEMA_ID = "https://ivrd.dev/schema/scenarios-1.json"


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file."""
    schema = ScenarioFile.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCENARIO_SCHEMA_ID,
        **schema,
        "title": "ivrd scenarios",
    }
