"""Sensitive values: which attributes derive from them, and outputs that must say so."""

from __future__ import annotations

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
