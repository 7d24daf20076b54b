"""Checks beyond the schema, part two: names, languages, keys and templates.

Everything a flow refers to by name must exist: prompts (in every declared language), services,
calendars, subflows with their inputs and returns, and the variables templates read (`vars.x`
must be set somewhere: `variables`, a `save_as`, a `set` step, `set:` on a route, or a subflow's
`inputs`). Menu keys must not be prefixes of each
other (a warning: the caller pressing 1 waits to see whether 10 follows) nor collide with hook
keys (an error), and a line reading `#: ...` inside a key map is the YAML comment trap.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from ivrd.flow.checks import Reporter
from ivrd.flow.errors import did_you_mean
from ivrd.flow.models import Flow
from ivrd.flow.prompts import PromptUse
from ivrd.flow.routes import Go, IfBranch
from ivrd.flow.steps import (
    AskStep,
    CheckHoursStep,
    HttpStep,
    InputStep,
    MenuStep,
    RunStep,
    SetStep,
)
from ivrd.flow.templating import Expression, Template
from ivrd.flow.walk import walk
from ivrd.flow.yamlpos import Path

__all__ = ["FLOW_FIELDS", "check_references", "variables_set"]

FLOW_FIELDS = ("name", "language", "step", "started_at")
"""What the engine provides under `flow.` in templates (ivrd.engine.call builds it)."""

_HASH_KEY_COMMENT = re.compile(r"^(\s*)#\s*:")


def check_references(flow: Flow, report: Reporter) -> None:
    _check_prompts(flow, report)
    _check_names(flow, report)
    _check_subflow_shape(flow, report)
    _check_runs(flow, report)
    _check_keys(flow, report)
    _check_templates(flow, report)


# --- prompts and languages -------------------------------------------------------------------


def _prompt_uses(flow: Flow) -> Iterator[tuple[Path, PromptUse]]:
    for kind in ("no_input", "invalid"):
        retry = getattr(flow.defaults, kind)
        if retry is not None and retry.prompt is not None:
            yield ("defaults", kind, "prompt"), retry.prompt
    for name, step in flow.steps.items():
        prompt = getattr(step, "prompt", None)
        if prompt is not None:
            yield ("steps", name, "prompt"), prompt
        if isinstance(step, InputStep):
            for kind, retry in (("no_input", step.no_input), ("invalid", step.invalid)):
                if retry is not None and retry.prompt is not None:
                    yield ("steps", name, kind, "prompt"), retry.prompt


def _check_prompts(flow: Flow, report: Reporter) -> None:
    languages = flow.languages.codes
    for path, use in _prompt_uses(flow):
        parts = use if isinstance(use, tuple) else (use,)
        for i, part in enumerate(parts):
            if isinstance(part, str) and part not in flow.prompts:
                where = (*path, i) if isinstance(use, tuple) else path
                report.error(where, f"unknown prompt '{part}'{did_you_mean(part, flow.prompts)}")
    listed = ", ".join(languages)
    for name, definition in flow.prompts.items():
        if not isinstance(definition, dict):
            continue
        for language in definition:
            if language not in languages:
                report.error(
                    ("prompts", name, language),
                    f"'{language}' is not in languages.available ({listed})",
                    at_key=True,
                )
        for language in languages:
            if language not in definition:
                report.error(
                    ("prompts", name), f"missing language '{language}' (the flow speaks {listed})"
                )
    for name, step in flow.steps.items():
        if isinstance(step, SetStep) and step.language and step.language not in languages:
            report.error(
                ("steps", name, "language"),
                f"'{step.language}' is not in languages.available ({listed})",
            )


# --- services, calendars, subflows ----------------------------------------------------------


def _check_names(flow: Flow, report: Reporter) -> None:
    for name, step in flow.steps.items():
        if isinstance(step, HttpStep):
            _known(report, ("steps", name, "service"), step.service, flow.services, "service")
        elif isinstance(step, CheckHoursStep):
            _known(report, ("steps", name, "calendar"), step.calendar, flow.calendars, "calendar")
        elif isinstance(step, RunStep):
            _known(report, ("steps", name, "subflow"), step.subflow, flow.subflows, "subflow")
    for i, action in enumerate(flow.on.hangup):
        if action.http is not None:
            path = ("on", "hangup", i, "http", "service")
            _known(report, path, action.http.service, flow.services, "service")


def _known(report: Reporter, path: Path, name: str, known: Mapping[str, object], what: str) -> None:
    if name not in known:
        hint = did_you_mean(name, known) or (
            f"; the flow's {what}s: {', '.join(known)}" if known else f"; the flow has no {what}s"
        )
        report.error(path, f"unknown {what} '{name}'{hint}")


def _check_subflow_shape(flow: Flow, report: Reporter) -> None:
    if not flow.is_subflow:
        for field in ("inputs", "outputs"):
            if getattr(flow, field):
                report.error(
                    (field,), f"'{field}' belong to subflows; a subflow lists its 'returns'"
                )
        return
    if flow.on.key or flow.on.hangup or flow.on.error or flow.on.call_longer_than:
        report.error(("on",), "a subflow cannot have hooks; the calling flow's hooks apply")
    for i, name in enumerate(flow.returns):
        if name in flow.steps:
            report.error(("returns", i), f"'{name}' is also a step; a return needs its own name")
    assigned = variables_set(flow)
    for i, name in enumerate(flow.outputs):
        if name not in assigned:
            report.error(
                ("outputs", i),
                f"'{name}' is never set in this subflow{did_you_mean(name, assigned)}",
            )


def _check_runs(flow: Flow, report: Reporter) -> None:
    for name in flow.subflows:
        try:
            sub = flow.subflow(name)
        except KeyError:
            continue
        missing = [code for code in flow.languages.codes if code not in sub.languages.codes]
        if missing:
            report.error(
                ("subflows", name),
                f"subflow '{name}' does not speak {', '.join(missing)} "
                f"(its languages: {', '.join(sub.languages.codes)})",
            )
    for step_name, step in flow.steps.items():
        if not isinstance(step, RunStep):
            continue
        try:
            sub = flow.subflow(step.subflow)
        except KeyError:
            continue
        at = ("steps", step_name)
        for key in step.inputs:
            if key not in sub.inputs:
                hint = (
                    did_you_mean(key, sub.inputs)
                    or f"; its inputs: {', '.join(sub.inputs) or 'none'}"
                )
                report.error(
                    (*at, "inputs", key),
                    f"'{key}' is not an input of subflow '{step.subflow}'{hint}",
                    at_key=True,
                )
        for key, spec in sub.inputs.items():
            if spec.required and spec.default is None and key not in step.inputs:
                report.error(at, f"missing input '{key}' for subflow '{step.subflow}'")
        for key in step.returns:
            if key not in sub.returns:
                hint = did_you_mean(key, sub.returns) or f"; it returns {', '.join(sub.returns)}"
                report.error(
                    (*at, "returns", key),
                    f"subflow '{step.subflow}' has no return '{key}'{hint}",
                    at_key=True,
                )
        unrouted = [r for r in sub.returns if r not in step.returns]
        if unrouted:
            listed = ", ".join(f"'{r}'" for r in unrouted)
            report.error(
                at,
                f"dead end: subflow '{step.subflow}' can return {listed}; add it under 'returns'",
            )


# --- keys --------------------------------------------------------------------------------------


def _check_keys(flow: Flow, report: Reporter) -> None:
    _check_hash_comments(flow.on.key, ("on", "key"), report)
    for name, step in flow.steps.items():
        hooks = {k: h for k, h in flow.on.key.items() if name not in h.not_during}
        if isinstance(step, MenuStep):
            _check_menu(name, step, hooks, report)
        elif isinstance(step, AskStep) and step.end_key != "none":
            for key in hooks:
                if key.startswith(step.end_key):
                    report.error(
                        ("steps", name, "end_key"),
                        f"end_key '{step.end_key}' ends the entry before the on.key hook '{key}' "
                        "can be recognised; choose another end_key or list this step under "
                        "the hook's not_during",
                    )


def _check_menu(name: str, step: MenuStep, hooks: Mapping[str, object], report: Reporter) -> None:
    base: Path = ("steps", name, "options")
    _check_hash_comments(step.options, base, report)
    keys = list(step.options)
    for key in keys:
        for other in keys:
            if other != key and key.startswith(other):
                report.warning(
                    (*base, key),
                    f"option '{key}' starts with option '{other}': a caller pressing {other} "
                    "waits for between_digits_timeout before it counts",
                    at_key=True,
                )
        for hook in hooks:
            if hook == key:
                message = f"option '{key}' is also the on.key hook '{hook}', which would take it"
            elif hook.startswith(key):
                message = (
                    f"option '{key}' is the beginning of the on.key hook '{hook}': "
                    f"a caller pressing {key} would wait"
                )
            elif key.startswith(hook):
                message = (
                    f"option '{key}' begins with the on.key hook '{hook}', which would take it"
                )
            else:
                continue
            report.error(
                (*base, key),
                message + "; or list this step under the hook's not_during",
                at_key=True,
            )


def _check_hash_comments(keys: Mapping[str, object], path: Path, report: Reporter) -> None:
    if "#" in keys:
        return
    source = report.source
    written, _ = source.resolve(path)
    if written != path:
        return
    for line in source.line_span(written, with_key=True):
        match = _HASH_KEY_COMMENT.match(source.line_text(line))
        if match:
            report.at(
                line,
                len(match.group(1)) + 1,
                path,
                "'#:' here is a YAML comment, so this entry is ignored; quote the key: \"#\":",
            )


# --- variables and templates -----------------------------------------------------------------


def variables_set(flow: Flow) -> set[str]:
    """Every flow variable some part of the flow sets."""
    names = set(flow.variables) | set(flow.inputs)
    for _, value in walk(flow):
        if isinstance(value, Go | IfBranch):
            names.update(value.set_vars)
    for step in flow.steps.values():
        save_as = getattr(step, "save_as", None)
        if save_as:
            names.add(save_as)
        if isinstance(step, SetStep):
            names.update(step.vars)
    return names


def _check_templates(flow: Flow, report: Reporter) -> None:
    assigned = variables_set(flow)
    for path, value in walk(flow):
        if not isinstance(value, Template | Expression):
            continue
        for namespace, attribute in sorted(value.references, key=lambda r: (r[0], r[1] or "")):
            if attribute is None:
                continue
            if namespace == "vars" and attribute not in assigned:
                hint = did_you_mean(f"vars.{attribute}", [f"vars.{n}" for n in assigned])
                report.error(path, f"'vars.{attribute}' is never set{hint}")
            elif namespace == "flow" and attribute not in FLOW_FIELDS:
                fields = [f"flow.{f}" for f in FLOW_FIELDS]
                hint = did_you_mean(f"flow.{attribute}", fields) or f"; use {', '.join(fields)}"
                report.error(path, f"'flow.{attribute}' does not exist{hint}")
