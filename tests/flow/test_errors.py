"""Diagnostics: their text form, JSON form, ordering and the did-you-mean helper."""

from __future__ import annotations

import json

from ivrd.flow import Diagnostic, Severity, format_json, format_text, sort_diagnostics
from ivrd.flow.errors import did_you_mean

ERROR = Diagnostic(
    "flows/main.yaml", 14, 7, "steps.account.digits.min", "must be at most 'max' (8)"
)
WARNING = Diagnostic("flows/main.yaml", 3, 3, "steps.old", "never reached", Severity.WARNING)
SYNTAX = Diagnostic("flows/main.yaml", 2, 1, "", "a tab character here")


def test_text_form() -> None:
    assert str(ERROR) == "flows/main.yaml:14:7: steps.account.digits.min: must be at most 'max' (8)"
    assert str(WARNING) == "flows/main.yaml:3:3: steps.old: warning: never reached"
    assert str(SYNTAX) == "flows/main.yaml:2:1: a tab character here"
    assert format_text([SYNTAX, ERROR]) == f"{SYNTAX}\n{ERROR}\n"
    assert format_text([]) == ""


def test_json_form() -> None:
    assert json.loads(format_json([WARNING])) == [
        {
            "file": "flows/main.yaml",
            "line": 3,
            "column": 3,
            "path": "steps.old",
            "message": "never reached",
            "severity": "warning",
        }
    ]
    assert json.loads(format_json([])) == []


def test_sorted_by_file_line_column_without_duplicates() -> None:
    other = Diagnostic("a.yaml", 9, 1, "", "x")
    assert sort_diagnostics([ERROR, WARNING, SYNTAX, other, ERROR]) == [
        other,
        SYNTAX,
        WARNING,
        ERROR,
    ]


def test_did_you_mean() -> None:
    assert did_you_mean("promt", ["prompt", "next"]) == "; did you mean 'prompt'?"
    assert did_you_mean("post", ["GET", "POST"]) == "; did you mean 'POST'?"
    assert did_you_mean("xyz", ["prompt", "next"]) == ""
    assert did_you_mean("next", ["next"]) == ""
