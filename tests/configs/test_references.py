"""References: undeclared names are L4E015, cycles print the cycle, evaluation follows the graph."""

from __future__ import annotations

import pytest

from tests.configs.support import errors

SITE = 'resource "l4_site" "main" {\n  name = "example.com"\n  plan = "enterprise"\n}\n'


@pytest.mark.parametrize(
    ("expression", "column", "needle"),
    [
        ("var.nope", 11, 'reference to undeclared variable "var.nope"'),
        ("local.nope", 11, 'reference to undeclared local value "local.nope"'),
        ("agent.nope", 11, 'reference to undeclared agent "agent.nope"'),
        ("l4_site.nope.id", 11, 'reference to undeclared resource "l4_site.nope"'),
        ("l4_site.mian.id", 11, 'did you mean "main"?'),
        ("l4_application.main", 11, 'reference to undeclared resource "l4_application.main"'),
        ("foo.bar", 11, 'unknown name "foo"'),
        ("l4_stie.main", 11, 'did you mean "l4_site"?'),
        ("self.name", 11, "self is not supported"),
        ("path.module", 11, "path.* is not supported"),
        ("var", 11, '"var" must be followed by a name'),
        ('upper("${local.nope}")', 20, "local.nope"),
        ("[for x in [1] : x + local.nope]", 31, "local.nope"),
        ("l4_site.main.name.first", 11 + 18, 'cannot read attribute "first"'),
    ],
)
def test_undeclared_references_are_l4e015(problem_of, expression, column, needle):
    code, line, got_column, message = problem_of(expression, SITE)
    assert (line, got_column) == (6, column)
    assert code == ("L4E016" if "cannot read" in needle else "L4E015")
    assert needle in message


def test_for_variables_shadow_nothing_and_are_not_references(value_of):
    assert value_of("[for local in [1, 2] : local * 2]") == [2, 4]
    assert value_of("{for k, l4_site in {a = 1} : k => l4_site}") == {"a": 1}


def test_reference_errors_name_the_resource_address(load):
    config = load(SITE + 'resource "l4_application" "a" {\n  site = l4_site.other.id\n}\n')
    assert [(d.code, d.address, d.line, d.column) for d in config.diagnostics] == [
        ("L4E015", "l4_application.a", 6, 10)
    ]


def test_cycle_through_locals(load):
    config = load("locals {\n  a = local.b\n  b = local.c\n  c = local.a\n}\n")
    assert errors(config) == [("L4E015", "main.l4.hcl", 2, 7)]
    assert config.diagnostics[0].message == (
        "dependency cycle: local.a -> local.b -> local.c -> local.a"
    )


def test_self_reference_is_a_cycle(load):
    config = load("locals {\n  a = local.a + 1\n}\n")
    assert config.diagnostics[0].message == "dependency cycle: local.a -> local.a"


def test_cycle_between_resources_names_the_address(load):
    config = load(
        'resource "l4_load_balancer" "a" {\n  site = "s"\n  domain = l4_load_balancer.b.id\n}\n'
        'resource "l4_load_balancer" "b" {\n  site = "s"\n  domain = "x"\n'
        "  depends_on = [l4_load_balancer.a]\n}\n"
    )
    assert [(d.code, d.address, d.line) for d in config.diagnostics] == [
        ("L4E015", "l4_load_balancer.a", 3)
    ]
    assert config.diagnostics[0].message == (
        "dependency cycle: l4_load_balancer.a -> l4_load_balancer.b -> l4_load_balancer.a"
    )


def test_values_outside_a_cycle_still_evaluate(load):
    config = load(
        "locals {\n  a = local.b\n  b = local.a\n  c = 1\n}\n"
        'output "c" {\n  value = local.c + 1\n}\n'
        'output "a" {\n  value = local.a\n}\n'
    )
    assert [d.code for d in config.diagnostics] == ["L4E015"]
    assert config.outputs["c"].value == 2


def test_two_independent_cycles_are_both_reported(load):
    config = load("locals {\n  a = local.b\n  b = local.a\n  x = local.y\n  y = local.x\n}\n")
    assert sorted(d.message for d in config.diagnostics) == [
        "dependency cycle: local.a -> local.b -> local.a",
        "dependency cycle: local.x -> local.y -> local.x",
    ]


def test_declaration_order_does_not_matter(load):
    config = load(
        {
            "a.l4.hcl": 'output "o" {\n  value = local.z\n}\nlocals {\n  z = local.y * 2\n}\n',
            "b.l4.hcl": "locals {\n  y = 21\n}\n",
        }
    )
    assert config.diagnostics == []
    assert config.outputs["o"].value == 42


def test_one_error_per_problem_even_with_count(load):
    config = load(
        SITE + 'resource "l4_application" "a" {\n  count = 3\n  site = l4_site.main.id\n'
        '  domain = "a${count.index}"\n  ipv6 = "x" + 1\n}\n'
    )
    assert [(d.code, d.line) for d in config.diagnostics] == [("L4E016", 9)]
