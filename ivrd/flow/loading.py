"""Loading flows: file to `Flow`, or to every problem found in it.

`load_flow(path)` reads one file, validates it, loads the subflows it names (relative to it,
recursively, refusing cycles) and runs every check; it returns a `LoadResult` holding the flow
(None if there was any error) and all diagnostics, sorted. It never raises for a problem in the
file; `LoadResult.require()` raises `FlowError` for callers that want an exception.
`validate_paths` is what `ivrd validate` runs: files and directories (every `*.yaml`/`*.yml`
under them) to one report. Files are named in diagnostics as the caller named them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from ivrd.flow.checks import Reporter, check_graph
from ivrd.flow.errors import Diagnostic, FlowError, Severity, sort_diagnostics
from ivrd.flow.fieldtypes import NAME_PATTERN
from ivrd.flow.models import Flow
from ivrd.flow.references import check_references
from ivrd.flow.validation import diagnostics_from_validation_error
from ivrd.flow.yamlpos import load_yaml

__all__ = [
    "LoadResult",
    "ValidationReport",
    "find_flow_files",
    "load_directory",
    "load_flow",
    "load_flow_text",
    "validate_paths",
]

_FLOW_SUFFIXES = (".yaml", ".yml")
SCENARIO_SUFFIXES = (".test.yaml", ".test.yml")
"""`ivrd test` scenario files, kept next to their flows: never loaded as flows."""


@dataclass(frozen=True, slots=True)
class LoadResult:
    """A loaded flow (None when there were errors) and everything found wrong with it."""

    file: str
    flow: Flow | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        return self.flow is not None

    def require(self) -> Flow:
        """The flow, or FlowError with the diagnostics."""
        if self.flow is None:
            raise FlowError(self.diagnostics)
        return self.flow


def load_flow(path: str | os.PathLike[str]) -> LoadResult:
    """Read, validate and check the flow in `path`, with its subflows."""
    return _Loader().load(Path(path), os.fspath(path), ())


def load_flow_text(
    text: str, file: str = "<flow>", base_dir: str | os.PathLike[str] = "."
) -> LoadResult:
    """Like `load_flow`, for text in hand; subflows are looked up under `base_dir`."""
    return _Loader().load_text(text, file, Path(base_dir), ())


class _Loader:
    def load(self, path: Path, shown: str, stack: tuple[Path, ...]) -> LoadResult:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return LoadResult(
                shown, None, (Diagnostic(shown, 1, 1, "", f"cannot read the file: {reason}"),)
            )
        return self.load_text(text, shown, path.parent, (*stack, path.resolve()))

    def load_text(
        self, text: str, shown: str, base_dir: Path, stack: tuple[Path, ...]
    ) -> LoadResult:
        document = load_yaml(text, shown)
        diagnostics = list(document.diagnostics)
        data = document.data
        if document.source.data is None and diagnostics:
            return _result(shown, None, diagnostics)
        if not isinstance(data, dict):
            message = (
                "a flow file is a mapping (ivr: 1, name, start, steps, ...), not a list or text"
            )
            diagnostics.append(Diagnostic(shown, 1, 1, "", message))
            return _result(shown, None, diagnostics)
        stem = Path(shown).stem
        if "name" not in data and re.fullmatch(NAME_PATTERN, stem):
            data["name"] = stem
        try:
            flow = Flow.model_validate(data)
        except ValidationError as exc:
            diagnostics.extend(diagnostics_from_validation_error(exc, document.source))
            return _result(shown, None, diagnostics)
        report = Reporter(document.source)
        subflows = self.load_subflows(flow, shown, base_dir, stack, report, diagnostics)
        flow.attach(document.source, subflows)
        check_graph(flow, report)
        check_references(flow, report)
        diagnostics.extend(report.diagnostics)
        return _result(shown, flow, diagnostics)

    def load_subflows(
        self,
        flow: Flow,
        shown: str,
        base_dir: Path,
        stack: tuple[Path, ...],
        report: Reporter,
        diagnostics: list[Diagnostic],
    ) -> dict[str, Flow]:
        loaded: dict[str, Flow] = {}
        for name, relative in flow.subflows.items():
            path = base_dir / relative
            where = ("subflows", name)
            if path.resolve() in stack:
                report.error(where, f"'{relative}' runs itself (a subflow cycle)")
                continue
            if not path.is_file():
                report.error(
                    where, f"no such file '{relative}' (relative to this flow's directory)"
                )
                continue
            sub_shown = os.path.normpath(os.path.join(os.path.dirname(shown), relative))
            result = self.load(path, sub_shown, stack)
            diagnostics.extend(result.diagnostics)
            if result.flow is None:
                report.error(where, f"subflow '{relative}' could not be loaded (see its errors)")
            elif not result.flow.is_subflow:
                report.error(where, f"'{relative}' is not a subflow: it lists no 'returns'")
            else:
                loaded[name] = result.flow
        return loaded


def _result(shown: str, flow: Flow | None, diagnostics: list[Diagnostic]) -> LoadResult:
    ordered = tuple(sort_diagnostics(diagnostics))
    failed = any(d.severity is Severity.ERROR for d in ordered)
    return LoadResult(shown, None if failed else flow, ordered)


def find_flow_files(directory: str | os.PathLike[str]) -> list[str]:
    """Every `*.yaml`/`*.yml` under `directory` but scenario files (`*.test.yaml`), hidden
    directories skipped, sorted."""
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            os.path.join(root, f)
            for f in sorted(files)
            if f.endswith(_FLOW_SUFFIXES) and not f.endswith(SCENARIO_SUFFIXES)
        )
    return sorted(found)


def load_directory(directory: str | os.PathLike[str]) -> dict[str, LoadResult]:
    """Every flow file under `directory`, by file name as found."""
    return {file: load_flow(file) for file in find_flow_files(directory)}


@dataclass(slots=True)
class ValidationReport:
    """What `ivrd validate` found in the files it was given."""

    files: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    def failed(self, *, strict: bool = False) -> bool:
        return bool(self.errors or (strict and self.warnings))

    def summary(self) -> str:
        def count(n: int, word: str) -> str:
            return f"{n} {word}{'' if n == 1 else 's'}"

        return (
            f"{count(len(self.files), 'file')} checked: "
            f"{count(len(self.errors), 'error')}, {count(len(self.warnings), 'warning')}"
        )


def validate_paths(paths: Iterable[str | os.PathLike[str]]) -> ValidationReport:
    """Load and check every flow file named or found under the directories named."""
    report = ValidationReport()
    for given in paths:
        files: Sequence[str] = (
            find_flow_files(given) if os.path.isdir(given) else [os.fspath(given)]
        )
        for file in files:
            report.files.append(file)
            report.diagnostics.extend(load_flow(file).diagnostics)
    report.diagnostics = sort_diagnostics(report.diagnostics)
    return report
