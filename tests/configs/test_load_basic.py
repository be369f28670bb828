"""Blocks, literals, references, nested blocks and positions of a simple configuration."""

from __future__ import annotations

from l4plan.configs.model import UNKNOWN, Lifecycle

SITE = """
resource "l4_site" "main" {
  name = "example.com"
  plan = "enterprise"
  ddos_protection {
    mode = "full"
  }
}
"""


def test_site_and_application_evaluate_with_positions(load):
    config = load(
        SITE
        + """
locals { origin = "203.0.113.10" }

resource "l4_application" "game" {
  site   = l4_site.main.id
  domain = "play"
  rule {
    protocol  = "tcp"
    edge_port = "80"
    origin    = local.origin
  }
  rule {
    protocol  = "udp"
    edge_port = "53"
    origin    = "10.0.0.1"
  }
}
"""
    )
    assert config.diagnostics == []
    site = config.resources["l4_site.main"]
    assert site.attrs == {
        "name": "example.com",
        "plan": "enterprise",
        "ddos_protection": {"mode": "full"},
        "id": "example.com",
    }
    assert site.pos_of("ddos_protection.mode").line == 6
    app = config.resources["l4_application.game"]
    assert app.attrs["id"] == "play.example.com"
    assert app.attrs["site"] == "example.com"
    assert [r["origin"] for r in app.attrs["rule"]] == ["203.0.113.10", "10.0.0.1"]
    assert app.depends_on == ["l4_site.main"]
    assert app.attr_pos["rule.1"].line == 20
    assert app.attr_pos["rule.1.edge_port"].line == 22
    assert app.attr_pos["rule.1.edge_port"].column == 17  # the value, not the name
    assert app.attr_pos["domain"].file == "main.l4.hcl"
    assert app.lifecycle == Lifecycle()
    assert config.files["main.l4.hcl"].startswith("\nresource")


def test_revisions_are_unknown_and_not_stored(load):
    config = load(SITE + 'output "r" { value = l4_site.main.revisions }\n')
    assert config.diagnostics == []
    assert config.outputs["r"].value is UNKNOWN
    assert "revisions" not in config.resources["l4_site.main"].attrs
