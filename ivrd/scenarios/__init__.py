"""Testing flows without a phone: scenario files for `ivrd test`, and `ivrd simulate`.

A scenario file (`*.test.yaml`, next to its flow) describes test calls: channel data, a fixed
clock, what the caller does, how HTTP services and transfer targets answer, and what must be
seen. `run_tests` runs them through the real outbound server and interpreter with the fake
FreeSWITCH dialling in, on a simulated clock; `report` formats the results, `coverage` says
which steps and outcomes no scenario reached; `simulate` is a call in the terminal.
"""

from ivrd.scenarios.expect import Failure
from ivrd.scenarios.loading import ScenarioCase, find_scenario_files, load_scenario_file
from ivrd.scenarios.schema import scenario_json_schema
from ivrd.scenarios.suite import ScenarioResult, SuiteRun, run_tests

__all__ = [
    "Failure",
    "ScenarioCase",
    "ScenarioResult",
    "SuiteRun",
    "find_scenario_files",
    "load_scenario_file",
    "run_tests",
    "scenario_json_schema",
]
