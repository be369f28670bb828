"""When agents, state and configuration agree, `plan --detailed-exitcode` says so
(exit 0), and only then: reordered rule blocks and an imported application that
runs what the configuration says are no change; an agent l4plan could not read is
never "in sync"."""

from __future__ import annotations

import json
from pathlib import Path

from tests.agent.harness import Agent
from tests.e2e.fleet import Fleet, run_cli
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


def token_config(directory: Path, agent: Agent) -> Path:
    directory.mkdir()
    (directory / "main.l4.hcl").write_text(
        f"""
variable "agent_token" {{
  type      = string
  sensitive = true
}}

agent "edge" {{
  endpoint    = "{agent.endpoint}"
  token       = var.agent_token
  public_ipv4 = "127.0.0.1"
}}

resource "l4_site" "main" {{
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.edge]
}}

resource "l4_application" "game" {{
  site   = l4_site.main.id
  domain = "play"

  rule {{
    protocol    = "tcp"
    edge_port   = "{free_port(E2E)}"
    origin_type = "ip"
    origin      = "127.0.0.1"
    origin_port = "9"
  }}
}}
"""
    )
    return directory


def test_a_wrong_token_is_never_in_sync(tmp_path: Path) -> None:
    agent = Agent(tmp_path / "agent", token="right-token", control_port=free_port(E2E)).start()
    try:
        workdir = token_config(tmp_path / "config", agent)
        good, bad = (
            {"L4PLAN_VAR_agent_token": "right-token"},
            {"L4PLAN_VAR_agent_token": "not-the-token-4f1c"},
        )
        applied = run_cli(["apply", "--auto-approve"], workdir, good)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert run_cli(["plan", "--detailed-exitcode"], workdir, good).returncode == 0

        ci = run_cli(["plan", "--detailed-exitcode"], workdir, bad)
        assert ci.returncode == 1, ci.stdout + ci.stderr
        assert "(L4E103)" in ci.stderr and "UNAUTHENTICATED" in ci.stderr
        assert 'token of agent "edge"' in ci.stderr
        assert "not-the-token-4f1c" not in ci.stdout + ci.stderr and "right-token" not in ci.stderr
        as_json = run_cli(["plan", "--detailed-exitcode", "--json"], workdir, bad)
        assert as_json.returncode == 1
        report = json.loads(as_json.stdout)
        assert report["errored"] is True and report["applyable"] is False
        assert [d["code"] for d in report["diagnostics"]] == ["L4E103"]

        looked = run_cli(["plan"], workdir, bad)  # no detailed exit code: a warning
        assert looked.returncode == 0, looked.stdout + looked.stderr
        assert "(L4W103)" in looked.stderr and 'token of agent "edge"' in looked.stderr

        drift = run_cli(["drift"], workdir, bad)
        assert drift.returncode == 1
        assert 'token of agent "edge"' in drift.stdout
    finally:
        agent.kill()


def test_an_unreachable_agent_is_never_in_sync(fleet: Fleet) -> None:
    fleet.apply()
    fleet.agents["b"].kill()
    planned = fleet.l4plan("plan", "--detailed-exitcode")
    assert planned.returncode == 1, planned.stdout + planned.stderr
    assert "(L4E103)" in planned.stderr and "UNAVAILABLE" in planned.stderr
    assert fleet.l4plan("drift").returncode == 1
    offline = fleet.l4plan("plan", "--detailed-exitcode", "--refresh=false")
    assert offline.returncode == 0, offline.stdout + offline.stderr


def test_a_failed_state_write_says_whether_agents_were_changed(fleet: Fleet) -> None:
    fleet.apply()
    # the state cannot be written: its backup path is taken by a directory
    (fleet.workdir / "l4plan.tfstate.json.backup").mkdir()
    (fleet.workdir / "extra.l4.hcl").write_text('output "n" {\n  value = 1\n}\n')
    outputs_only = fleet.l4plan("apply", "--auto-approve")
    assert outputs_only.returncode == 1, outputs_only.stdout + outputs_only.stderr
    assert "the state could not be written" in outputs_only.stderr
    assert "agents were changed" not in outputs_only.stderr
    assert fleet.revision("a") == 1 and fleet.revision("b") == 1

    fleet.regions["eu"]["origin_port"] = str(fleet.new_origin())
    changed = fleet.l4plan("apply", "--auto-approve")
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert "the agents were changed, but the state could not be written" in changed.stderr
    assert fleet.revision("a") == 2 and fleet.revision("b") == 1
