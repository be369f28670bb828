"""Changes made outside l4plan: an application edited on an agent, an agent rebuilt
with an empty state directory, an application nobody declared; `plan` shows them,
`drift` reports them, `apply` converges."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema

from l4plan.configs.model import BackendConfig
from l4plan.states import open_backend
from tests.e2e.fleet import ROOT, Fleet
from tests.ports import E2E, free_port

DRIFT_SCHEMA = json.loads((ROOT / "schemas" / "drift.schema.json").read_text())


def drift_json(fleet: Fleet) -> tuple[int, dict[str, Any]]:
    done = fleet.l4plan("drift", "--json")
    report = json.loads(done.stdout)
    jsonschema.Draft202012Validator(DRIFT_SCHEMA).validate(report)
    return done.returncode, report


def agent_entry(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in report["agents"] if a["name"] == name)


def test_edit_on_agent_is_drift_and_apply_restores_it(fleet: Fleet) -> None:
    fleet.apply()
    backend = open_backend(BackendConfig(), workdir=fleet.workdir)
    try:
        with backend.lock("apply"):  # a writer at work: drift reads without the lock
            code, report = drift_json(fleet)
            writer = fleet.l4plan("apply", "--auto-approve", "--lock-timeout", "0.3s")
    finally:
        backend.close()
    assert code == 0 and report["in_sync"], report
    assert [d["code"] for d in report["diagnostics"]] == ["L4W102"]
    assert writer.returncode == 1 and "lock" in writer.stderr, writer.stderr

    # someone points eu at another port directly over RPC, and adds an application
    agent = fleet.agents["a"]
    running = fleet.running("a")["eu.example.com"]
    edited = copy.deepcopy(running["spec"])
    edited["rules"][0]["origin_ports"] = [9, 9]
    rogue = copy.deepcopy(running["spec"])
    rogue_port = free_port(E2E)
    rogue["rules"][0]["edge_ports"] = [[rogue_port, rogue_port]]
    agent.apply(
        {"eu.example.com": edited, "rogue.example.com": rogue},
        expected_revision=fleet.revision("a"),
        request_id=str(uuid.uuid4()),
    )

    planned = fleet.l4plan("plan", "--detailed-exitcode")
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert "Objects have changed outside of l4plan" in planned.stdout
    assert '# l4_application.regional["eu"] has changed' in planned.stdout
    assert "# agents: a (spec changed)" in planned.stdout
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in planned.stdout
    assert "(L4W104)" in planned.stderr and "rogue.example.com" in planned.stderr

    code, report = drift_json(fleet)
    assert code == 2 and not report["in_sync"] and not report["errored"]
    a = agent_entry(report, "a")
    assert a["status"] == "drifted"
    [changed] = a["changed"]
    assert changed["name"] == "eu.example.com"
    assert changed["address"] == 'l4_application.regional["eu"]'
    assert changed["recorded_spec_hash"] == running["spec_hash"]
    origin_port = int(fleet.regions["eu"]["origin_port"])
    assert changed["differences"] == [
        {
            "path": "rules[0].origin_ports",
            "configured": [origin_port, origin_port],
            "running": [9, 9],
        }
    ]
    assert [u["name"] for u in a["unmanaged"]] == ["rogue.example.com"]
    assert agent_entry(report, "b")["status"] == "in_sync"
    assert report["summary"] == {
        "changed": 1,
        "missing": 0,
        "appeared": 0,
        "unmanaged": 1,
        "unbound": 0,
        "unreachable": 0,
    }

    fleet.apply()
    assert fleet.running("a")["eu.example.com"]["spec_hash"] == running["spec_hash"]
    assert fleet.served_by("eu") == origin_port
    assert "rogue.example.com" in fleet.running("a")  # not managed: left alone

    # edited again, and this time accepted into the state without touching agents
    agent.apply({"eu.example.com": edited})
    accepted = fleet.l4plan("apply", "--refresh-only", "--auto-approve")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "The state now matches what the agents run." in accepted.stdout
    eu = 'l4_application.regional["eu"]'
    edited_hash = fleet.running("a")["eu.example.com"]["spec_hash"]
    assert fleet.resource(eu)["agents"]["a"]["spec_hash"] == edited_hash
    assert fleet.revision("a") == 4

    # reverted by hand to the configured spec: drift, but nothing for apply to change
    agent.apply({"eu.example.com": running["spec"]})
    synced = fleet.l4plan("apply", "--auto-approve")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "No changes." in synced.stdout
    assert "The state now records the changes made outside l4plan" in synced.stdout
    assert fleet.resource(eu)["agents"]["a"]["spec_hash"] == running["spec_hash"]
    assert fleet.revision("a") == 5
    settled = fleet.l4plan("plan", "--detailed-exitcode")
    assert settled.returncode == 0, settled.stdout + settled.stderr


def test_unreachable_then_rebuilt_agent(fleet: Fleet, tmp_path: Path) -> None:
    fleet.apply()
    b = fleet.agents["b"]
    b.kill()
    code, report = drift_json(fleet)
    assert code == 1 and report["errored"] and not report["in_sync"]
    assert agent_entry(report, "b")["status"] == "unreachable"
    assert agent_entry(report, "b")["error"]["status"] == "UNAVAILABLE"
    assert agent_entry(report, "a")["status"] == "in_sync"

    b.state_dir = tmp_path / "agent-b-rebuilt"  # an empty state directory
    b.start()
    assert fleet.running("b") == {}
    planned = fleet.l4plan("plan", "--detailed-exitcode")
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert "# agents: b (lost)" in planned.stdout
    assert 'because agent "b" has not acknowledged it' in planned.stdout
    human = fleet.l4plan("drift")
    assert human.returncode == 2, human.stdout + human.stderr
    assert '  - us.example.com (l4_application.regional["us"]): missing' in human.stdout
    assert 'agent "a"' in human.stdout and "in sync at revision 1" in human.stdout

    restored = fleet.apply()
    assert "agent.a" not in restored.stdout
    assert set(fleet.running("b")) == {"us.example.com"}
    assert fleet.served_by("us") == int(fleet.regions["us"]["origin_port"])
    assert fleet.resource('l4_application.regional["us"]')["agents"]["b"]["revision"] == 1

    (fleet.workdir / "broken.l4.hcl").write_text('resource "l4_site" "x" {\n  plan = 5\n}\n')
    code, report = drift_json(fleet)
    assert code == 1 and report["errored"] and report["agents"] == []
    assert {d["code"] for d in report["diagnostics"]} == {"L4E016"}
    assert report["diagnostics"][0]["file"] == "broken.l4.hcl"
