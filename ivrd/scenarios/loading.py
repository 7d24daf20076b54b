"""Loading scenario files: YAML with positions, the models, the flows they test, cross-checks.

`load_scenario_file(path)` never raises for a problem in the file: it returns the file's cases,
or, when anything is wrong, none and every diagnostic, located like flow diagnostics
(`file:line:col: path: message`).
Beyond the models it checks what needs the flow: the flow file loads, the steps named in
`during`/`after` and `expect.path` exist, mocked services are the flow's. `defaults` are merged
into each scenario here, so a `ScenarioCase` is everything one test call needs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ivrd.flow import (
    Diagnostic,
    Expression,
    Flow,
    LoadResult,
    Template,
    load_flow,
    sort_diagnostics,
)
from ivrd.flow.checks import Reporter
from ivrd.flow.errors import did_you_mean
from ivrd.flow.loading import SCENARIO_SUFFIXES
from ivrd.flow.validation import diagnostics_from_validation_error
from ivrd.flow.walk import walk
from ivrd.flow.yamlpos import Path as DataPath
from ivrd.flow.yamlpos import SourceMap, format_path, load_yaml
from ivrd.scenarios.models import (
    CallerAction,
    Expect,
    Scenario,
    ScenarioFile,
    ScenarioSettings,
)
from ivrd.scenarios.targets import AppTarget, TargetError, all_steps, resolve_target
from ivrd.scenarios.typedyaml import load_typed

__all__ = [
    "SCENARIO_SUFFIXES",
    "LoadedFile",
    "PlannedAction",
    "ScenarioCase",
    "find_scenario_files",
    "load_scenario_file",
]


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """A caller action with the application its `during`/`after` names, resolved."""

    number: int
    """1-based, as the author counts the list."""
    action: CallerAction
    target: AppTarget | None


@dataclass(frozen=True, slots=True)
class ScenarioCase:
    """One scenario, ready to run: defaults merged, flow loaded, targets resolved."""

    file: str
    name: str
    flow_file: str
    flow: Flow
    settings: ScenarioSettings
    caller: tuple[PlannedAction, ...]
    expect: Expect
    source: SourceMap
    secrets: Mapping[str, str]
    start: datetime | None
    """When the call starts (aware); None: the moment it runs."""

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"

    def locate(self, *path: str | int) -> tuple[int, int, str]:
        """Line, column and written path of `scenarios.NAME.PATH` in the scenario file."""
        written, _ = self.source.resolve(("scenarios", self.name, *path))
        position = self.source.position(written)
        return position.line, position.column, format_path(written)


@dataclass(slots=True)
class LoadedFile:
    """A scenario file's cases and the problems found in it (cases only when there are none)."""

    file: str
    cases: list[ScenarioCase] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def find_scenario_files(paths: Iterable[str]) -> tuple[list[str], list[Diagnostic]]:
    """Files named, and every `*.test.yaml` under directories named (hidden ones skipped)."""
    found: list[str] = []
    problems: list[Diagnostic] = []
    for given in paths:
        if os.path.isdir(given):
            for root, dirs, files in os.walk(given):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(
                    os.path.normpath(os.path.join(root, name))
                    for name in sorted(files)
                    if name.endswith(SCENARIO_SUFFIXES)
                )
        elif os.path.isfile(given):
            found.append(os.path.normpath(given))
        else:
            problems.append(Diagnostic(given, 1, 1, "", "no such file or directory"))
    return list(dict.fromkeys(found)), problems


def load_scenario_file(path: str, flows: dict[Path, LoadResult] | None = None) -> LoadedFile:
    """Read, validate and cross-check one scenario file. `flows` caches flows across files."""
    loaded = LoadedFile(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        loaded.diagnostics.append(Diagnostic(path, 1, 1, "", f"cannot read the file: {reason}"))
        return loaded
    document = load_yaml(text, path)
    loaded.diagnostics.extend(document.diagnostics)
    if document.source.data is None and document.diagnostics:
        return loaded
    data = document.data
    if not isinstance(data, dict):
        message = "a scenario file is a mapping (flow, defaults, scenarios), not a list or text"
        loaded.diagnostics.append(Diagnostic(path, 1, 1, "", message))
        return loaded
    _type_json_bodies(data, load_typed(text))
    try:
        model = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        loaded.diagnostics.extend(diagnostics_from_validation_error(exc, document.source))
        return loaded
    if loaded.diagnostics:
        return loaded
    builder = _Builder(path, model, document.source, {} if flows is None else flows)
    loaded.cases = builder.build()
    loaded.diagnostics = sort_diagnostics(builder.report.diagnostics)
    if loaded.diagnostics:
        loaded.cases = []
    return loaded


def _type_json_bodies(data: dict[str, Any], typed: Any) -> None:
    """Replace each HTTP mock's `json:` value with the same value read with types."""
    if not isinstance(typed, dict):
        return
    places: list[tuple[Any, Any]] = [(data.get("defaults"), typed.get("defaults"))]
    scenarios, typed_scenarios = data.get("scenarios"), typed.get("scenarios")
    if isinstance(scenarios, dict) and isinstance(typed_scenarios, dict):
        by_name = {str(key): value for key, value in typed_scenarios.items()}
        places += [(value, by_name.get(name)) for name, value in scenarios.items()]
    for settings, typed_settings in places:
        if not (isinstance(settings, dict) and isinstance(typed_settings, dict)):
            continue
        http, typed_http = settings.get("http"), typed_settings.get("http")
        if not (isinstance(http, dict) and isinstance(typed_http, dict)):
            continue
        typed_services = {str(key): value for key, value in typed_http.items()}
        for service, replies in http.items():
            typed_replies = typed_services.get(service)
            pairs = (
                zip(replies, typed_replies, strict=False)
                if isinstance(replies, list) and isinstance(typed_replies, list)
                else [(replies, typed_replies)]
            )
            for reply, typed_reply in pairs:
                if isinstance(reply, dict) and isinstance(typed_reply, dict) and "json" in reply:
                    reply["json"] = typed_reply.get("json")


def _merge(defaults: ScenarioSettings, scenario: Scenario) -> ScenarioSettings:
    """The scenario's settings over the file's defaults; maps merge key by key, and a service's
    mocked replies are the scenario's first, then the defaults'."""
    values: dict[str, Any] = {}
    for name in ScenarioSettings.model_fields:
        base, own = getattr(defaults, name), getattr(scenario, name)
        if name == "http":
            merged = dict(base)
            for service, replies in own.items():
                merged[service] = (*replies, *base.get(service, ()))
            values[name] = merged
        elif isinstance(base, dict):
            values[name] = {**base, **own}
        else:
            values[name] = own if name in scenario.model_fields_set else base
    return ScenarioSettings.model_construct(**values)


def used_secrets(flow: Flow) -> set[str]:
    """Every `secrets.NAME` the flow and its subflows read."""
    names: set[str] = set()
    flows = {id(owner): owner for owner, _ in all_steps(flow)}
    for owner in flows.values():
        for _, value in walk(owner):
            if isinstance(value, Template | Expression):
                for namespace, attribute in value.references:
                    if namespace == "secrets" and attribute is not None:
                        names.add(attribute)
    return names


class _Builder:
    def __init__(
        self, file: str, model: ScenarioFile, source: SourceMap, flows: dict[Path, LoadResult]
    ) -> None:
        self.file = file
        self.model = model
        self.source = source
        self.flows = flows
        self.report = Reporter(source)

    def flow(self, relative: str, where: DataPath) -> tuple[str, Flow] | None:
        shown = os.path.normpath(os.path.join(os.path.dirname(self.file), relative))
        key = Path(shown).resolve()
        if not key.is_file():
            self.report.error(where, f"no such flow file '{relative}' (relative to this file)")
            return None
        if key not in self.flows:
            self.flows[key] = load_flow(shown)
        result = self.flows[key]
        if result.flow is None:
            first = next(iter(result.errors), None)
            detail = f": {first}" if first is not None else ""
            self.report.error(where, f"the flow '{relative}' does not load{detail}")
            return None
        return shown, result.flow

    def build(self) -> list[ScenarioCase]:
        cases: list[ScenarioCase] = []
        for name, scenario in self.model.scenarios.items():
            relative = scenario.flow or self.model.flow
            if relative is None:
                self.report.error(
                    ("scenarios", name),
                    "which flow? give 'flow: FILE' at the top of the file or in the scenario",
                    at_key=True,
                )
                continue
            where: DataPath = ("scenarios", name, "flow") if scenario.flow else ("flow",)
            found = self.flow(relative, where)
            if found is None:
                continue
            flow_file, flow = found
            case = self.case(name, scenario, flow_file, flow)
            if case is not None:
                cases.append(case)
        return cases

    def case(
        self, name: str, scenario: Scenario, flow_file: str, flow: Flow
    ) -> ScenarioCase | None:
        before = len(self.report.diagnostics)
        settings = _merge(self.model.defaults, scenario)
        planned = self.plan(name, scenario.caller, flow, settings.variables)
        self.check_steps(name, scenario.expect, flow)
        self.check_services(name, scenario, flow)
        if len(self.report.diagnostics) > before:
            return None
        start = settings.at
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=settings.timezone or flow.timezone)
        secrets = {secret: f"test-{secret}" for secret in sorted(used_secrets(flow))}
        secrets.update(settings.secrets)
        return ScenarioCase(
            file=self.file,
            name=name,
            flow_file=flow_file,
            flow=flow,
            settings=settings,
            caller=planned,
            expect=scenario.expect,
            source=self.source,
            secrets=secrets,
            start=start,
        )

    def plan(
        self,
        name: str,
        actions: tuple[CallerAction, ...],
        flow: Flow,
        variables: Mapping[str, str],
    ) -> tuple[PlannedAction, ...]:
        planned: list[PlannedAction] = []
        for index, action in enumerate(actions):
            target: AppTarget | None = None
            for trigger in ("during", "after"):
                wanted = getattr(action, trigger)
                if wanted is None:
                    continue
                try:
                    target = resolve_target(flow, wanted, variables)
                except TargetError as exc:
                    self.report.error(("scenarios", name, "caller", index, trigger), str(exc))
            planned.append(PlannedAction(index + 1, action, target))
        return tuple(planned)

    def check_steps(self, name: str, expect: Expect, flow: Flow) -> None:
        known = [step for _, step in all_steps(flow)]
        for kind in ("path", "path_contains"):
            for index, step in enumerate(getattr(expect, kind) or ()):
                if step not in known:
                    self.report.error(
                        ("scenarios", name, "expect", kind, index),
                        f"the flow has no step '{step}'{did_you_mean(step, known)}",
                    )

    def check_services(self, name: str, scenario: Scenario, flow: Flow) -> None:
        services = sorted({s for owner, _ in all_steps(flow) for s in owner.services})
        for service in scenario.http:
            if service.startswith(("http://", "https://")) or service in services:
                continue
            hint = did_you_mean(service, services) or (
                f"; its services: {', '.join(services)}" if services else ""
            )
            self.report.error(
                ("scenarios", name, "http", service),
                f"the flow has no service '{service}' (or give a URL){hint}",
                at_key=True,
            )
        for service in self.model.defaults.http:
            if not (service.startswith(("http://", "https://")) or service in services):
                self.report.error(
                    ("defaults", "http", service),
                    f"the flow has no service '{service}' (or give a URL)"
                    f"{did_you_mean(service, services)}",
                    at_key=True,
                )
