"""Hypothesis: the flow loader and the config loader, given anything, answer with diagnostics.

Whatever the text, loading gives a flow (a configuration) or diagnostics, never another
exception; every diagnostic names its file, line and column (or the environment variable) and
reads like one, never like a traceback; `require()` raises our error type exactly when there
are errors. Inputs are arbitrary YAML-ish text, and documents generated from the JSON Schemas
(`ivrd schema`, the config models') and the example flows, serialised in block or flow style
and then damaged a little: a line dropped or repeated, the text cut, a stray token inserted.
These get past the YAML reader into validation, the graph checks and the templates.

tests/flow/test_loading.py covers a smaller alphabet of flow words; the byte-level version of
this, unbounded, is benchmarks/fuzz/fuzz_flow_loader.py.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic.json_schema import PydanticJsonSchemaWarning

from ivrd.daemon import ConfigError, load_config
from ivrd.daemon.config import SECTIONS, Config
from ivrd.daemon.loading import env_variable
from ivrd.flow import Diagnostic, FlowError, LoadResult, flow_json_schema, load_flow_text
from ivrd.flow.yamlpos import load_yaml

REPO = Path(__file__).resolve().parents[2]
DEPTH = 5
"""Nesting the generated documents reach (the flow language needs about this much)."""

# Names a flow uses over and over: steps, prompts, services, languages, keys, outcomes.
WORDS = ["main", "menu", "ask", "bye", "crm", "en", "de", "1", "*0", "#", "next", "office"]
VALUES = [
    "5s", "100ms", "1h", "30", "0", "-1", "true", "no", "~", "hangup", "answer", "GET",
    "Europe/Berlin", "ivr/welcome.wav", "{{ vars.x }}", "{{ secrets.TOKEN }}", "{{ call.uuid",
    "{% if %}", "result.status == 200", "vars.pin | int > 3", "09:00-17:00", "mon-fri",
    "subflows/verify-pin.yaml", "../flows/hello.yaml", "user/1000", "^1[0-9]+$", "(",
]  # fmt: skip
NAMES = st.sampled_from(WORDS)
# Mostly the words and values flows are made of; now and then anything at all.
TEXT = st.one_of(*[st.sampled_from(VALUES + WORDS)] * 4, st.text(max_size=10))


_BUILT: dict[tuple[int, int], st.SearchStrategy[Any]] = {}


def from_schema(node: dict[str, Any], defs: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    """Documents shaped like `node` (a JSON Schema): the right keys, mostly plausible values."""
    key = (id(node), depth)
    if key not in _BUILT:
        _BUILT[key] = _from_schema(node, defs, depth)
    return _BUILT[key]


def _from_schema(node: dict[str, Any], defs: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if "$ref" in node:
        return from_schema(defs[node["$ref"].rsplit("/", 1)[-1]], defs, depth)
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in node:
            return st.one_of([from_schema(part, defs, depth) for part in node[combined]])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "const" in node:
        return st.just(node["const"])
    kind = node.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**node, "type": one}, defs, depth) for one in kind])
    if kind == "object":
        return _object(node, defs, depth)
    if kind == "array":
        if depth >= DEPTH:
            return st.just([])
        items = from_schema(node.get("items", {}), defs, depth + 1)
        return st.lists(items, min_size=min(node.get("minItems", 0), 3), max_size=3)
    if kind == "integer":
        return st.integers(node.get("minimum", -5), node.get("maximum", 100))
    if kind == "number":
        return st.integers(0, 100) | st.floats(0, 10, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    pattern = node.get("pattern")
    fitting = [word for word in WORDS + VALUES if pattern and re.search(pattern, word)]
    return st.sampled_from(node.get("examples", []) + fitting or VALUES) | TEXT


def _object(node: dict[str, Any], defs: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if depth >= DEPTH:
        return st.just({})
    required = set(node.get("required", ()))
    properties = node.get("properties", {})
    fixed = {k: from_schema(v, defs, depth + 1) for k, v in properties.items() if k in required}
    optional = {
        k: from_schema(v, defs, depth + 1) for k, v in properties.items() if k not in required
    }
    mapping = st.fixed_dictionaries(fixed, optional=optional)
    patterns = list(node.get("patternProperties", {}).values())
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        patterns.append(extra)
    if patterns:
        values = st.one_of([from_schema(p, defs, depth + 1) for p in patterns])
        free = st.dictionaries(
            NAMES, values, min_size=min(node.get("minProperties", 0), 3), max_size=3
        )
        mapping = st.builds(lambda a, b: {**b, **a}, mapping, free)
    return mapping


@st.composite
def damaged(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> str:
    """A document as YAML text, then (mostly) a little broken."""
    text = yaml.safe_dump(
        draw(documents), default_flow_style=draw(st.booleans()), allow_unicode=True, sort_keys=False
    )
    lines = text.splitlines(keepends=True)
    harm = draw(st.sampled_from(["none", "none", "drop", "repeat", "cut", "insert"]))
    at = draw(st.integers(0, max(0, len(lines) - 1)))
    if harm == "drop" and lines:
        del lines[at]
    elif harm == "repeat" and lines:
        lines.insert(at, lines[at])
    text = "".join(lines)
    if harm == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif harm == "insert":
        where = draw(st.integers(0, len(text)))
        token = draw(st.sampled_from(["\t", ": ", "- ", "[", "{", "*a", "&a ", "#", '"', "\n  "]))
        text = text[:where] + token + text[where:]
    return text


FLOW_SCHEMA = flow_json_schema()
EXAMPLE_FLOWS = [
    load_yaml(path.read_text(encoding="utf-8"), path.name).data
    for path in sorted((REPO / "flows").glob("*.yaml"))
    if not path.name.endswith(".test.yaml")
]
FLOW_DOCUMENTS = from_schema(FLOW_SCHEMA, FLOW_SCHEMA["$defs"], 0) | st.sampled_from(EXAMPLE_FLOWS)
with warnings.catch_warnings():  # the password's default (a SecretStr) is left out: fine here
    warnings.simplefilter("ignore", PydanticJsonSchemaWarning)
    CONFIG_SCHEMA = Config.model_json_schema()
CONFIG_DOCUMENTS = from_schema(CONFIG_SCHEMA, CONFIG_SCHEMA["$defs"], 0)
YAML_TEXT = st.text(
    st.sampled_from([*"ab01 :-\n\t#*&!|>'\"{}[],?~%@`\\", "\x00", "\x85", "é", "\ud800"]),
    max_size=120,
)


def check_diagnostics(diagnostics: tuple[Diagnostic, ...], *, environment: bool = False) -> None:
    for diagnostic in diagnostics:
        assert isinstance(diagnostic, Diagnostic)
        text = str(diagnostic)
        assert diagnostic.message, text
        assert "Traceback" not in text
        if environment and text.startswith(("environment IVRD_", "default setting: ")):
            continue
        assert diagnostic.line >= 1, text
        assert diagnostic.column >= 1, text
        assert text.startswith(f"{diagnostic.file}:{diagnostic.line}:{diagnostic.column}: "), text


def check_flow(result: LoadResult) -> None:
    check_diagnostics(result.diagnostics)
    assert result.ok == (not result.errors)
    if result.flow is None:
        with pytest.raises(FlowError):
            result.require()


@given(YAML_TEXT)
@example("a: " + "[" * 500 + "]" * 500)
@example("[" * 5000)
@example("ivr: 1\nname: \ud800\n")
def test_any_text_loads_as_a_flow_or_diagnostics(text: str) -> None:
    check_flow(load_flow_text(text, "fuzz.yaml", REPO / "flows"))


def test_generated_flow_documents_load_or_give_diagnostics() -> None:
    """Also: the schema strategy is worth its keep, its documents reach past the YAML reader
    into validation and the checks, and some are whole valid flows."""
    reached: set[str] = set()

    @settings(max_examples=100)  # whole files: each takes a few milliseconds
    @given(damaged(FLOW_DOCUMENTS))
    def load(text: str) -> None:
        result = load_flow_text(text, "fuzz.yaml", REPO / "flows")
        check_flow(result)
        if result.ok:
            reached.add("valid")
        elif any(re.match("YAML syntax|a tab", d.message) for d in result.diagnostics):
            reached.add("syntax")
        elif any(d.path.startswith("steps.") for d in result.diagnostics):
            reached.add("steps")

    load()
    assert reached == {"syntax", "steps", "valid"}


SETTINGS = [env_variable(s, k) for s, model in SECTIONS.items() for k in model.model_fields]
ENVIRONMENT = st.dictionaries(
    st.sampled_from([*SETTINGS, "IVRD_LIMIT_MAX_CALLS", "IVRD_SECRET_X", "IVRD_", "IVRD_X_Y"]),
    TEXT | st.sampled_from(["[{destination: '^1', flow: a}]", "[", "a,b", "\udcff", ""]),
    max_size=3,
)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("config")
    (directory / "flows").mkdir()
    return directory / "config.yaml"


@given(text=YAML_TEXT | damaged(CONFIG_DOCUMENTS), environ=ENVIRONMENT)
def test_any_config_loads_or_gives_diagnostics(
    config_file: Path, text: str, environ: dict[str, str]
) -> None:
    config_file.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = load_config(config_file, environ, check_paths=True)
    check_diagnostics(result.diagnostics, environment=True)
    assert all(d.file in (str(config_file), *environ) for d in result.diagnostics)
    if result.config is None:
        with pytest.raises(ConfigError):
            result.require()
    else:
        assert not result.errors
