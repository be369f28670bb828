"""`null` is the same as leaving an attribute out (Terraform's rule), at every depth."""

from __future__ import annotations

from datetime import UTC, datetime

from l4plan.configs.validate import check

NOW = datetime(2027, 1, 1, tzinfo=UTC)

CONFIG = """
variable "op" {
  default = null
}
agent "hz1" {
  endpoint    = "http://127.0.0.1:7700"
  public_ipv4 = "127.0.0.1"
  public_ipv6 = null
}
resource "l4_site" "main" {
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.hz1]
}
resource "l4_application" "app" {
  site    = l4_site.main.id
  domain  = "app"
  ipv6    = null
  agents  = null
  rule {
    protocol              = "tcp"
    edge_port             = "80"
    origin_type           = "ip"
    origin                = "10.0.0.1"
    origin_port           = var.op
    client_ip_passthrough = null
    comment               = null
  }
}
"""


def test_null_attributes_are_omitted_in_resources_and_nested_blocks(load):
    config = load(CONFIG)
    assert config.diagnostics == []
    assert check(config, now=NOW) == []
    app = config.resources["l4_application.app"]
    assert "ipv6" not in app.attrs
    assert app.attrs["agents"] == ["hz1"]  # the site's agents, as when agents is left out
    assert app.attrs["rule"][0] == {
        "protocol": "tcp",
        "edge_port": "80",
        "origin_type": "ip",
        "origin": "10.0.0.1",
    }


def test_null_attribute_reads_as_null_in_references(load):
    config = load(CONFIG + 'output "p" {\n  value = l4_application.app.rule[0].origin_port\n}\n')
    assert config.diagnostics == []
    assert config.outputs["p"].value is None


def test_null_is_the_same_as_omitted_in_the_plan_input(load):
    with_null = load(CONFIG).resources["l4_application.app"].attrs
    without = (
        load(
            CONFIG.replace("  ipv6    = null\n", "")
            .replace("  agents  = null\n", "")
            .replace("    origin_port           = var.op\n", "")
            .replace("    client_ip_passthrough = null\n", "")
            .replace("    comment               = null\n", "")
        )
        .resources["l4_application.app"]
        .attrs
    )
    assert with_null == without


def test_a_wrong_type_message_names_null_once(load):
    # a required attribute set to null is missing, and a null in a list is named once
    config = load(CONFIG.replace('edge_port             = "80"', "edge_port = null"))
    messages = [d.message for d in check(config, now=NOW)]
    assert messages == ['missing required attribute "edge_port" in rule[0]']
    config = load(CONFIG.replace("agents = [agent.hz1]", "agents = [null]"))
    messages = [d.message for d in check(config, now=NOW)]
    assert messages and all("null null" not in m for m in messages), messages
