"""Diagnostics: what the flow tools tell a person, and how it is printed.

Every problem found in a flow file, from a YAML syntax error to an unreachable step, becomes one
`Diagnostic`: the file, a 1-based line and column, the dotted field path
(`steps.account.digits.min`, list items as `.0`) and a message. Printed, it reads

    flows/main.yaml:14:7: steps.account.digits.min: must be at most 'max' (8)

and warnings carry the word after the path (`...: steps.old: warning: never reached`). The same
records are rendered as JSON for editors and CI. Library code returns diagnostics; it never prints.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum

__all__ = [
    "Diagnostic",
    "FlowError",
    "Severity",
    "did_you_mean",
    "format_json",
    "format_text",
    "sort_diagnostics",
]


class Severity(StrEnum):
    """Errors stop a flow from loading; warnings only fail `ivrd validate --strict`."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in one file, located by line, column and field path."""

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: Severity = field(default=Severity.ERROR)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: "
        if self.path:
            where += f"{self.path}: "
        if self.severity is Severity.WARNING:
            where += "warning: "
        return where + self.message

    def as_dict(self) -> dict[str, str | int]:
        record: dict[str, str | int] = asdict(self)
        record["severity"] = str(self.severity)
        return record


class FlowError(Exception):
    """A flow could not be loaded; `diagnostics` says why, all problems at once."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        shown = "\n".join(str(d) for d in errors[:20])
        more = f"\n... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} error(s) in flow:\n{shown}{more}")


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by file, line, column; duplicates (a subflow seen twice) dropped."""
    unique = dict.fromkeys(diagnostics)
    return sorted(unique, key=lambda d: (d.file, d.line, d.column, d.path, d.message))


def format_text(diagnostics: Iterable[Diagnostic]) -> str:
    """One diagnostic per line, in the order given."""
    return "".join(f"{d}\n" for d in diagnostics)


def format_json(diagnostics: Iterable[Diagnostic]) -> str:
    """A JSON list of {file, line, column, path, message, severity}."""
    return json.dumps([d.as_dict() for d in diagnostics], indent=2, ensure_ascii=False) + "\n"


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`"; did you mean 'prompt'?"` when a candidate is close to `word`, else `""`."""
    pool = [c for c in candidates if c != word]
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered:
        return f"; did you mean '{lowered[word.lower()]}'?"
    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return ""
