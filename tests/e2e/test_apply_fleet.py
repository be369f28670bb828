"""Apply examples/multi-agent to two agents; traffic flows; re-plans are empty; a rule
change reaches new connections while open ones stay up."""

from __future__ import annotations

import re

from tests.e2e.fleet import Fleet, echo, run_on_terminal


def test_apply_asks_on_a_terminal_and_shows_progress(fleet: Fleet) -> None:
    args = ["apply", *fleet.var_args()]
    code, output = run_on_terminal(args, fleet.workdir, "no")
    assert code == 1, output
    assert "Do you want to perform these actions?" in output
    assert "Apply cancelled." in output
    assert (fleet.revision("a"), fleet.revision("b")) == (0, 0)
    assert not (fleet.workdir / "l4plan.tfstate.json").exists()

    code, output = run_on_terminal(args, fleet.workdir, "yes")
    assert code == 0, output
    assert "Applying" in output  # the live per-agent table
    assert re.search(r"\ba\s+.*done, revision 1", output), output
    assert re.search(r"\bb\s+.*done, revision 1", output), output
    assert "Apply complete! Resources: 3 added, 0 changed, 0 destroyed." in output
    assert (fleet.revision("a"), fleet.revision("b")) == (1, 1)


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
