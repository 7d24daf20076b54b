"""YAML with positions: every scalar a string, every key and value remembering where it was.

We compose PyYAML's node tree ourselves instead of letting a constructor build Python objects, so
that nothing is guessed from the look of a value: YAML 1.1 would turn `0123` into 83, `17:30` into
1050 and `no` into False. Here every scalar is a `str` (pydantic decides the type later), except
an empty value or `~`/`null`, which is None. Along the way the walk records, for every path, where
its key and its value start and on which line the value ends, and reports duplicate keys (YAML
forbids them; PyYAML keeps the last one silently). Merge keys (`<<: *base`) work as in PyYAML.

Syntax errors become one `Diagnostic` with a message a person can act on, never a traceback. The
fast libyaml parser is used when present; on an error the pure-Python parser re-reads the text so
messages do not depend on how PyYAML was built.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ivrd.flow.errors import Diagnostic

__all__ = ["Path", "Position", "SourceMap", "YamlDocument", "format_path", "load_yaml"]

Path = tuple[str | int, ...]

_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_NODES = 200_000
_MAX_DEPTH = 100
"""Lists and mappings nested deeper than any flow needs: refused before recursion runs out."""
_COMMENTED_VALUE = re.compile(r":\s+#")
_FAST_LOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)
_QUOTE_HINT = "quote keys like '*0' and '#'"


@dataclass(frozen=True, slots=True)
class Position:
    """A 1-based line and column in a source file."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class _Entry:
    value: Position
    key: Position | None
    end_line: int


def format_path(path: Sequence[str | int]) -> str:
    """`("steps", "menu", "options", 0)` -> `steps.menu.options.0`."""
    return ".".join(str(part) for part in path)


@dataclass(slots=True)
class SourceMap:
    """Where each part of a loaded document came from."""

    file: str
    lines: list[str]
    data: Any = None
    _entries: dict[Path, _Entry] = field(default_factory=dict)

    def resolve(self, loc: Sequence[str | int]) -> tuple[Path, bool]:
        """The part of `loc` that exists in the document, and whether it ended on a key.

        `loc` may come from pydantic and hold union tags (`menu`, `<target>`) and `[key]` markers;
        steps that do not name a key or index of the data are skipped, so the result is always a
        path the author wrote.
        """
        current: Any = self.data
        path: list[str | int] = []
        at_key = False
        for part in loc:
            if part == "[key]":
                at_key = True
                break
            in_dict = isinstance(current, dict) and isinstance(part, str) and part in current
            in_list = (
                isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
            )
            if in_dict or in_list:
                current = current[part]
                path.append(part)
        return tuple(path), at_key

    def value_at(self, path: Path) -> Any:
        current: Any = self.data
        for part in path:
            current = current[part]
        return current

    def position(self, path: Path, *, at_key: bool = False) -> Position:
        """Where to point for `path`: the key for mappings, lists and key errors, else the value."""
        entry = self._entries.get(path)
        if entry is None:
            return Position(1, 1)
        if entry.key is not None and (at_key or isinstance(self.value_at(path), dict | list)):
            return entry.key
        return entry.value

    def key_position(self, path: Path) -> Position:
        entry = self._entries.get(path)
        if entry is None:
            return Position(1, 1)
        return entry.key or entry.value

    def value_position(self, path: Path) -> Position:
        entry = self._entries.get(path)
        return entry.value if entry is not None else Position(1, 1)

    def line_span(self, path: Path, *, with_key: bool = False) -> range:
        """The lines (1-based) a value covers, from its key's line when `with_key`."""
        entry = self._entries.get(path)
        if entry is None:
            return range(0)
        first = entry.key.line if with_key and entry.key is not None else entry.value.line
        return range(first, entry.end_line + 1)

    def line_text(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""

    def comment_swallowed_value(self, path: Path) -> bool:
        """True when the value at `path` is empty because an unquoted `#` began a comment."""
        entry = self._entries.get(path)
        if entry is None or entry.key is None:
            return False
        text = self.line_text(entry.key.line)[entry.key.column - 1 :]
        return _COMMENTED_VALUE.search(text) is not None

    def record(self, path: Path, node: Node, key: Node | None) -> None:
        start, end = node.start_mark, node.end_mark
        end_line = end.line + 1 if end.column > 0 or end.line == start.line else end.line
        self._entries[path] = _Entry(
            Position(start.line + 1, start.column + 1),
            None if key is None else Position(key.start_mark.line + 1, key.start_mark.column + 1),
            max(end_line, start.line + 1),
        )


@dataclass(slots=True)
class YamlDocument:
    """The result of reading one file: plain data (or None), positions, problems found."""

    data: Any
    source: SourceMap
    diagnostics: list[Diagnostic]


class _TooLarge(Exception):
    pass


class _TooDeep(Exception):
    def __init__(self, node: Node) -> None:
        super().__init__()
        self.position = _start(node)


class _Composer:
    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.problems: list[Diagnostic] = []
        self.count = 0
        self.active: set[int] = set()

    def problem(self, position: Position, path: Path, message: str) -> None:
        self.problems.append(
            Diagnostic(self.source.file, position.line, position.column, format_path(path), message)
        )

    def convert(self, node: Node, path: Path, key: Node | None) -> Any:
        self.count += 1
        if self.count > _MAX_NODES:
            raise _TooLarge
        if len(path) > _MAX_DEPTH:
            raise _TooDeep(node)
        self.source.record(path, node, key)
        if isinstance(node, ScalarNode):
            if node.tag == _NULL_TAG:
                return None
            return str(node.value)
        if id(node) in self.active:
            mark = node.start_mark
            self.problem(
                Position(mark.line + 1, mark.column + 1), path, "an alias refers to itself"
            )
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.convert(item, (*path, i), None) for i, item in enumerate(node.value)]
            assert isinstance(node, MappingNode)
            return self.mapping(node, path)
        finally:
            self.active.discard(id(node))

    def mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, int] = {}
        merged: list[MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self.merge_sources(value_node, path))
                continue
            name = self.key_name(key_node, path)
            if name is None:
                continue
            child = (*path, name)
            if name in seen:
                self.problem(
                    _start(key_node),
                    child,
                    f"duplicate key '{name}' (first on line {seen[name]}); YAML keeps only one",
                )
            seen[name] = key_node.start_mark.line + 1
            result.pop(name, None)
            result[name] = self.convert(value_node, child, key_node)
        for source_node in merged:
            for key_node, value_node in source_node.value:
                name = self.key_name(key_node, path)
                if name is not None and name not in result:
                    result[name] = self.convert(value_node, (*path, name), key_node)
        return result

    def merge_sources(self, value: Node, path: Path) -> list[MappingNode]:
        if isinstance(value, MappingNode):
            return [value]
        if isinstance(value, SequenceNode) and all(isinstance(v, MappingNode) for v in value.value):
            return [v for v in value.value if isinstance(v, MappingNode)]
        self.problem(_start(value), path, "'<<' merges a mapping or a list of mappings")
        return []

    def key_name(self, key: Node, path: Path) -> str | None:
        if not isinstance(key, ScalarNode):
            self.problem(_start(key), path, "a key must be plain text, not a list or mapping")
            return None
        if key.tag == _NULL_TAG:
            line = self.source.line_text(key.start_mark.line + 1)
            hint = "; an unquoted # starts a comment: quote it as '#'" if "#" in line else ""
            self.problem(_start(key), path, f"empty key{hint}")
            return None
        return str(key.value)


def _start(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def load_yaml(text: str, file: str) -> YamlDocument:
    """Read one YAML document with positions; syntax errors come back as diagnostics."""
    source = SourceMap(file, text.splitlines())
    try:
        node = _compose(text)
    except yaml.reader.ReaderError as exc:
        return YamlDocument(None, source, [_reader_error(exc, text, file)])
    except yaml.YAMLError as exc:
        return YamlDocument(None, source, [_syntax_error(exc, source)])
    except RecursionError:  # only without libyaml: the pure-Python parser recurses per level
        message = "lists or mappings nested too deeply to read"
        return YamlDocument(None, source, [Diagnostic(file, 1, 1, "", message)])
    if node is None:
        return YamlDocument(None, source, [Diagnostic(file, 1, 1, "", "the file is empty")])
    composer = _Composer(source)
    try:
        source.data = composer.convert(node, (), None)
    except _TooLarge:
        message = f"more than {_MAX_NODES} values (aliases expanding?); not reading further"
        return YamlDocument(None, source, [Diagnostic(file, 1, 1, "", message)])
    except _TooDeep as deep:
        at = deep.position
        message = f"lists or mappings nested more than {_MAX_DEPTH} levels deep"
        return YamlDocument(None, source, [Diagnostic(file, at.line, at.column, "", message)])
    return YamlDocument(source.data, source, composer.problems)


def _compose(text: str) -> Node | None:
    if _FAST_LOADER is not None:
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except (yaml.YAMLError, UnicodeEncodeError) as fast_error:
            # Re-read for the pure-Python parser's more precise messages (and its refusal of
            # text that is not Unicode, a lone surrogate, which libyaml cannot even encode).
            # It recurses once per level, so past libyaml's nesting limit it cannot: then
            # libyaml's message.
            if "maximum nesting depth" in str(fast_error):
                raise
            try:
                return yaml.compose(text, Loader=yaml.SafeLoader)
            except RecursionError:
                raise fast_error from None
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _reader_error(exc: yaml.reader.ReaderError, text: str, file: str) -> Diagnostic:
    """A character YAML refuses (NUL, a control character, a lone surrogate), located."""
    before = text[: exc.position]
    line = before.count("\n") + 1
    column = exc.position - before.rfind("\n")
    char = exc.character
    code = ord(char) if isinstance(char, str) else int(char)
    message = f"a character YAML does not allow (#x{code:04x}); remove it"
    return Diagnostic(file, line, column, "", message)


def _syntax_error(exc: yaml.YAMLError, source: SourceMap) -> Diagnostic:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = str(getattr(exc, "problem", None) or exc)
    context = str(getattr(exc, "context", None) or "")
    text = source.line_text(line)
    context_mark = getattr(exc, "context_mark", None)
    context_line = context_mark.line + 1 if context_mark is not None else line
    message = _explain(problem, context, text, source.line_text(context_line), context_line)
    return Diagnostic(source.file, line, column, "", message)


def _explain(problem: str, context: str, line: str, context_line: str, context_at: int) -> str:
    if "'\\t'" in problem:
        return "a tab character here; YAML indents with spaces only"
    if "alias" in problem or "alias" in context or "anchor" in context:
        return f"YAML syntax: {problem}; an unquoted * starts an alias: {_QUOTE_HINT}"
    if "another document" in problem:
        return "a second YAML document ('---'); a flow file holds exactly one flow"
    if "expected <block end>" in problem:
        return "bad indentation: this line does not line up with the keys above it"
    if "mapping values are not allowed" in problem:
        return (
            "YAML syntax: a ':' where no value can start; check the indentation, "
            "or quote a value that contains ': '"
        )
    if context in ("while parsing a flow mapping", "while parsing a flow sequence"):
        bracket = "{" if "mapping" in context else "["
        message = f"YAML syntax: the '{bracket}' on line {context_at} is not closed ({problem})"
    else:
        message = f"YAML syntax: {context + ', ' if context else ''}{problem}"
    if "#" in line or "#" in context_line or "*" in line:
        message += f"; an unquoted # starts a comment and * an alias: {_QUOTE_HINT}"
    elif "got ':'" in problem:
        message += "; quote a value that contains ': '"
    return message
