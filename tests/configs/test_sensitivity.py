"""Sensitive values: which attributes derive from them, and outputs that must say so."""

from __future__ import annotations

import pytest

from tests.configs.support import errors

BASE = """
variable "token" {
  type      = string
  sensitive = true
  default   = "s3cret"
}
variable "plain" {
  default = "p"
}
locals {
  derived = "Bearer ${var.token}"
  clean   = nonsensitive(var.token)
}
agent "a" {
  endpoint    = "http://127.0.0.1:7700"
  token       = local.derived
  public_ipv4 = "127.0.0.1"
}
resource "l4_site" "main" {
  name = "example.com"
  plan = "enterprise"
}
resource "l4_application" "app" {
  site   = l4_site.main.id
  domain = "app"
  rule {
    protocol  = "tcp"
    edge_port = "80"
    origin    = "10.0.0.1"
    comment   = agent.a.token
  }
  rule {
    protocol  = "tcp"
    edge_port = "81"
    origin    = "10.0.0.1"
    comment   = "${var.plain} ${agent.a.public_ipv4}"
  }
}
"""


def test_sensitive_paths_follow_references(load):
    config = load(BASE)
    assert config.diagnostics == []
    assert config.sensitive_variables == {"token"}
    app = config.resources["l4_application.app"]
    assert app.sensitive == {"rule.0.comment"}
    assert app.attrs["rule"][0]["comment"] == "Bearer s3cret"  # values stay; renderers mask
    assert config.resources["l4_site.main"].sensitive == set()


def test_output_of_a_sensitive_value_must_be_marked(load):
    config = load(BASE + '\noutput "t" {\n  value = l4_application.app.rule[0].comment\n}\n')
    assert errors(config) == [("L4E016", "main.l4.hcl", 41, 11)]
    assert 'output "t" refers to sensitive values; add sensitive = true' in (
        config.diagnostics[0].message
    )
    config = load(BASE + 'output "t" {\n  value = local.derived\n  sensitive = true\n}\n')
    assert config.diagnostics == []
    assert config.outputs["t"].sensitive is True
    assert config.outputs["t"].value == "Bearer s3cret"


def test_non_sensitive_parts_and_nonsensitive_are_allowed(load):
    config = load(
        BASE
        + 'output "a" {\n  value = l4_application.app.rule[1].comment\n}\n'
        + 'output "b" {\n  value = local.clean\n}\n'
        + 'output "c" {\n  value = length(nonsensitive(var.token))\n}\n'
        + 'output "d" {\n  value = agent.a.public_ipv4\n  description = "ip"\n}\n'
    )
    assert config.diagnostics == []
    assert config.outputs["d"].description == "ip"
    assert not any(o.sensitive for o in config.outputs.values())


def test_sensitive_function_marks_a_value(load):
    config = load('output "x" {\n  value = sensitive("v")\n}\n')
    assert [d.code for d in config.diagnostics] == ["L4E016"]


def test_whole_resource_reference_is_sensitive_when_any_attribute_is(load):
    config = load(BASE + 'output "all" {\n  value = l4_application.app\n}\n')
    assert [d.code for d in config.diagnostics] == ["L4E016"]


def test_output_problems(load):
    config = load('output "x" {\n  description = "no value"\n  valeu = 1\n}\n')
    assert [(d.code, d.line) for d in config.diagnostics] == [("L4E016", 1), ("L4E016", 3)]
    assert 'did you mean "value"?' in config.diagnostics[1].message


# -- sensitive values never appear in a diagnostic -----------------------------------

SECRET = "s3cretXYZ"
SECRETS = f"""
variable "token" {{
  type      = string
  sensitive = true
  default   = "{SECRET}"
}}
variable "number" {{
  sensitive = true
  default   = "987654321987"
}}
variable "pattern" {{
  sensitive = true
  default   = "/{SECRET}(/"
}}
locals {{
  derived = "x${{var.token}}"
}}
"""


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("tonumber(var.token)", "tonumber()"),
        ("tobool(var.token)", "tobool()"),
        ("file(var.token)", "file()"),
        ("cidrhost(var.token, 1)", "cidrhost()"),
        ('cidrhost("10.0.0.0/30", tonumber(var.number))', "cidrhost()"),
        ('format("%d", var.token)', "format()"),
        ("{ a = 1 }[var.token]", ""),
        ("var.token + 1", 'operator "+"'),
        ("-var.token", 'operator "-"'),
        ("!var.token", 'operator "!"'),
        ('replace("x", var.pattern, "y")', "replace()"),
        ("tonumber(lower(var.token))", "tonumber()"),
        ("[for t in [var.token] : tonumber(t)]", "tonumber()"),
        ("tonumber(local.derived)", "tonumber()"),
        ('"${var.token}" ? 1 : 2', ""),
        ("[var.token][var.token]", ""),
        ("jsondecode(var.token)", "jsondecode()"),
    ],
)
def test_errors_from_sensitive_values_do_not_show_them(load, expression, names):
    config = load(SECRETS + f"locals {{\n  x = {expression}\n}}\n")
    assert [(d.code, d.line) for d in config.diagnostics] == [("L4E016", 19)], config.diagnostics
    message = config.diagnostics[0].message
    assert SECRET not in message and "987654321987" not in message
    assert names in message
    assert "sensitive" in message


def test_errors_from_values_that_are_not_sensitive_keep_their_details(problem_of):
    _, _, _, message = problem_of('tonumber("abc")')
    assert '"abc"' in message


def test_variable_conversion_and_validation_errors_hide_sensitive_values(load):
    config = load(
        'variable "n" {\n  type      = number\n  sensitive = true\n}\n'
        'variable "t" {\n  sensitive = true\n  default   = "' + SECRET + '"\n'
        "  validation {\n    condition     = tonumber(var.t) > 0\n"
        '    error_message = "bad"\n  }\n}\n',
        var_args=[f"n={SECRET}"],
    )
    assert sorted(d.code for d in config.diagnostics) == ["L4E016", "L4E017"]
    assert all(SECRET not in d.message for d in config.diagnostics), config.diagnostics


def test_meta_arguments_and_schema_checks_hide_sensitive_values(load):
    from l4plan.configs.validate import check

    config = load(
        SECRETS
        + 'resource "l4_site" "a" {\n  count = var.token\n  name = "a.com"\n'
        + '  plan = "enterprise"\n}\n'
        + 'resource "l4_site" "b" {\n  for_each = var.token\n  name = "b.com"\n'
        + '  plan = "enterprise"\n}\n'
    )
    assert [d.code for d in config.diagnostics] == ["L4E016", "L4E016"]
    assert all(SECRET not in d.message for d in config.diagnostics), config.diagnostics
    config = load(
        SECRETS
        + 'agent "hz1" {\n  endpoint = "http://127.0.0.1:7700"\n  public_ipv4 = var.token\n}\n'
        + 'resource "l4_site" "main" {\n  name = "example.com"\n  plan = "enterprise"\n'
        + "  agents = [agent.hz1]\n}\n"
        + 'resource "l4_application" "game" {\n  site = l4_site.main.id\n'
        + '  domain = "${var.token}_"\n'
        + '  rule {\n    protocol = "tcp"\n    edge_port = "80"\n    origin_type = "ip"\n'
        + "    origin = local.derived\n    comment = var.token\n  }\n}\n"
    )
    assert config.diagnostics == []
    found = check(config)
    assert {d.code for d in found} >= {"L4E016", "L4E010"}, found
    assert all(SECRET not in d.message for d in found), found
