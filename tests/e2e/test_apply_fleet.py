"""Apply examples/multi-agent to two agents; traffic flows; re-plans are empty; a rule
change reaches new connections while open ones stay up."""

from __future__ import annotations

from tests.e2e.fleet import Fleet, echo


def test_apply_traffic_replan_and_rule_change(fleet: Fleet) -> None:
    first = fleet.apply()
    assert "Resources: 3 added, 0 changed, 0 destroyed." in first.stdout
    assert "agent.a: done, revision 1" in first.stdout
    assert "agent.b: done, revision 1" in first.stdout

    eu_origin = int(fleet.regions["eu"]["origin_port"])
    us_origin = int(fleet.regions["us"]["origin_port"])
    assert fleet.served_by("eu") == eu_origin
    assert fleet.served_by("us") == us_origin
    assert set(fleet.running("a")) == {"eu.example.com"}
    assert set(fleet.running("b")) == {"us.example.com"}
    eu = fleet.resource('l4_application.regional["eu"]')
    assert eu["agents"] == {
        "a": {"revision": 1, "spec_hash": fleet.running("a")["eu.example.com"]["spec_hash"]}
    }

    again = fleet.l4plan("plan", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes." in again.stdout

    # connections opened before the change, on the changed and on an unrelated listener
    kept_eu, reached = fleet.connect("eu")
    assert reached == eu_origin
    kept_us, _ = fleet.connect("us")

    new_origin = fleet.new_origin()
    fleet.regions["eu"]["origin_port"] = str(new_origin)
    planned = fleet.l4plan("plan", "--detailed-exitcode")
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert "# agents: a (update)" in planned.stdout
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in planned.stdout

    changed = fleet.apply()
    assert "Resources: 0 added, 1 changed, 0 destroyed." in changed.stdout
    assert "agent.b" not in changed.stdout  # b had nothing to do and was not called
    assert fleet.revision("a") == 2 and fleet.revision("b") == 1

    assert fleet.served_by("eu") == new_origin
    assert echo(kept_eu, b"still here") == b"still here"
    assert echo(kept_us, b"untouched") == b"untouched"
    kept_eu.close()
    kept_us.close()

    settled = fleet.l4plan("plan", "--detailed-exitcode")
    assert settled.returncode == 0, settled.stdout + settled.stderr
