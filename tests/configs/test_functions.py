"""Every built-in function: a working call, and the errors users will hit."""

from __future__ import annotations

from pathlib import Path

import pytest

from l4plan.configs.lang.functions import FUNCTIONS


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('length("héllo")', 5),
        ("length([1, 2])", 2),
        ("length({a = 1})", 1),
        ("concat([1], [], [2, 3])", [1, 2, 3]),
        ("merge({a = 1, b = 1}, {a = 2}, null)", {"a": 2, "b": 1}),
        ('lookup({a = 1}, "a")', 1),
        ('lookup({a = 1}, "b", "dflt")', "dflt"),
        ('join("-", ["a", 1, true])', "a-1-true"),
        ('split(",", "a,b,,c")', ["a", "b", "", "c"]),
        ('format("%s:%d", "port", 80)', "port:80"),
        (
            'format("%05.1f|%-4s|%4s|%x|%%|%t|%q", 3.14159, "ab", "cd", 255, false, "q\\"")',
            '003.1|ab  |  cd|ff|%|false|"q\\""',
        ),
        ('format("%v %v", [1, "a"], 2)', '[1,"a"] 2'),
        ('lower("ÀB")', "àb"),
        ('upper("ab")', "AB"),
        ("range(3)", [0, 1, 2]),
        ("range(1, 4)", [1, 2, 3]),
        ("range(10, 0, -4)", [10, 6, 2]),
        ("range(0, 1, 0.25)", [0, 0.25, 0.5, 0.75]),
        ("keys({b = 1, a = 2})", ["a", "b"]),
        ("values({b = 1, a = 2})", [2, 1]),
        ('toset(["b", "a", "b"])', ["a", "b"]),
        ("toset([3, 1, 3])", [1, 3]),
        ("tostring(80)", "80"),
        ("tostring(true)", "true"),
        ("tostring(null)", None),
        ('tonumber("0443")', 443),
        ('tonumber("2.5")', 2.5),
        ('tobool("false")', False),
        ('coalesce("", null, "x", "y")', "x"),
        ("coalescelist([], [1], [2])", [1]),
        ('jsonencode({b = [1, true, null], a = "é"})', '{"a":"é","b":[1,true,null]}'),
        ('jsondecode("{\\"a\\": [1.0, 2.5]}")', {"a": [1, 2.5]}),
        ('contains(["a", "b"], "b")', True),
        ('contains([1], "1")', False),
        ("distinct([1, 2, 1, 3])", [1, 2, 3]),
        ("flatten([[1, [2]], 3, []])", [1, 2, 3]),
        ('min(3, "1", 2)', 1),
        ("max(3, 1, 2.5)", 3),
        ("abs(-4)", 4),
        ("ceil(1.2)", 2),
        ("floor(-1.2)", -2),
        ("sum([1, 2, 3.5])", 6.5),
        ('replace("a-b-c", "-", "+")', "a+b+c"),
        ('replace("port-80", "/(\\\\w+)-(\\\\d+)/", "$2:$1")', "80:port"),
        ('trimspace("  x \\n")', "x"),
        ('trim("--x--", "-")', "x"),
        ('trimprefix("www.example.com", "www.")', "example.com"),
        ('trimsuffix("a.example.com", ".example.com")', "a"),
        ('startswith("play.example.com", "play.")', True),
        ('endswith("play.example.com", ".org")', False),
        ('substr("hello", 1, 3)', "ell"),
        ('substr("hello", -3, -1)', "llo"),
        ("element([1, 2, 3], 4)", 2),
        ('index(["a", "b"], "b")', 1),
        ("slice([1, 2, 3, 4], 1, 3)", [2, 3]),
        ("reverse([1, 2])", [2, 1]),
        ('sort(["b", "a", "c"])', ["a", "b", "c"]),
        ('compact(["a", "", null, "b"])', ["a", "b"]),
        ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
        ("tolist([1])", [1]),
        ("tomap({a = 1})", {"a": 1}),
        ('can(tonumber("x"))', False),
        ("can(1 + 1)", True),
        ('try(tonumber("x"), local.missing.attr, 7)', 7),
        ('cidrhost("10.0.0.0/24", 5)', "10.0.0.5"),
        ('cidrhost("10.0.0.0/24", -1)', "10.0.0.255"),
        ('cidrsubnet("10.0.0.0/16", 8, 2)', "10.0.2.0/24"),
        ('cidrsubnet("2001:db8::/32", 16, 1)', "2001:db8:1::/48"),
        ('upper(["a"]...)', "A"),
        ('nonsensitive("x")', "x"),
    ],
)
def test_function_results(value_of, expression, expected):
    prelude = "locals {\n  missing = {}\n}\n"
    assert value_of(expression, prelude) == expected


def test_file_reads_relative_to_the_configuration_directory(load):
    config = load(
        {
            "main.l4.hcl": 'output "x" {\n  value = file("ca.pem")\n}\n',
            "ca.pem": "-----BEGIN CERTIFICATE-----\n",
        }
    )
    assert config.diagnostics == []
    assert config.outputs["x"].value == "-----BEGIN CERTIFICATE-----\n"
    assert config.files["ca.pem"] == "-----BEGIN CERTIFICATE-----\n"


@pytest.mark.parametrize(
    ("expression", "needle"),
    [
        ('file("nope.pem")', 'file(): no file "nope.pem"'),
        ("length(5)", "length(): needs a list, map or string, got number"),
        ("length()", "length() takes 1 argument, got 0; usage: length(value)"),
        ('lower("a", "b")', "lower() takes 1 argument, got 2"),
        ("concat()", "concat() takes at least 1 argument, got 0"),
        ('lookup({}, "k")', 'lookup(): the map has no key "k" and no default was given'),
        ('join(",", "ab")', "join(): the list must be a list, got string"),
        ('split("", "ab")', "the separator must not be empty"),
        ('tonumber("eighty")', 'tonumber(): a number is required, got string "eighty"'),
        ('tobool("yes")', 'a bool is required, got string "yes"'),
        ('coalesce("", null)', "every argument is null or an empty string"),
        ('jsondecode("{")', "jsondecode(): invalid JSON"),
        ('format("%d", "x")', 'a number is required, got string "x"'),
        ('format("%d", 1.5)', '"%d" needs a whole number'),
        ('format("%s %s", "a")', 'not enough values for "%s"'),
        ('format("%s", "a", "b")', "left over"),
        ('format("%y", 1)', 'unsupported verb "%y"'),
        ("range(0, 10000000)", "the limit is 1000000"),
        ("range(1, 2, 0)", "step must not be zero"),
        ("element([], 0)", "empty list"),
        ('index(["a"], "z")', "not in the list"),
        ("slice([1], 0, 5)", "0 <= start <= end <= 1"),
        ('zipmap(["a"], [])', "1 keys but 0 values"),
        ('cidrhost("10.0.0.0/30", 9)', "does not fit in 10.0.0.0/30"),
        ('cidrsubnet("nope", 1, 0)', "is not a CIDR prefix"),
        ('replace("a", "/(/", "b")', "invalid regular expression"),
        ('try(1 + "a")', "every argument failed"),
        ("can()", "can() expects exactly one argument"),
        ("lenght([1])", 'unknown function "lenght"; did you mean "length"?'),
        ("upper(1...)", '"..." expands a list, got number'),
    ],
)
def test_function_errors_are_l4e016_at_the_call(problem_of, expression, needle):
    code, line, column, message = problem_of(expression)
    # at the call, or at the expanded argument for "..."
    assert (code, line, column) == ("L4E016", 2, 17 if "..." in expression else 11)
    assert needle in message


def test_documented_functions_exist():
    """docs/configuration.md lists every function the evaluator provides, with its signature."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    text = doc.read_text(encoding="utf-8")
    for name, fn in FUNCTIONS.items():
        assert f"`{fn.signature}`" in text, f"{name} is not documented"
    assert "`can(expression)`" in text
    assert "`try(expression, ...)`" in text
