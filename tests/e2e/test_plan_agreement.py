"""When agents, state and configuration agree, `plan --detailed-exitcode` says so
(exit 0), and only then: reordered rule blocks and an imported application that
runs what the configuration says are no change; an agent l4plan could not read is
never "in sync"."""

from __future__ import annotations

from tests.e2e.fleet import Fleet
from tests.ports import E2E, free_port


def two_rule_application(fleet: Fleet, ports: tuple[int, int], *, swapped: bool) -> None:
    rules = [
        f"""
  rule {{
    protocol    = "tcp"
    edge_port   = "{port}"
    origin_type = "ip"
    origin      = "127.0.0.1"
    origin_port = "{fleet.regions["eu"]["origin_port"]}"
  }}
"""
        for port in ports
    ]
    if swapped:
        rules.reverse()
    (fleet.workdir / "extra.l4.hcl").write_text(
        f"""
resource "l4_application" "pair" {{
  site   = l4_site.main.id
  domain = "pair"
  agents = [agent.a]
{"".join(rules)}
}}

output "pair_endpoints" {{
  value = l4_application.pair.endpoints
}}
"""
    )


def test_swapping_two_rules_of_an_applied_application_is_no_change(fleet: Fleet) -> None:
    ports = (free_port(E2E), free_port(E2E))
    two_rule_application(fleet, ports, swapped=False)
    fleet.apply()
    two_rule_application(fleet, ports, swapped=True)
    planned = fleet.l4plan("plan", "--detailed-exitcode")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "No changes." in planned.stdout
    assert fleet.l4plan("drift").returncode == 0


EU = 'l4_application.regional["eu"]'


def test_after_import_of_what_the_configuration_says_the_plan_is_empty(fleet: Fleet) -> None:
    """Made over RPC with the schema's defaults left out (no keepalive, acl, ipv6,
    passthrough, steering, weight or health_check): the same application as the
    configuration's, so after import there is nothing to do."""
    edge, origin = fleet.edge_port("eu"), int(fleet.regions["eu"]["origin_port"])
    minimal = {
        "rules": [
            {
                "protocol": "tcp",
                "edge_ports": [[edge, edge]],
                "origin_ports": [origin, origin],
                "origin": {"type": "ip", "targets": [{"host": "127.0.0.1"}]},
                "comment": "region eu",
            }
        ]
    }
    fleet.apply("--target", "l4_site.main")
    fleet.agents["a"].apply({"eu.example.com": minimal})
    imported = fleet.l4plan("import", EU, "eu.example.com")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    planned = fleet.l4plan("plan", "--detailed-exitcode", "--target", EU)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "No changes." in planned.stdout
    assert fleet.l4plan("drift").returncode == 0
    assert fleet.served_by("eu") == origin
