"""Expressions: literals, templates, heredocs, operators, conditionals, for, splats, indexing."""

from __future__ import annotations

import json
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from l4plan.configs import load_config
from l4plan.configs.model import UNKNOWN


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("42", 42),
        ("-7", -7),
        ("2.5", 2.5),
        ("1.5e3", 1500),
        ("true", True),
        ("false", False),
        ("null", None),
        ('"plain"', "plain"),
        ('""', ""),
        ('"tab\\there\\nquote\\" back\\\\slash"', 'tab\there\nquote" back\\slash'),
        ('"\\u00e9\\U0001F600"', "\u00e9\U0001f600"),
        ('"literal $${not} %%{interp}"', "literal ${not} %{interp}"),
        ('"dollar $ and percent % alone"', "dollar $ and percent % alone"),
        ('[1, "a", true, null]', [1, "a", True, None]),
        ("[]", []),
        ('{a = 1, "b" = 2, c: 3}', {"a": 1, "b": 2, "c": 3}),
        ('{("x${1}") = 1, 2 = "two"}', {"x1": 1, "2": "two"}),
        ("{for = 1, in = 2, if = 3}", {"for": 1, "in": 2, "if": 3}),
        ("{\n  a = 1\n  b = 2,\n}", {"a": 1, "b": 2}),
        ("[\n  1,\n  2,\n]", [1, 2]),
    ],
)
def test_literals(value_of, expression, expected):
    assert value_of(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("7 / 2", 3.5),
        ("4 / 2", 2),
        ("7 % 3", 1),
        ("-7 % 3", -1),
        ("2.5 * 2", 5),
        ('"5" + 1', 6),
        ("-(3)", -3),
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 4", False),
        ('"10" >= 9', True),
        ("1 == 1.0", True),
        ('1 == "1"', False),
        ("true == 1", False),
        ("[1, {a = 2}] == [1, {a = 2}]", True),
        ("{a = 1} != {a = 2}", True),
        ("null == null", True),
        ("true && !false", True),
        ("false || false", False),
        ('"true" && true', True),
        ("!true || 1 < 2 && 2 < 3", True),
        ('1 < 2 ? "yes" : "no"', "yes"),
        ("false ? 1 : true ? 2 : 3", 2),
        ("1 +\n  2", 3),
        ("true\n  ? 1\n  : 2", 1),
    ],
)
def test_operators_and_conditionals(value_of, expression, expected):
    assert value_of(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('"a${1 + 1}b${"c"}"', "a2bc"),
        ('"${[1, 2]}"', [1, 2]),
        ('"${true}"', True),
        ('"${true} ${2.5} ${-1}"', "true 2.5 -1"),
        ('"%{ if 1 < 2 }yes%{ else }no%{ endif }"', "yes"),
        ('"%{ if false }yes%{ endif }!"', "!"),
        ('"%{ for i, v in ["a", "b"] }${i}=${v};%{ endfor }"', "0=a;1=b;"),
        ('"%{ for k, v in {y = 2, x = 1} }${k}${v}%{ endfor }"', "x1y2"),
        ('"a %{~ if true ~} b %{~ endif ~} c"', "abc"),
        ('"list: %{ for x in [1, 2] }%{ if x > 1 },%{ endif }${x}%{ endfor }"', "list: 1,2"),
        ('"%{ if "a" == "a" }same%{ endif }"', "same"),
    ],
)
def test_templates(value_of, expression, expected):
    assert value_of(expression) == expected


def test_heredoc_keeps_text_and_interpolates(value_of):
    value = value_of('<<EOT\nhello ${upper("x")}\n  indented $${kept}\nEOT\n')
    assert value == "hello X\n  indented ${kept}\n"


def test_indented_heredoc_trims_the_common_indentation(value_of):
    value = value_of("<<-EOT\n    first\n      second ${1 + 1}\n\n    third\n    EOT\n")
    assert value == "first\n  second 2\n\nthird\n"


def test_heredoc_directives(value_of):
    value = value_of(
        "<<EOT\n%{ for p in [80, 443] ~}\nport ${p}\n%{ endfor ~}\n"
        "%{ if true }on%{ else }off%{ endif }\nEOT\n"
    )
    assert value == "port 80\nport 443\non\n"


def test_heredoc_with_braces_and_strings_inside_interpolation(value_of):
    assert value_of('<<EOT\n${ {a = "}"}["a"] }\nEOT\n') == "}\n"


def test_empty_heredoc(value_of):
    assert value_of("<<EOT\nEOT\n") == ""


def test_heredoc_problems_point_into_the_heredoc(load):
    config = load("locals {\n  a = <<EOT\nline one\nvalue ${1 +}\nEOT\n}\n")
    assert [(d.code, d.line) for d in config.diagnostics] == [("L4E000", 4)]
    config = load("locals {\n  a = <<EOT\nx %{ bogus }\nEOT\n}\n")
    assert [(d.code, d.line, d.column) for d in config.diagnostics] == [("L4E000", 3, 3)]
    assert "unknown template directive" in config.diagnostics[0].message
    config = load('output "o" {\n  value = <<EOT\nhi ${nope.x}\nEOT\n}\n')
    assert [(d.code, d.line, d.column) for d in config.diagnostics] == [("L4E015", 3, 6)]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('[for s in ["a", "b"] : upper(s)]', ["A", "B"]),
        ("[for i, v in [10, 20] : i + v]", [10, 21]),
        ("[for x in [1, 2, 3, 4] : x if x % 2 == 0]", [2, 4]),
        ("{for k, v in {b = 1, a = 2} : k => v * 10}", {"a": 20, "b": 10}),
        ('{for s in ["x", "y", "x"] : s => 1...}', {"x": [1, 1], "y": [1]}),
        ("[for k, v in {b = 1, a = 2} : k]", ["a", "b"]),
        ("[for x in [] : x]", []),
        ("[for x in [[1, 2], [3]] : [for y in x : y * 2]]", [[2, 4], [6]]),
    ],
)
def test_for_expressions(value_of, expression, expected):
    assert value_of(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[{a = 1}, {a = 2}][*].a", [1, 2]),
        ("[{a = 1}, {a = 2}].*.a", [1, 2]),
        ("[{a = [1, 2]}, {a = [3, 4]}][*].a[1]", [2, 4]),
        ("{a = 1}[*].a", [1]),
        ("null[*].a", []),
        ("{a = {b = [10, 20]}}.a.b.1", 20),
        ('{a = {b = [10, 20]}}["a"]["b"][0]', 10),
        ("[1, 2, 3][1]", 2),
        ('[1, 2, 3]["2"]', 3),
        ('{"k-1" = "v"}["k-1"]', "v"),
        ("local.m.eu.port", 80),
        ('local.m["us"].port', 81),
        ("values(local.m)[*].port", [80, 81]),
    ],
)
def test_splats_and_indexing(value_of, expression, expected):
    prelude = "locals {\n  m = { eu = { port = 80 }, us = { port = 81 } }\n}\n"
    assert value_of(expression, prelude) == expected


@pytest.mark.parametrize(
    ("expression", "code", "column", "needle"),
    [
        ('"a" + 1', "L4E016", 11, 'operator "+": a number is required, got string "a"'),
        ('1 + "a"', "L4E016", 15, 'got string "a"'),
        ("!5", "L4E016", 12, 'operator "!": a bool is required'),
        ("1 && true", "L4E016", 11, "a bool is required"),
        ("1 / 0", "L4E016", 15, "division by zero"),
        ('"x" ? 1 : 2', "L4E016", 11, "the condition: a bool is required"),
        ('"x${[1]}"', "L4E016", 15, "cannot insert a list into a string template"),
        ('"x${null}"', "L4E016", 15, "cannot insert a null"),
        ("[1, 2][5]", "L4E016", 18, "index 5 is out of range"),
        ("{a = 1}.b", "L4E016", 19, 'has no attribute "b"'),
        ('{a = 1}["b"]', "L4E016", 19, 'has no element "b"'),
        ("local.m.aa", "L4E015", 19, 'local.m has no attribute "aa"; did you mean "a"?'),
        ('"abc"[0]', "L4E016", 17, "cannot index"),
        ("5.a", "L4E016", 13, 'cannot read attribute "a"'),
        ("[for x in 5 : x]", "L4E016", 21, "needs a list or a map"),
        ('{for x in ["a", "a"] : x => 1}', "L4E016", 34, 'duplicate key "a"'),
        ("{a = 1, a = 2}", "L4E016", 19, 'duplicate object key "a"'),
        ("[for x in [1] : x if x]", "L4E016", 32, "a bool is required"),
        ("[1, 2][0.5]", "L4E016", 18, "must be a whole number"),
    ],
)
def test_type_errors_are_l4e016_at_the_expression(problem_of, expression, code, column, needle):
    prelude = "locals {\n  m = { a = 1 }\n}\n"
    got_code, line, got_column, message = problem_of(expression, prelude)
    assert (got_code, line, got_column) == (code, 5, column)
    assert needle in message


# ---- unknown values

UNKNOWN_PRELUDE = """
resource "l4_site" "main" {
  name = "example.com"
  plan = "enterprise"
}
locals {
  u = l4_site.main.revisions
}
"""


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("local.u", UNKNOWN),
        ("local.u + 1", UNKNOWN),
        ("!local.u", UNKNOWN),
        ('"x${local.u}"', UNKNOWN),
        ("local.u == 1", UNKNOWN),
        ("local.u ? 1 : 2", UNKNOWN),
        ("true ? 1 : local.u", 1),
        ("[local.u, 1]", [UNKNOWN, 1]),
        ("{a = local.u}", {"a": UNKNOWN}),
        ("local.u.anything[0]", UNKNOWN),
        ("[1, 2][local.u]", UNKNOWN),
        ("local.u[*].x", UNKNOWN),
        ("[for x in local.u : x]", UNKNOWN),
        ("[for x in [1, 2] : local.u]", [UNKNOWN, UNKNOWN]),
        ("[for x in [1, 2] : x if local.u]", UNKNOWN),
        ("{for x in [1] : local.u => x}", UNKNOWN),
        ("upper(local.u)", UNKNOWN),
        ('join(",", ["a", local.u])', UNKNOWN),
        ("length([local.u, 1])", 2),
        ("length(local.u)", UNKNOWN),
        ("concat([local.u], [1])", [UNKNOWN, 1]),
        ("merge({a = local.u}, {b = 1})", {"a": UNKNOWN, "b": 1}),
        ('"%{ if local.u }a%{ endif }"', UNKNOWN),
        ("can(local.u)", UNKNOWN),
        ("try(local.u, 1)", UNKNOWN),
        ("l4_site.main.id", "example.com"),
    ],
)
def test_unknown_values_propagate(value_of, expression, expected):
    assert value_of(expression, UNKNOWN_PRELUDE) == expected


def test_unknown_operand_still_reports_a_type_error_on_the_known_side(problem_of):
    code, line, column, message = problem_of('local.u + "a"', UNKNOWN_PRELUDE)
    assert (code, line, column) == ("L4E016", 10, 21)
    assert 'got string "a"' in message


# ---- properties

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)


def _hcl_quote(text: str) -> str:
    """Encode a string as an HCL quoted literal (escapes, no interpolation)."""
    out = []
    for c in text:
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out).replace("${", "$${").replace("%{", "%%{") + '"'


def _load_output(expression: str) -> object:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "main.l4.hcl").write_text(
            f'output "x" {{\n  value = {expression}\n}}\n', encoding="utf-8"
        )
        config = load_config(Path(d), environ={})
        assert config.diagnostics == [], [str(x) for x in config.diagnostics]
        return config.outputs["x"].value


@settings(max_examples=60, deadline=None)
@given(_text)
def test_quoted_strings_round_trip(text):
    # string literals are NFC-normalised, as HCL specifies
    assert _load_output(_hcl_quote(text)) == unicodedata.normalize("NFC", text)


@settings(max_examples=40, deadline=None)
@given(st.lists(_text, min_size=1, max_size=4))
@example(["\uf900", "e\u0301"])  # a compatibility ideograph and a combining accent
def test_templates_concatenate_interpolated_parts(parts):
    expression = '"' + "".join("${" + _hcl_quote(p) + "}" for p in parts) + '"'
    # each part is a literal of its own, NFC-normalised before they are joined
    assert _load_output(expression) == "".join(unicodedata.normalize("NFC", p) for p in parts)


@settings(max_examples=40, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(10**6), 10**6) | _text,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text("abcxyz_", min_size=1, max_size=5), inner, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_jsonencode_jsondecode_round_trip(value):
    encoded = json.dumps(value)
    assert _load_output(f"jsondecode({_hcl_quote(encoded)})") == value
    assert json.loads(_load_output(f"jsonencode(jsondecode({_hcl_quote(encoded)}))")) == value


@settings(max_examples=60, deadline=None)
@given(st.integers(-1000, 1000), st.integers(-1000, 1000), st.integers(1, 50))
def test_integer_arithmetic_matches_terraform(a, b, c):
    value = _load_output(f"[{a} + {b} * {c}, {a} - {b}, {a} % {c}, {a} < {b}, {a} == {b}]")
    remainder = abs(a) % c * (-1 if a < 0 else 1)  # sign of the dividend, as in Terraform
    assert value == [a + b * c, a - b, remainder, a < b, a == b]
