"""Templates and `if:` expressions: rendering, what they read, and every way they can fail."""

from __future__ import annotations

import traceback
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivrd.flow.escaping import Escape
from ivrd.flow.templating import (
    MAX_OUTPUT,
    NAMESPACES,
    Expression,
    Template,
    TemplateError,
    TemplateRenderError,
    compile_expression,
    compile_template,
)

SECRET = "s3cr3t-T0KEN"
CONTEXT: dict[str, Any] = {
    "call": {
        "uuid": "a1b2",
        "caller_id_number": "+49 (89) 123-4567",
        "Caller-Caller-ID-Name": "Ann",
    },
    "vars": {"account": "12345678", "customer": {"vip": True, "name": "Ann"}, "tries": 2},
    "result": {"status": 200, "body": {"items": [1, 2, 3], "next": None}},
    "secrets": {"CRM_TOKEN": SECRET},
    "flow": {"name": "acme-main"},
}


def render(source: str, context: dict[str, Any] = CONTEXT) -> str:
    return compile_template(source).render(context)


def compile_error(source: str) -> tuple[str, int | None]:
    with pytest.raises(TemplateError) as caught:
        compile_template(source)
    assert caught.value.source == source
    assert str(caught.value) == caught.value.message
    return caught.value.message, caught.value.line


def render_error(source: str, context: dict[str, Any] = CONTEXT) -> TemplateRenderError:
    template = compile_template(source)
    with pytest.raises(TemplateRenderError) as caught:
        template.render(context)
    assert caught.value.source == source
    formatted = "".join(traceback.format_exception(caught.value))
    assert SECRET not in formatted
    return caught.value


# --- rendering -------------------------------------------------------------------------------


def test_namespaces() -> None:
    assert frozenset({"call", "vars", "result", "secrets", "flow"}) == NAMESPACES


def test_render_values_from_every_namespace() -> None:
    assert render("/accounts/{{ vars.account }}") == "/accounts/12345678"
    assert render("Bearer {{ secrets.CRM_TOKEN }}") == f"Bearer {SECRET}"
    assert render("{{ call.uuid }}:{{ flow.name }}:{{ result.status }}") == "a1b2:acme-main:200"
    assert render('{{ call["Caller-Caller-ID-Name"] }}') == "Ann"
    assert render("{% if vars.customer.vip %}VIP {% endif %}{{ vars.customer.name }}") == "VIP Ann"


def test_loops_and_set_are_fine() -> None:
    source = (
        "{% set sep = ',' %}"
        "{% for n in result.body['items'] %}{{ loop.index }}={{ n }}{{ sep }}{% endfor %}"
    )
    assert render(source) == "1=1,2=2,3=3,"
    assert render("{{ range(3) | join('-') }} {{ dict(a=1).a }}") == "0-1-2 1"


def test_mapping_keys_win_over_methods() -> None:
    # JSON bodies often have "items", "keys" or "values" fields.
    assert render("{{ result.body.items | sum }}") == "6"
    assert render("{{ vars.customer.items() | list | length }}") == "2"


def test_trailing_newline_and_whitespace_are_kept() -> None:
    assert render("  {{ vars.tries }}\n\n") == "  2\n\n"


def test_none_renders_as_jinja_does() -> None:
    assert render("{{ result.body.next }}") == "None"


def test_constant_strings_skip_jinja() -> None:
    template = compile_template("plain text, {not} a template %} #}")
    assert template.is_constant
    assert template.references == frozenset()
    assert template.render({}) == "plain text, {not} a template %} #}"
    assert not compile_template("{{ vars.account }}").is_constant
    assert not compile_template("{# only a comment #}").is_constant
    assert compile_template("{# only a comment #}").render({}) == ""


def test_compiled_templates_are_cached_and_comparable() -> None:
    assert compile_template("{{ vars.account }}") is compile_template("{{ vars.account }}")
    assert compile_expression("vars.tries > 1") is compile_expression("vars.tries > 1")
    assert compile_template("x") == Template("x")
    assert isinstance(hash(compile_template("{{ vars.account }}")), int)


@given(st.text().filter(lambda text: not any(m in text for m in ("{{", "{%", "{#"))))
def test_text_without_template_syntax_renders_unchanged(text: str) -> None:
    assert compile_template(text).render({}) == text


@given(
    prefix=st.text(st.characters(blacklist_characters="{}\r")),
    suffix=st.text(st.characters(blacklist_characters="{}\r")),
    value=st.text(),
)
def test_text_around_a_template_renders_unchanged(prefix: str, suffix: str, value: str) -> None:
    template = compile_template(f"{prefix}{{{{ vars.value }}}}{suffix}")
    assert template.render({"vars": {"value": value}}) == prefix + value + suffix


# --- filters ---------------------------------------------------------------------------------


def test_digits_filter() -> None:
    assert render("{{ call.caller_id_number | digits }}") == "49891234567"
    assert render("{{ '*0#x' | digits }}{{ 42 | digits }}") == "*0#42"


def test_mask_filter() -> None:
    assert render("{{ vars.account | mask }}") == "****5678"
    assert render("{{ vars.account | mask(2) }}") == "******78"
    assert render("{{ vars.account | mask(0) }}") == "********"
    # A value no longer than what would be kept is masked whole: a PIN never shows.
    assert render("{{ '1234' | mask }}") == "****"
    assert render("{{ '' | mask }}") == ""
    error = render_error("{{ vars.account | mask(-1) }}")
    assert error.message == (
        'TypeError in "{{ vars.account | mask(-1) }}": '
        "mask() keeps a whole number of characters, not -1"
    )


def test_spell_filter() -> None:
    assert render("{{ vars.account | spell }}") == "1 2 3 4 5 6 7 8"
    assert render("{{ '12 #' | spell }}") == "1 2 #"


# --- what a template reads -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "references"),
    [
        ("{{ vars.account }}", {("vars", "account")}),
        ("{{ call.caller_id_number }}", {("call", "caller_id_number")}),
        ("{{ vars.customer.vip }}", {("vars", "customer")}),
        ('{{ vars["account"] }}', {("vars", "account")}),
        ("{{ call['Caller-Caller-ID-Name'] }}", {("call", "Caller-Caller-ID-Name")}),
        ("{{ vars[vars.key] }}", {("vars", None), ("vars", "key")}),
        ("{{ vars[0] }}", {("vars", None)}),
        ("{{ vars }}", {("vars", None)}),
        ("{{ vars | length }}", {("vars", None)}),
        ("{{ vars.get('account', 'none') }}", {("vars", "account")}),
        ("{{ vars.items() | list }}", {("vars", None)}),
        ("{% for k in vars %}{{ k }}{% endfor %}", {("vars", None)}),
        ("{{ secrets.CRM_TOKEN }}/{{ flow.name }}", {("secrets", "CRM_TOKEN"), ("flow", "name")}),
        ("{% set x = result.status %}{{ x }}", {("result", "status")}),
        ("{{ range(3) | join }}", set()),
    ],
)
def test_references(source: str, references: set[tuple[str, str | None]]) -> None:
    assert compile_template(source).references == references


def test_expression_references() -> None:
    expression = compile_expression("result.status == 200 and vars.customer.vip")
    assert expression.references == {("result", "status"), ("vars", "customer")}


# --- compile errors --------------------------------------------------------------------------

_HINT = "(templates look like {{ vars.name }})"
_USE = "templates can use call, vars, result, secrets, flow"
_ASSIGN = "cannot be assigned: it is one of call, vars, result, secrets, flow"
_END_OF_PRINT = "'end of print statement'"


@pytest.mark.parametrize(
    ("source", "message", "line"),
    [
        ("{{ vars.name }", f"unexpected '}}' {_HINT}", 1),
        ("{{ vars.name", f"unexpected end of template, expected {_END_OF_PRINT} {_HINT}", 1),
        ("1\n2 {{ vars.a vars.b }}", f"expected token {_END_OF_PRINT}, got 'vars' {_HINT}", 2),
        ("{{ }}", f"expected an expression, got {_END_OF_PRINT} {_HINT}", 1),
        ("a\nb\n{% if vars.x %}yes", "{% if %} is not closed (expected {% endif %})", 3),
        ("{% frobnicate %}", "unknown tag 'frobnicate'", 1),
        ("{{ varz.account }}", f"unknown name 'varz' ({_USE}; did you mean 'vars'?)", 1),
        ("\n{{ customer }}", f"unknown name 'customer' ({_USE})", 2),
        ("{{ lipsum() }}", f"unknown name 'lipsum' ({_USE})", 1),
        ("{{ x }}{% set x = 1 %}", f"unknown name 'x' ({_USE})", 1),
        ("{{ vars.name | uper }}", "unknown filter 'uper' (did you mean 'upper'?)", 1),
        ("{% if 1 %}\n{{ vars.name | nosuch }}{% endif %}", "unknown filter 'nosuch'", 2),
        ("{{ vars.name is nmber }}", "unknown test 'nmber' (did you mean 'number'?)", 1),
        ("{% macro m() %}x{% endmacro %}", "{% macro %} is not available in flow templates", 1),
        ("{% include 'other' %}", "{% include %} is not available in flow templates", 1),
        ("{% extends 'base' %}", "{% extends %} is not available in flow templates", 1),
        ("{% set vars = 1 %}", f"'vars' {_ASSIGN}", 1),
        ("{% for call in vars.calls %}{% endfor %}", f"'call' {_ASSIGN}", 1),
    ],
)
def test_compile_errors(source: str, message: str, line: int) -> None:
    assert compile_error(source) == (message, line)


@pytest.mark.parametrize(
    ("source", "message", "line"),
    [
        ("{{ vars.x }}", "conditions are bare expressions: write vars.x, not {{ vars.x }}", 1),
        ("vars.x vars.y", "unexpected 'vars' after the end of the expression", 1),
        ("vars.x ==", "the expression ends too early", 1),
        ("vars.x\n and", "the expression ends too early", 2),
        ("vars.x )", "unexpected ')'", 1),
        (
            "result.status == 200 and varz.vip",
            f"unknown name 'varz' ({_USE}; did you mean 'vars'?)",
            1,
        ),
        ("vars.x | uper", "unknown filter 'uper' (did you mean 'upper'?)", 1),
    ],
)
def test_expression_compile_errors(source: str, message: str, line: int) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_expression(source)
    assert (caught.value.message, caught.value.line, caught.value.source) == (message, line, source)


# --- render errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("{{ vars.custmer.vip }}", "vars.custmer"),
        ("{{ vars.customer.vipp }}", "vars.customer.vipp"),
        ("{{ call['Caller-ID'] }}", 'call["Caller-ID"]'),
        ("{{ result.body['items'][7] }}", "result.body.items[7]"),
        ("{% if vars.nope %}x{% endif %}", "vars.nope"),
        ("{% for c in vars.customers %}{% endfor %}", "vars.customers"),
    ],
)
def test_undefined_values_are_errors(source: str, path: str) -> None:
    assert render_error(source).message == f"'{path}' is undefined in \"{source}\""


def test_undefined_values_can_be_tested() -> None:
    assert render("{{ vars.nope | default('-') }} {{ vars.nope is defined }}") == "- False"


def test_missing_namespace() -> None:
    assert render_error("{{ vars.account }}", {}).message == (
        "'vars' is undefined in \"{{ vars.account }}\""
    )


def test_long_templates_are_shortened_in_messages() -> None:
    source = "{{ vars.nope }}" + "x" * 100 + "\nmore"
    assert render_error(source).message == (
        "'vars.nope' is undefined in \"{{ vars.nope }}" + "x" * 62 + '..."'
    )


def test_secrets_never_reach_an_error() -> None:
    computed = render_error("{{ vars[secrets.CRM_TOKEN] }}")
    assert computed.message == (
        'a value looked up with a computed key is undefined in "{{ vars[secrets.CRM_TOKEN] }}"'
    )
    typed = render_error("{{ secrets.CRM_TOKEN + 1 }}")
    assert typed.message == (
        'TypeError in "{{ secrets.CRM_TOKEN + 1 }}" (details hidden: the template reads secrets)'
    )
    assert typed.__cause__ is None
    attribute = render_error("{{ secrets.CRM_TOKEN.nope }}")
    assert attribute.message == (
        "'secrets.CRM_TOKEN.nope' is undefined in \"{{ secrets.CRM_TOKEN.nope }}\""
    )


def test_other_errors_keep_their_cause() -> None:
    error = render_error("{{ vars.account + 1 }}")
    assert error.message == (
        'TypeError in "{{ vars.account + 1 }}": can only concatenate str (not "int") to str'
    )
    assert isinstance(error.__cause__, TypeError)


_TOO_LONG = f"characters or items (at most {MAX_OUTPUT})"
_TOO_WIDE = f"a format width of 1000000000 is too large (at most {MAX_OUTPUT})"
_TOO_BIG = "numbers above 2**4096 are not allowed"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ ''.__class__ }}", "access to attribute '__class__' of 'str' object is unsafe"),
        ("{{ vars.__class__ }}", "access to attribute '__class__' of 'dict' object is unsafe"),
        ("{{ vars.update({'a': 1}) }}", "access to attribute 'update' of 'dict' object is unsafe"),
        ("{{ 'a' * 10**9 }}", f"the result would have 1000000000 {_TOO_LONG}"),
        ("{{ 10**9 * vars.account }}", f"the result would have 8000000000 {_TOO_LONG}"),
        ("{{ ([1] * 10**6) | length }}", f"the result would have 1000000 {_TOO_LONG}"),
        ("{{ 2 ** 100000 }}", _TOO_BIG),
        ("{{ (2 ** 4000) * (2 ** 4000) }}", _TOO_BIG),
        ("{{ range(10**9) | list }}", "range() of 1000000000 items is too long (at most 10000)"),
        ("{{ '%1000000000d' % 1 }}", _TOO_WIDE),
        ("{{ '%.*f' % (10**9, 1.5) }}", _TOO_WIDE),
        ("{{ '%1000000000s' | format('x') }}", _TOO_WIDE),
    ],
)
def test_sandbox_refusals(source: str, reason: str) -> None:
    assert render_error(source).message == f'not allowed in "{source}": {reason}'


def test_output_is_bounded() -> None:
    source = "{% for i in range(5000) %}{{ '0123456789ABCDEF' }}{% endfor %}"
    assert render_error(source).message == (
        f'the output of "{source}" is 80000 characters long (at most {MAX_OUTPUT})'
    )
    assert len(render("{{ 'x' * 65536 }}")) == MAX_OUTPUT


def test_small_arithmetic_still_works() -> None:
    assert render("{{ '-' * 3 }}{{ 3 * 'ab' }}{{ 2 ** 10 }}{{ '%05d' % 42 }}{{ 7 % 3 }}") == (
        "---ababab102400042" + "1"
    )
    assert render("{{ [0] * 2 }} {{ '%s-%s' | format('a', 'b') }}") == "[0, 0] a-b"


# --- expressions -----------------------------------------------------------------------------


def test_if_expressions() -> None:
    condition = compile_expression("result.status == 200 and vars.customer.vip")
    assert isinstance(condition, Expression)
    assert condition.source == "result.status == 200 and vars.customer.vip"
    assert condition.evaluate(CONTEXT) is True
    not_found = CONTEXT | {"result": {"status": 404}}
    assert condition.evaluate(not_found) is False  # short-circuits: customer is not looked at
    assert compile_expression("vars.tries + 1").evaluate(CONTEXT) == 3
    assert compile_expression("vars.account | mask").evaluate(CONTEXT) == "****5678"
    assert compile_expression("vars.nope is defined").evaluate(CONTEXT) is False


def test_expression_render_errors() -> None:
    condition = compile_expression("result.status == 200 and vars.customer.vip")
    no_customer = CONTEXT | {"vars": {}}
    with pytest.raises(TemplateRenderError) as caught:
        condition.evaluate(no_customer)
    assert caught.value.message == (
        "'vars.customer' is undefined in \"result.status == 200 and vars.customer.vip\""
    )
    # An undefined value as the whole result is an error too, not a falsy object.
    with pytest.raises(TemplateRenderError) as caught:
        compile_expression("vars.customer.gold").evaluate(CONTEXT)
    assert caught.value.message == "'vars.customer.gold' is undefined in \"vars.customer.gold\""
    with pytest.raises(TemplateRenderError) as caught:
        compile_expression("'a' * 10**9").evaluate(CONTEXT)
    assert caught.value.message == (
        "not allowed in \"'a' * 10**9\": "
        f"the result would have 1000000000 characters or items (at most {MAX_OUTPUT})"
    )


# One value alone (`{{ vars.x }}`): rendered without Jinja, to the same text.

_ONE_VALUE_SOURCES = ["{{ vars.choice }}", "{{result.digits}}", "{{  vars.a_1  }}"]
_VALUES = st.one_of(
    st.text(alphabet=st.sampled_from("ab $${}\\'\ue000\ue001%/.?#\n"), max_size=12),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
)


@pytest.mark.parametrize("source", _ONE_VALUE_SOURCES)
@pytest.mark.parametrize("escape", [None, Escape.FREESWITCH, Escape.URL_PATH])
@given(value=_VALUES)
def test_one_value_renders_without_jinja_as_jinja_renders_it(
    source: str, escape: Escape | None, value: Any
) -> None:
    template = compile_template(source)
    assert template.reference is not None
    namespace, name = template.reference
    context = {"vars": {}, "result": {}}
    context[namespace] = {name: value}
    try:
        expected: str | None = template.render(context, escape=escape)
    except TemplateRenderError:
        expected = None  # then the caller renders with Jinja, which says why
    fast = template.render_value(value, escape=escape)
    if fast is not None:
        assert fast == expected
    else:
        assert expected is None or type(value) not in (str, int)


@pytest.mark.parametrize(
    "source",
    ["{{ vars.choice }}!", "{{ vars.choice|upper }}", "{{ call.caller_id }}", "{{ vars['x'] }}"],
)
def test_only_a_value_alone_is_rendered_without_jinja(source: str) -> None:
    assert compile_template(source).reference is None
