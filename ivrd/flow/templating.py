"""Sandboxed Jinja2 for flows: `{{ }}` templates in string values, bare expressions in `if:`.

Templates are compiled once, when a flow loads: syntax errors, names outside the namespaces
(`call`, `vars`, `result`, `secrets`, `flow`) and unknown filters are reported then, with the
line inside the template and a did-you-mean. Each compiled template knows which
(namespace, attribute) pairs it reads, so the flow checks can tell a typo in `vars.acount`
from a variable that is set later. A string without template syntax renders as itself without
touching Jinja.

Rendering uses `ImmutableSandboxedEnvironment` and a strict undefined: a missing value is an
error naming the path (`'vars.customer' is undefined in "{{ vars.customer.vip }}"`), never an
empty string. On mappings, keys win over methods, so `result.body.items` is the JSON field
"items", not `dict.items`. Error messages quote the template and the names it used, never a
value, so a secret cannot reach a log through an error.

Templates are written by the flow's author, who decides where calls go anyway; text from callers
or HTTP services is only ever data, never compiled. The sandbox keeps templates away from Python
internals and from changing data; the size limits catch runaway output by mistake
(`'-' * 10**9`, `range(10**9)`, printf widths) before it is computed, and every render is capped
at `MAX_OUTPUT` characters. They do not make a deliberately slow template fast.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NoReturn

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2 import Template as JinjaTemplate
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError, TemplateAssertionError, UndefinedError
from jinja2.meta import find_undeclared_variables
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from ivrd.flow.errors import did_you_mean
from ivrd.flow.escaping import Escape, finalize, finalize_for, rendering_for, unmark

__all__ = [
    "MAX_OUTPUT",
    "MAX_RANGE",
    "NAMESPACES",
    "Expression",
    "Reference",
    "Template",
    "TemplateError",
    "TemplateRenderError",
    "compile_expression",
    "compile_template",
]

NAMESPACES: frozenset[str] = frozenset({"call", "vars", "result", "secrets", "flow"})
MAX_OUTPUT = 64 * 1024
"""Characters one render may produce, and the longest string or list an operator may build."""
MAX_RANGE = 10_000
"""Items `range()` may produce in a template."""

Reference = tuple[str, str | None]
"""(namespace, first attribute); the attribute is None when it is computed or not used."""

_ORDER = ("call", "vars", "result", "secrets", "flow")
_MAX_INT_BITS = 4096
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_UNAVAILABLE_TAGS: dict[type[nodes.Node], str] = {
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.Block: "block",
    nodes.Extends: "extends",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from",
}
_UNCLOSED = re.compile(r"innermost block that needs to be closed is '(\w+)'")
_SYNTAX_HINT = " (templates look like {{ vars.name }})"
_ABSENT = object()


class TemplateError(Exception):
    """A template that cannot be compiled; `line` is 1-based within the template's text."""

    def __init__(self, message: str, line: int | None, source: str) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.source = source


class TemplateRenderError(Exception):
    """A template failed while rendering: a missing value, a sandbox refusal, a type error."""

    def __init__(self, message: str, source: str) -> None:
        super().__init__(message)
        self.message = message
        self.source = source


# --- the sandbox ------------------------------------------------------------------------------


class _MissingValue(UndefinedError):
    def __init__(self, message: str, obj: Any, name: str | None) -> None:
        super().__init__(message)
        self.obj = obj
        self.name = name


class _Undefined(StrictUndefined):
    """StrictUndefined whose error carries the object and name, to name the missing path."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        if self._undefined_exception is UndefinedError:
            raise _MissingValue(self._undefined_message, self._undefined_obj, self._undefined_name)
        super()._fail_with_undefined_error(*args, **kwargs)


# Undefined binds its operators to the base method when the class is made, so the override above
# is only seen through names bound again here.
for _base in (Undefined, StrictUndefined):
    for _name, _member in vars(_base).items():
        if _member is Undefined._fail_with_undefined_error and _name.startswith("__"):
            setattr(_Undefined, _name, _Undefined._fail_with_undefined_error)
del _base, _name, _member


def _too_long(size: int) -> SecurityError:
    return SecurityError(f"the result would have {size} characters or items (at most {MAX_OUTPUT})")


def _check_printf(text: str, args: Any) -> None:
    widths = [n for spec in _PRINTF_SPEC.findall(text) for n in spec if n]
    if "*" in widths:
        values = args if isinstance(args, tuple) else (args,)
        widths += [str(v) for v in values if isinstance(v, int) and not isinstance(v, bool)]
    for width in widths:
        if width != "*" and int(width) > MAX_OUTPUT:
            raise SecurityError(f"a format width of {width} is too large (at most {MAX_OUTPUT})")


def _check_operands(operator: str, left: Any, right: Any) -> None:
    """Refuse, before computing it, a result that could only be a runaway."""
    if operator == "%" and isinstance(left, str):
        _check_printf(left, right)
    elif operator == "*":
        for items, count in ((left, right), (right, left)):
            size = len(items) * count if isinstance(items, str | list | tuple) else 0
            if isinstance(count, int) and size > MAX_OUTPUT:
                raise _too_long(size)
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    bits = left.bit_length() + right.bit_length() if operator == "*" else 0
    if operator == "**" and abs(left) > 1 and right > 0:
        bits = left.bit_length() * right
    if bits > _MAX_INT_BITS:
        raise SecurityError(f"numbers above 2**{_MAX_INT_BITS} are not allowed")


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_operands(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (LookupError, TypeError):
                pass
        return super().getattr(obj, attribute)


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() of {len(numbers)} items is too long (at most {MAX_RANGE})")
    return numbers


def _digits(value: Any) -> str:
    """Only the keypad characters: `+49 (89) 123-4` -> `49891234`."""
    return "".join(char for char in str(value) if char in "0123456789*#")


def _mask(value: Any, keep: int = 4) -> str:
    """All but the last `keep` characters as `*`; a value no longer than `keep` is masked whole,
    so a four-digit PIN never shows in a log."""
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise TypeError(f"mask() keeps a whole number of characters, not {keep!r}")
    text = str(value)
    shown = keep if len(text) > keep else 0
    return "*" * (len(text) - shown) + text[len(text) - shown :]


def _spell(value: Any) -> str:
    """Characters one by one, for text-to-speech: `1234` -> `1 2 3 4`."""
    return " ".join(char for char in str(value) if not char.isspace())


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    _check_printf(str(value), args)
    return str(value) % (kwargs or args)


def _make_environment() -> _Sandbox:
    # `finalize` treats each `{{ }}` result for where the text goes (ivrd.flow.escaping).
    env = _Sandbox(
        undefined=_Undefined, autoescape=False, keep_trailing_newline=True, finalize=finalize
    )
    # Only what a flow needs: lipsum(), namespace() and friends make text or mutable state.
    env.globals.clear()
    env.globals.update(range=_bounded_range, dict=dict)
    env.filters.update(digits=_digits, mask=_mask, spell=_spell, format=_format)
    return env


_ENV = _make_environment()


# --- compiling ---------------------------------------------------------------------------------


def _syntax_error(
    exc: TemplateSyntaxError | TemplateAssertionError, source: str, hint: str
) -> TemplateError:
    message = exc.message or "syntax error"
    unclosed = _UNCLOSED.search(message)
    if unclosed:
        tag = unclosed[1]
        message = f"{{% {tag} %}} is not closed (expected {{% end{tag} %}})"
    elif message.startswith("unexpected 'end of template'"):
        message = "the expression ends too early"
    elif message.startswith("Encountered unknown tag"):
        message = message.replace("Encountered unknown", "unknown").rstrip(".")
    else:
        message = message[0].lower() + message[1:].rstrip(".") + hint
    return TemplateError(message, exc.lineno, source)


def _unknown(kind: str, name: str, candidates: Sequence[str]) -> str:
    hint = did_you_mean(name, candidates).removeprefix("; ")
    return f"unknown {kind} '{name}'" + (f" ({hint})" if hint else "")


def _check_tree(tree: nodes.Template, source: str) -> None:
    """Refuse what cannot work at run time, so the flow fails when it loads instead."""
    for node in tree.find_all(nodes.Node):
        tag = _UNAVAILABLE_TAGS.get(type(node))
        message = None
        if tag:
            message = f"{{% {tag} %}} is not available in flow templates"
        elif isinstance(node, nodes.Filter) and node.name not in _ENV.filters:
            message = _unknown("filter", node.name, sorted(_ENV.filters))
        elif isinstance(node, nodes.Test) and node.name not in _ENV.tests:
            message = _unknown("test", node.name, sorted(_ENV.tests))
        elif isinstance(node, nodes.Name) and node.ctx != "load" and node.name in NAMESPACES:
            message = f"'{node.name}' cannot be assigned: it is one of {', '.join(_ORDER)}"
        if message:
            raise TemplateError(message, node.lineno, source)
    allowed = NAMESPACES | _ENV.globals.keys()
    unknown = find_undeclared_variables(tree) - allowed
    for name_node in tree.find_all(nodes.Name):
        if name_node.name in unknown:
            namespaces = ", ".join(_ORDER)
            hint = did_you_mean(name_node.name, [*_ORDER, *_ENV.globals])
            message = f"unknown name '{name_node.name}' (templates can use {namespaces}{hint})"
            raise TemplateError(message, name_node.lineno, source)


Chain = tuple[str | int, ...]


def _chain_of(name: nodes.Name, ancestors: list[nodes.Node]) -> tuple[Chain, nodes.Node | None]:
    """`vars.customer["id"]` -> ("vars", "customer", "id"), and the node that uses the chain."""
    chain: list[str | int] = [name.name]
    current: nodes.Node = name
    for parent in reversed(ancestors):
        if isinstance(parent, nodes.Getattr) and parent.node is current:
            chain.append(parent.attr)
        elif (
            isinstance(parent, nodes.Getitem)
            and parent.node is current
            and isinstance(parent.arg, nodes.Const)
            and isinstance(parent.arg.value, str | int)
        ):
            chain.append(parent.arg.value)
        else:
            return tuple(chain), parent
        current = parent
    return tuple(chain), None


def _analyse(tree: nodes.Node) -> tuple[frozenset[Reference], tuple[Chain, ...]]:
    references: set[Reference] = set()
    chains: dict[Chain, None] = {}

    def walk(node: nodes.Node, ancestors: list[nodes.Node]) -> None:
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name in NAMESPACES:
            chain, user = _chain_of(node, ancestors)
            chains[chain] = None
            attribute = chain[1] if len(chain) > 1 and isinstance(chain[1], str) else None
            # `vars.get("x")` reads vars.x; the other mapping methods read everything.
            if len(chain) == 2 and attribute in ("get", "items", "keys", "values"):
                attribute = None
                if isinstance(user, nodes.Call) and chain[1] == "get" and user.args:
                    first = user.args[0]
                    if isinstance(first, nodes.Const) and isinstance(first.value, str):
                        attribute = first.value
            references.add((node.name, attribute))
        ancestors.append(node)
        for child in node.iter_child_nodes():
            walk(child, ancestors)
        ancestors.pop()

    walk(tree, [])
    return frozenset(references), tuple(chains)


@dataclass(frozen=True)
class Template:
    """A compiled string value; `render` returns it with every `{{ }}` filled in."""

    source: str
    references: frozenset[Reference] = frozenset()
    _compiled: JinjaTemplate | None = field(default=None, repr=False, compare=False)
    _chains: tuple[Chain, ...] = field(default=(), repr=False, compare=False)
    reference: tuple[str, str] | None = field(default=None, repr=False, compare=False)
    """(namespace, name) when the whole template is `{{ vars.NAME }}` or `{{ result.NAME }}`."""

    @property
    def is_constant(self) -> bool:
        """No template syntax at all: renders as its source."""
        return self._compiled is None

    def render_value(self, value: object, *, escape: Escape | None = None) -> str | None:
        """What `render` gives for a template that is only a `reference`, given the value it
        refers to; None where only `render` can tell (then call it: it says why it fails).

        A flow's most common template is one value as it is (`{{ vars.choice }}`): this
        gives the same text without Jinja, whose render costs a call tens of microseconds.
        The value goes through the same `finalize` (as `finalize_for`) and `unmark` as in a
        render. Only a string or an integer is taken: the sandbox reads a name in a mapping
        before an attribute, and `str` of either is what Jinja writes.
        """
        if type(value) is not str and type(value) is not int:
            return None
        try:
            text = str(finalize_for(value, escape))
            if escape is Escape.FREESWITCH:
                text = unmark(text)
        except Exception:
            return None
        return text if len(text) <= MAX_OUTPUT else None

    def render(self, context: Mapping[str, Any], *, escape: Escape | None = None) -> str:
        """The text; `escape` names where it goes when that reads syntax in it (FreeSWITCH, a
        URL path), so that a value filled in stays data there (see ivrd.flow.escaping)."""
        if self._compiled is None:
            return self.source
        try:
            with rendering_for(escape):
                text = self._compiled.render(context)
            if escape is Escape.FREESWITCH:
                text = unmark(text)
        except Exception as exc:
            raise _render_error(exc, self, context) from _cause(exc, self.references)
        if len(text) > MAX_OUTPUT:
            message = f"the output of {_quote(self.source)} is {len(text)} characters long"
            raise TemplateRenderError(f"{message} (at most {MAX_OUTPUT})", self.source)
        return text


@dataclass(frozen=True)
class Expression:
    """A compiled bare expression, as written in `if:`; `evaluate` returns its value."""

    source: str
    references: frozenset[Reference]
    _compiled: TemplateExpression = field(repr=False, compare=False)
    _chains: tuple[Chain, ...] = field(repr=False, compare=False)

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        try:
            value = self._compiled(context)
            if isinstance(value, Undefined):
                value._fail_with_undefined_error()
        except Exception as exc:
            raise _render_error(exc, self, context) from _cause(exc, self.references)
        return value


_TOO_DEEP = "nested too deeply to compile (brackets, filters or blocks within one another)"
_MAX_DEPTH = 50
"""Jinja's parser and Python's compiler recurse once per level and give up some way in, and
Jinja's optimiser takes time cubic in the depth (300 attributes deep: ten seconds). No flow
nests a template a tenth as deep; deeper ones are refused before they are compiled."""


def _check_depth(tree: nodes.Node, source: str) -> None:
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise TemplateError(_TOO_DEEP, None, source)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


def compile_template(source: str) -> Template:
    """Compile a string value; raises TemplateError with a message for people.

    Compiled templates are cached by source and shared: a flow compiles each value once.
    """
    return _compile_template(source)


def compile_expression(source: str) -> Expression:
    """Compile an `if:` condition; raises TemplateError with a message for people. Cached."""
    return _compile_expression(source)


@lru_cache(maxsize=4096)
def _compile_template(source: str) -> Template:
    if not any(marker in source for marker in ("{{", "{%", "{#")):
        return Template(source)
    try:
        tree = _ENV.parse(source)
        _check_depth(tree, source)
        _check_tree(tree, source)
        compiled = _ENV.from_string(tree)
        references, chains = _analyse(tree)
    except (TemplateSyntaxError, TemplateAssertionError) as exc:
        raise _syntax_error(exc, source, _SYNTAX_HINT) from None
    except (RecursionError, SyntaxError):
        raise TemplateError(_TOO_DEEP, None, source) from None
    only = _ONE_REFERENCE.fullmatch(source)
    reference = None if only is None else (only["namespace"], only["name"])
    return Template(source, references, compiled, chains, reference)


# A template that is one value and nothing else (Jinja's names, no filter, no test).
_ONE_REFERENCE = re.compile(
    r"\{\{\s*(?P<namespace>vars|result)\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}"
)


@lru_cache(maxsize=4096)
def _compile_expression(source: str) -> Expression:
    stripped = source.strip()
    if stripped.startswith("{{") and stripped.endswith("}}"):
        bare = stripped[2:-2].strip()
        message = f"conditions are bare expressions: write {bare}, not {{{{ {bare} }}}}"
        raise TemplateError(message, 1, source)
    try:
        parser = Parser(_ENV, source, state="variable")
        tree = parser.parse_expression()
        _check_depth(tree, source)
        if not parser.stream.eos:
            token = parser.stream.current
            raise TemplateError(
                f"unexpected '{token.value}' after the end of the expression", token.lineno, source
            )
        wrapped = nodes.Template([nodes.Output([tree])], lineno=1)
        wrapped.set_environment(_ENV)
        _check_tree(wrapped, source)
        compiled = _ENV.compile_expression(source, undefined_to_none=False)
        references, chains = _analyse(wrapped)
    except (TemplateSyntaxError, TemplateAssertionError) as exc:
        raise _syntax_error(exc, source, "") from None
    except (RecursionError, SyntaxError):
        raise TemplateError(_TOO_DEEP, None, source) from None
    return Expression(source, references, compiled, chains)


# --- render errors -----------------------------------------------------------------------------


def _quote(source: str) -> str:
    shown = source if len(source) <= 80 else source[:77] + "..."
    return '"' + shown.replace("\n", "\\n") + '"'


def _format_chain(chain: Chain) -> str:
    text = str(chain[0])
    for key in chain[1:]:
        if isinstance(key, str) and key.isidentifier():
            text += f".{key}"
        else:
            text += f'["{key}"]' if isinstance(key, str) else f"[{key}]"
    return text


def _lookup(value: Any, key: str | int) -> Any:
    """One step of a chain, as the sandbox takes it: mapping key, list index, then attribute."""
    try:
        if isinstance(value, Mapping) and key in value:
            return value[key]
        if isinstance(key, int) and isinstance(value, Sequence) and not isinstance(value, str):
            return value[key]
    except (LookupError, TypeError):
        return _ABSENT
    if isinstance(key, str) and not key.startswith("_"):
        return getattr(value, key, _ABSENT)
    return _ABSENT


def _missing_path(exc: _MissingValue, chains: tuple[Chain, ...], context: Mapping[str, Any]) -> str:
    if exc.obj is missing:
        return f"'{exc.name}'"
    for chain in chains:
        current = context.get(str(chain[0]), _ABSENT)
        for index, key in enumerate(chain[1:], start=1):
            if current is exc.obj and key == exc.name:
                return f"'{_format_chain(chain[: index + 1])}'"
            current = _lookup(current, key)
            if current is _ABSENT:
                break
    # The name may be a computed key, which could be a secret: only names written in the template
    # are shown.
    if any(exc.name in chain for chain in chains):
        return f"'{exc.name}'"
    return "a value looked up with a computed key"


def _render_error(
    exc: Exception, template: Template | Expression, context: Mapping[str, Any]
) -> TemplateRenderError:
    where = _quote(template.source)
    if isinstance(exc, _MissingValue):
        message = f"{_missing_path(exc, template._chains, context)} is undefined in {where}"
    elif isinstance(exc, SecurityError):
        message = f"not allowed in {where}: {str(exc).rstrip('.')}"
    elif any(namespace == "secrets" for namespace, _ in template.references):
        message = f"{type(exc).__name__} in {where} (details hidden: the template reads secrets)"
    else:
        message = f"{type(exc).__name__} in {where}: {exc}"
    return TemplateRenderError(message, template.source)


def _cause(exc: Exception, references: frozenset[Reference]) -> Exception | None:
    """The original exception for tracebacks, unless its text could hold a secret's value."""
    if isinstance(exc, UndefinedError | SecurityError):
        return None
    return None if any(namespace == "secrets" for namespace, _ in references) else exc
