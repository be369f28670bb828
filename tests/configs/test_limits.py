"""Explicit limits: nesting depth and the number range end in diagnostics with positions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from l4plan.configs.hcl.syntax import MAX_NESTING
from l4plan.configs.validate import check

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def only(config) -> tuple[str, int, int, str]:
    assert len(config.diagnostics) == 1, config.diagnostics
    d = config.diagnostics[0]
    return d.code, d.line, d.column, d.message


@pytest.mark.parametrize(
    "expression",
    [
        "[" * 500 + "1" + "]" * 500,
        "{a = " * 500 + "1" + "}" * 500,
        "(" * 500 + "1" + ")" * 500,
        "1" + " + 1" * 3000,
        "x" + ".a" * 3000,
        "true ? 1 : " * 3000 + "0",
        '"${' * 300 + '"x"' + '}"' * 300,
        "f(" * 500 + ")" * 500,
    ],
)
def test_deep_nesting_is_a_syntax_error_not_a_crash(load, expression):
    code, line, column, message = only(load(f"locals {{\n  deep = {expression}\n}}\n"))
    assert (code, line) == ("L4E000", 2)
    assert column >= 10
    assert f"more than {MAX_NESTING} levels" in message


def test_nesting_up_to_the_limit_evaluates(value_of):
    # the deepest list the parser accepts: every stage after it must cope
    depth = 1
    while True:
        text = "[" * (depth + 1) + "1" + "]" * (depth + 1)
        try:
            value_of(text)
        except AssertionError:
            break
        depth += 1
    assert depth >= 20
    value = value_of("[" * depth + "1" + "]" * depth)
    assert json.dumps(value).count("[") == depth


def test_deepest_accepted_expressions_load_validate_and_encode(load):
    for make in (
        lambda n: "[" * n + "1" + "]" * n,
        lambda n: "1" + " + 1" * n,
        lambda n: "{a = " * n + "1" + "}" * n,
        lambda n: "abs(" * n + "1" + ")" * n,
        lambda n: "!" * 1 + "(" * n + "true" + ")" * n,
    ):
        n = 1
        while not load(f'output "x" {{\n  value = {make(n * 2)}\n}}\n').diagnostics:
            n *= 2
        low, high = n, n * 2  # low loads, high does not
        while high - low > 1:
            mid = (low + high) // 2
            if load(f'output "x" {{\n  value = {make(mid)}\n}}\n').diagnostics:
                high = mid
            else:
                low = mid
        config = load(f'output "x" {{\n  value = {make(low)}\n}}\n')
        assert config.diagnostics == []
        json.dumps(config.outputs["x"].value, allow_nan=False)
        assert check(config, now=NOW) == []


@pytest.mark.parametrize(
    ("literal", "column"),
    [("1e400", 11), ("-1e400", 11), ("9" * 5000, 11), ("[1, 2e999]", 15)],
)
def test_number_literals_out_of_range(load, literal, column):
    code, line, col, message = only(load(f'output "x" {{\n  value = {literal}\n}}\n'))
    assert (code, line, col) == ("L4E000", 2, column)
    assert "out of range" in message


@pytest.mark.parametrize(
    "expression",
    [
        "1e308 * 10",
        "-1e308 - 1e308",
        "pow_like * pow_like",
        'tonumber("1e400")',
        '"1e999" + 1',
        'jsondecode("[1e400]")',
        "sum([1e308, 1e308])",
    ],
)
def test_computed_numbers_out_of_range(problem_of, expression):
    prelude = "locals {\n  pow_like = 1" + "0" * 300 + "\n}\n"
    code, line, column, message = problem_of(
        expression.replace("pow_like", "local.pow_like"), prelude
    )
    assert code == "L4E016"
    assert line == 5 and column >= 11
    assert "out of range" in message


def test_huge_port_strings_are_diagnostics(load):
    nines = "9" * 4301
    config = load(
        'agent "hz1" {\n  endpoint = "http://127.0.0.1:7700"\n  public_ipv4 = "127.0.0.1"\n}\n'
        'resource "l4_site" "main" {\n  name = "example.com"\n  plan = "enterprise"\n'
        "  agents = [agent.hz1]\n}\n"
        'resource "l4_application" "game" {\n  site = l4_site.main.id\n  domain = "play"\n'
        f'  rule {{\n    protocol = "tcp"\n    edge_port = "{nines}"\n'
        f'    origin_type = "ip"\n    origin = "10.0.0.1"\n    origin_port = "{nines}"\n  }}\n}}\n'
    )
    assert config.diagnostics == []
    found = check(config, now=NOW)
    assert [(d.code, d.line) for d in found] == [("L4E003", 15), ("L4E005", 18)]


def test_numbers_within_range_are_exact(value_of):
    assert value_of("9007199254740993 + 0") == 9007199254740993
    assert value_of("1e308") == 10**308
    assert value_of("-1.5e300") == -15 * 10**299
    assert value_of("2.5e-1") == 0.25


def test_values_nested_deeply_through_references_are_a_diagnostic(load):
    lines = ["locals {", "  l0 = 1"] + [f"  l{i} = [local.l{i - 1}]" for i in range(1, 1500)]
    config = load("\n".join([*lines, "}", 'output "x" {', "  value = local.l1499", "}", ""]))
    # l101 is the first too deep (line 103); as a failed value it reads unknown
    # after that, so the nesting starts again and every 101st is reported
    assert [(d.code, d.line) for d in config.diagnostics][:2] == [("L4E016", 103), ("L4E016", 204)]
    assert all("more than 100 levels deep" in d.message for d in config.diagnostics)


@pytest.mark.parametrize("depth", [101, 5000])
def test_functions_that_build_deep_values_are_a_diagnostic(problem_of, depth):
    text = "[" * depth + "]" * depth
    code, line, _, message = problem_of(f'jsondecode("{text}")')
    assert (code, line) == ("L4E016", 2)
    assert message.startswith("jsondecode(): ") and "levels deep" in message


def test_deep_variable_values_are_a_diagnostic(load):
    deep = "[" * 5000 + "]" * 5000
    config = load(
        'variable "v" {\n  type = any\n}\nlocals {\n  x = jsondecode(var.v)\n}\n',
        var_args=[f"v={deep}"],
    )
    assert [d.code for d in config.diagnostics] == ["L4E016"]
