"""A domain change replaces an application: on each agent the old name is deleted and
the new one upserted in one all-or-nothing Config.Apply, also when one agent is down
at the time."""

from __future__ import annotations

from tests.e2e.fleet import LISTEN, Fleet, connect
from tests.ports import E2E, free_port

WEB = "l4_application.web"


def place_web_on_both(fleet: Fleet, domain: str, edge: int, origin: int) -> None:
    (fleet.workdir / "web.l4.hcl").write_text(
        f"""
resource "l4_application" "web" {{
  site   = l4_site.main.id
  domain = "{domain}"
  agents = [agent.a, agent.b]

  rule {{
    protocol    = "tcp"
    edge_port   = "{edge}"
    origin_type = "ip"
    origin      = "127.0.0.1"
    origin_port = "{origin}"
  }}
}}
"""
    )


def test_domain_change_replaces_in_one_apply_per_agent(fleet: Fleet) -> None:
    edge, origin = free_port(E2E), fleet.new_origin()
    place_web_on_both(fleet, "web1", edge, origin)
    fleet.apply()
    assert (fleet.revision("a"), fleet.revision("b")) == (1, 1)

    place_web_on_both(fleet, "web2", edge, origin)
    planned = fleet.l4plan("plan")
    assert f"# {WEB} must be replaced" in planned.stdout
    assert "# agents: a (replace), b (replace)" in planned.stdout
    replaced = fleet.apply()
    assert "Resources: 1 added, 0 changed, 1 destroyed." in replaced.stdout
    # one Config.Apply each: delete web1 and create web2 on the same port together
    assert (fleet.revision("a"), fleet.revision("b")) == (2, 2)
    for agent in ("a", "b"):
        assert "web2.example.com" in fleet.running(agent)
        assert "web1.example.com" not in fleet.running(agent)
        assert connect(LISTEN[agent], edge)[1] == origin
    assert fleet.resource(WEB)["attributes"]["id"] == "web2.example.com"


def test_replacement_with_one_agent_down_finishes_later(fleet: Fleet) -> None:
    edge, origin = free_port(E2E), fleet.new_origin()
    place_web_on_both(fleet, "web1", edge, origin)
    fleet.apply()
    fleet.agents["b"].kill()

    place_web_on_both(fleet, "web2", edge, origin)
    failed = fleet.l4plan("apply", "--auto-approve")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "agent.b: UNAVAILABLE" in failed.stderr
    assert set(fleet.running("a")) == {"eu.example.com", "web2.example.com"}
    web = fleet.resource(WEB)
    # still described as web1, which only b (unreachable) acknowledged
    assert web["attributes"]["id"] == "web1.example.com"
    assert set(web["agents"]) == {"b"}

    fleet.agents["b"].start()
    planned = fleet.l4plan("plan", "--detailed-exitcode")
    assert planned.returncode == 2
    assert "# agents: a (create), b (replace)" in planned.stdout
    assert "already runs web2.example.com, which l4_application.web declares" in planned.stderr
    fleet.apply()
    for agent in ("a", "b"):
        assert "web2.example.com" in fleet.running(agent)
        assert "web1.example.com" not in fleet.running(agent)
        assert connect(LISTEN[agent], edge)[1] == origin
    assert fleet.revision("a") == 2  # the upsert a already ran changed nothing there
    assert fleet.l4plan("plan", "--detailed-exitcode").returncode == 0


def test_renamed_resource_keeps_its_application(fleet: Fleet) -> None:
    """A resource block renamed without `state mv` is destroyed and created, like in
    Terraform; on the agent it is one upsert of the same name, not a delete and an
    upsert of one name (which the agent would refuse)."""
    edge, origin = free_port(E2E), fleet.new_origin()
    place_web_on_both(fleet, "web1", edge, origin)
    fleet.apply("--target", WEB)
    text = (fleet.workdir / "web.l4.hcl").read_text()
    (fleet.workdir / "web.l4.hcl").write_text(text.replace('"web"', '"portal"'))

    planned = fleet.l4plan("plan")
    assert f"# {WEB} will be destroyed" in planned.stdout
    assert "# l4_application.portal will be created" in planned.stdout
    renamed = fleet.apply("--target", "l4_application.portal", "--target", WEB)
    assert "Resources: 1 added, 0 changed, 1 destroyed." in renamed.stdout
    addresses = {r["address"] for r in fleet.state()["resources"]}
    assert "l4_application.portal" in addresses and WEB not in addresses
    for agent in ("a", "b"):
        assert "web1.example.com" in fleet.running(agent)
        assert connect(LISTEN[agent], edge)[1] == origin
