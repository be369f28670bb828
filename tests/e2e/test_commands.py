"""apply --target, destroy, import, and outputs after apply, with TCP and UDP traffic."""

from __future__ import annotations

import json
import socket

import pytest

from l4plan.agents.spec import canonical_hash
from tests.agent.harness import app, rule, udp_roundtrip
from tests.e2e.fleet import Fleet
from tests.ports import E2E, free_port

EU = 'l4_application.regional["eu"]'
US = 'l4_application.regional["us"]'


def add_udp_application_and_outputs(fleet: Fleet) -> tuple[int, int]:
    """A UDP application on agent a, and outputs with computed attributes."""
    edge, origin = free_port(E2E), free_port(E2E)
    fleet.origins.udp_echo(origin)
    (fleet.workdir / "extra.l4.hcl").write_text(
        f"""
resource "l4_application" "dns" {{
  site   = l4_site.main.id
  domain = "dns"
  agents = [agent.a]

  rule {{
    protocol    = "udp"
    edge_port   = "{edge}"
    origin_type = "ip"
    origin      = "127.0.0.1"
    origin_port = "{origin}"
  }}
}}

output "eu_endpoints" {{
  value = l4_application.regional["eu"].endpoints
}}

output "dns_records" {{
  value = l4_application.dns.dns_records
}}
"""
    )
    return edge, origin


def test_target_then_full_apply_outputs_and_destroy(fleet: Fleet) -> None:
    udp_edge, udp_origin = add_udp_application_and_outputs(fleet)

    targeted = fleet.apply("--target", EU)
    assert "(L4W101)" in targeted.stderr
    assert "Resources: 2 added, 0 changed, 0 destroyed." in targeted.stdout
    assert {r["address"] for r in fleet.state()["resources"]} == {"l4_site.main", EU}
    assert fleet.revision("a") == 1 and fleet.revision("b") == 0
    assert fleet.served_by("eu") == int(fleet.regions["eu"]["origin_port"])

    full = fleet.apply()
    assert "Resources: 2 added, 0 changed, 0 destroyed." in full.stdout
    assert set(fleet.running("a")) == {"eu.example.com", "dns.example.com"}
    assert udp_roundtrip(udp_edge, b"query") == f"{udp_origin}|query".encode()
    assert fleet.served_by("us") == int(fleet.regions["us"]["origin_port"])

    shown = fleet.l4plan("output", "--json")
    assert shown.returncode == 0, shown.stderr
    outputs = json.loads(shown.stdout)
    assert outputs["eu_endpoints"]["value"] == [
        {"protocol": "tcp", "address": "127.0.0.1", "ports": fleet.regions["eu"]["edge_port"]}
    ]
    assert outputs["dns_records"]["value"] == [
        {"type": "A", "name": "dns.example.com", "value": "127.0.0.1"}
    ]
    assert outputs["regional_domains"]["value"] == ["eu.example.com", "us.example.com"]

    refused = fleet.l4plan("destroy")
    assert refused.returncode == 1
    assert "standard input is not a terminal" in refused.stderr
    assert set(fleet.running("a")) == {"eu.example.com", "dns.example.com"}

    destroyed = fleet.l4plan("destroy", "--auto-approve")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert "Destroy complete! Resources: 0 added, 0 changed, 4 destroyed." in destroyed.stdout
    assert fleet.running("a") == {} and fleet.running("b") == {}
    state = fleet.state()
    assert state["resources"] == [] and state["outputs"] == {}
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", fleet.edge_port("eu")), timeout=2).close()


def test_import_adopts_an_application_made_over_rpc(fleet: Fleet) -> None:
    missing = fleet.l4plan("import", US, "us.example.com")
    assert missing.returncode == 1
    assert 'runs "us.example.com"; nothing to import' in missing.stderr
    fleet.apply("--target", US)  # import into an existing state
    edge = fleet.edge_port("eu")
    stray_origin = fleet.new_origin()
    fleet.agents["a"].apply({"eu.example.com": app(rule("tcp", edge, stray_origin))})
    assert fleet.served_by("eu") == stray_origin

    planned = fleet.l4plan("plan")
    assert "already runs eu.example.com, which" in planned.stderr
    assert "(L4W104)" in planned.stderr

    wrong = fleet.l4plan("import", EU, "us.example.com")
    assert wrong.returncode == 1 and 'not "us.example.com"' in wrong.stderr

    imported = fleet.l4plan("import", EU, "eu.example.com")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "Import successful!" in imported.stdout
    running_hash = canonical_hash(fleet.running("a")["eu.example.com"]["spec"])
    assert fleet.resource(EU)["agents"] == {"a": {"revision": 1, "spec_hash": running_hash}}
    assert fleet.state()["serial"] == 2
    again = fleet.l4plan("import", EU, "eu.example.com")
    assert again.returncode == 1 and "already in the state" in again.stderr

    planned = fleet.l4plan("plan", "--detailed-exitcode")
    assert planned.returncode == 2
    assert f"# {EU} will be updated in place" in planned.stdout
    assert 'because the spec agent "a" runs differs from the configuration' in planned.stdout
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in planned.stdout

    fleet.apply()
    assert fleet.served_by("eu") == int(fleet.regions["eu"]["origin_port"])
    assert fleet.l4plan("plan", "--detailed-exitcode").returncode == 0
