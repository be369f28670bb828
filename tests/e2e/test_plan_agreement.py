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
