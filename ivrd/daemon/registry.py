"""The flows a daemon can route calls to, by name, and how a reload changes them.

`FlowRegistry.build(results, previous)` turns what `ivrd.flow.load_directory` found into a new
registry without touching the old one, so a reload is one assignment. A file that fails to load
keeps the previous version of its flow (if there was one) and its diagnostics are reported;
a file that is gone takes its flow with it. Subflow files (those with `returns:`) are loaded
with the flows that run them and are not routable on their own. Flows are frozen models, so a
call that started with a version keeps running it, whatever a reload does meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ivrd.flow import Diagnostic, Flow, LoadResult
from ivrd.flow.errors import sort_diagnostics

__all__ = ["FlowRegistry", "RegistryChange"]


@dataclass(frozen=True, slots=True)
class RegistryChange:
    """What a (re)load did: for the log lines, and for tests."""

    loaded: tuple[str, ...] = ()
    """Flows loaded from their file as it is now."""
    kept: tuple[str, ...] = ()
    """Flows whose file is broken now: the previous version stays."""
    failed: tuple[str, ...] = ()
    """Files that could not be loaded and had no previous version."""
    removed: tuple[str, ...] = ()
    """Flows whose file is gone."""
    diagnostics: tuple[Diagnostic, ...] = ()
    """Every error and warning found, each once."""

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)


@dataclass(frozen=True, slots=True)
class FlowRegistry:
    """Routable flows by name, and the file each came from."""

    flows: Mapping[str, Flow] = field(default_factory=lambda: MappingProxyType({}))
    files: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """File -> flow name, for every flow in the registry (kept versions included)."""

    def get(self, name: str) -> Flow | None:
        return self.flows.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.flows

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.flows))

    def __len__(self) -> int:
        return len(self.flows)

    def file_of(self, name: str) -> str | None:
        return next((file for file, flow in self.files.items() if flow == name), None)

    @classmethod
    def build(
        cls, results: Mapping[str, LoadResult], previous: FlowRegistry | None = None
    ) -> tuple[FlowRegistry, RegistryChange]:
        """The registry for `results` (file -> load result); `previous` supplies kept versions."""
        old = previous or cls()
        flows: dict[str, Flow] = {}
        files: dict[str, str] = {}
        loaded: list[str] = []
        kept: list[str] = []
        failed: list[str] = []
        diagnostics: list[Diagnostic] = []
        for file in sorted(results):
            result = results[file]
            diagnostics.extend(result.diagnostics)
            flow = result.flow
            if flow is not None and flow.is_subflow:
                continue
            if flow is not None:
                other = next((f for f, name in files.items() if name == flow.name), None)
                if other is not None:
                    message = f"the flow name '{flow.name}' is taken by {other}; file ignored"
                    diagnostics.append(Diagnostic(file, 1, 1, "name", message))
                    continue
                flows[flow.name] = flow
                files[file] = flow.name
                loaded.append(flow.name)
                continue
            name = old.files.get(file)
            old_flow = old.flows.get(name) if name is not None else None
            if name is not None and old_flow is not None and name not in flows:
                flows[name] = old_flow
                files[file] = name
                kept.append(name)
            else:
                failed.append(file)
        removed = sorted(set(old.flows) - set(flows))
        registry = cls(MappingProxyType(flows), MappingProxyType(files))
        change = RegistryChange(
            tuple(loaded),
            tuple(kept),
            tuple(failed),
            tuple(removed),
            tuple(sort_diagnostics(diagnostics)),
        )
        return registry, change
