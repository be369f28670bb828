"""`moved` and `import` blocks through the real CLI, against real agents with traffic.

A move renames what the state records and calls no agent: connections through the
edge ports carry on. An import records what the agents run: nothing on an agent
changes for an import that matches the configuration, and apply updates only the
agent that runs something else.
"""

from __future__ import annotations

import json
import socket

from l4plan.agents.spec import canonical_hash
from tests.agent.harness import app, rule
from tests.e2e.fleet import Fleet, connect, echo
from tests.ports import E2E, free_port

EU = 'l4_application.regional["eu"]'
US = 'l4_application.regional["us"]'
IMPORT_REGIONS = """import {
  for_each = var.regions
  to       = l4_application.regional[each.key]
  id       = "${each.key}.example.com"
}
"""


def _rename_regional(fleet: Fleet, new: str) -> None:
    """Rename the example's `l4_application.regional` (and its references) to `new`."""
    main = fleet.workdir / "main.l4.hcl"
    text = main.read_text()
    main.write_text(
        text.replace('"l4_application" "regional"', f'"l4_application" "{new}"').replace(
            "l4_application.regional", f"l4_application.{new}"
        )
    )


def _addresses(fleet: Fleet) -> set[str]:
    return {r["address"] for r in fleet.state()["resources"]}


def _line_of(fleet: Fleet, file: str, text: str) -> int:
    lines = (fleet.workdir / file).read_text().splitlines()
    return lines.index(text) + 1


def test_a_moved_block_renames_what_runs_without_calling_the_agents(fleet: Fleet) -> None:
    fleet.apply()
    revisions = {"a": fleet.revision("a"), "b": fleet.revision("b")}
    sock, port = fleet.connect("eu")  # a connection that must outlive the rename
    try:
        assert port == int(fleet.regions["eu"]["origin_port"])
        _rename_regional(fleet, "region")
        (fleet.workdir / "moved.l4.hcl").write_text(
            "moved {\n  from = l4_application.regional\n  to   = l4_application.region\n}\n"
        )

        planned = fleet.l4plan("plan", "--detailed-exitcode")
        assert planned.returncode == 2, planned.stdout + planned.stderr
        for key in ("eu", "us"):
            assert (
                f'  # l4_application.regional["{key}"] has moved to '
                f'l4_application.region["{key}"]\n' in planned.stdout
            )
        assert "Plan: 0 to add, 0 to change, 0 to destroy." in planned.stdout
        assert "destroyed" not in planned.stdout and "created" not in planned.stdout

        shown = fleet.l4plan("plan", "--json")
        assert shown.returncode == 0, shown.stderr
        moved = {
            c["address"]: c.get("previous_address")
            for c in json.loads(shown.stdout)["resource_changes"]
            if c["type"] == "l4_application"
        }
        assert moved == {
            'l4_application.region["eu"]': EU,
            'l4_application.region["us"]': US,
        }

        serial = fleet.state()["serial"]
        done = fleet.apply()
        assert "Resources: 0 added, 0 changed, 0 destroyed." in done.stdout
        assert _addresses(fleet) == {
            "l4_site.main",
            'l4_application.region["eu"]',
            'l4_application.region["us"]',
        }
        assert fleet.state()["serial"] == serial + 1
        assert {"a": fleet.revision("a"), "b": fleet.revision("b")} == revisions
        assert echo(sock, b"still relayed") == b"still relayed"
    finally:
        sock.close()

    settled = fleet.l4plan("plan", "--detailed-exitcode")  # the block may stay
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert "No changes." in settled.stdout


def test_moves_into_and_out_of_for_each_and_onto_an_address_in_the_state(fleet: Fleet) -> None:
    edge, origin = free_port(E2E), fleet.new_origin()
    solo = fleet.workdir / "solo.l4.hcl"

    def write_solo(header: str, for_each: str = "") -> None:
        solo.write_text(
            f"""
{header} {{
  {for_each}
  site   = l4_site.main.id
  domain = "solo"
  agents = [agent.a]

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

    write_solo('resource "l4_application" "solo"')
    fleet.apply()
    revision = fleet.revision("a")

    moved = fleet.workdir / "moved.l4.hcl"
    write_solo('resource "l4_application" "solo"', 'for_each = toset(["x"])')
    moved.write_text(
        'moved {\n  from = l4_application.solo\n  to   = l4_application.solo["x"]\n}\n'
    )
    planned = fleet.l4plan("plan")
    assert planned.returncode == 0, planned.stderr
    assert '  # l4_application.solo has moved to l4_application.solo["x"]\n' in planned.stdout
    fleet.apply()
    assert 'l4_application.solo["x"]' in _addresses(fleet)

    # out of for_each, the first block kept: solo → solo["x"] → single, a chain
    write_solo('resource "l4_application" "single"')
    moved.write_text(
        moved.read_text()
        + '\nmoved {\n  from = l4_application.solo["x"]\n  to   = l4_application.single\n}\n'
    )
    planned = fleet.l4plan("plan")
    assert planned.returncode == 0, planned.stderr
    assert '  # l4_application.solo["x"] has moved to l4_application.single\n' in planned.stdout
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in planned.stdout
    fleet.apply()
    assert "l4_application.single" in _addresses(fleet)
    assert fleet.revision("a") == revision
    sock, port = connect("127.0.0.1", edge)
    sock.close()
    assert port == origin

    # onto an address the state records: refused, nothing applied
    solo.unlink()
    (fleet.workdir / "onto.l4.hcl").write_text(
        "moved {\n  from = l4_application.single\n  to   = " + EU + "\n}\n"
    )
    serial = fleet.state()["serial"]
    for args in (["plan"], ["apply", "--auto-approve"]):
        refused = fleet.l4plan(*args)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "(L4E104)" in refused.stderr
        assert f"on onto.l4.hcl line {_line_of(fleet, 'onto.l4.hcl', 'moved {')}" in refused.stderr
        assert f"{EU} already exists in the state" in refused.stderr
    assert fleet.state()["serial"] == serial
    assert fleet.revision("a") == revision
    assert "solo.example.com" in fleet.running("a")


def test_import_blocks_adopt_what_the_agents_run(fleet: Fleet) -> None:
    imports = fleet.workdir / "imports.l4.hcl"
    imports.write_text(IMPORT_REGIONS)
    nothing_runs = fleet.l4plan("plan")
    assert nothing_runs.returncode == 1, nothing_runs.stdout + nothing_runs.stderr
    assert "(L4E105)" in nothing_runs.stderr
    assert "Cannot import non-existent remote object" in nothing_runs.stderr
    assert "on imports.l4.hcl line 1" in nothing_runs.stderr
    imports.unlink()

    fleet.apply()
    forgot = fleet.l4plan("state", "rm", "l4_application.regional")
    assert forgot.returncode == 0, forgot.stderr
    assert _addresses(fleet) == {"l4_site.main"}
    # agent b runs something else as us.example.com than the configuration says
    stray = fleet.new_origin()
    fleet.agents["b"].apply({"us.example.com": app(rule("tcp", fleet.edge_port("us"), stray))})
    assert fleet.served_by("us") == stray
    revisions = {"a": fleet.revision("a"), "b": fleet.revision("b")}

    imports.write_text(IMPORT_REGIONS)
    planned = fleet.l4plan("plan", "--detailed-exitcode")
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert f"  # {EU} will be imported\n" in planned.stdout
    assert f"  # {US} will be updated in place\n" in planned.stdout
    assert '  # (imported from "us.example.com")\n' in planned.stdout
    assert "Plan: 2 to import, 0 to add, 1 to change, 0 to destroy." in planned.stdout
    assert "(L4W104)" not in planned.stderr  # the plan says what becomes of them
    # a refresh-only plan imports nothing, so it still says nobody manages them
    refresh_only = fleet.l4plan("plan", "--refresh-only")
    assert refresh_only.returncode == 0, refresh_only.stdout + refresh_only.stderr
    assert "(L4W104)" in refresh_only.stderr

    shown = json.loads(fleet.l4plan("plan", "--json").stdout)
    importing = {
        c["address"]: (c["importing"]["id"], c["action"])
        for c in shown["resource_changes"]
        if "importing" in c
    }
    assert importing == {EU: ("eu.example.com", ["no-op"]), US: ("us.example.com", ["update"])}
    assert shown["summary"] == {"add": 0, "change": 1, "destroy": 0, "import": 2}

    running_eu = canonical_hash(fleet.running("a")["eu.example.com"]["spec"])
    saved = fleet.l4plan("plan", "--out", "imports.plan")  # applied as a saved plan
    assert saved.returncode == 0, saved.stdout + saved.stderr
    done = fleet.l4plan("apply", "imports.plan", variables=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Resources: 2 imported, 0 added, 1 changed, 0 destroyed." in done.stdout
    assert fleet.revision("a") == revisions["a"]  # a matching import changes nothing there
    assert fleet.revision("b") == revisions["b"] + 1
    assert fleet.resource(EU)["agents"] == {
        "a": {"revision": revisions["a"], "spec_hash": running_eu}
    }
    assert fleet.served_by("eu") == int(fleet.regions["eu"]["origin_port"])
    assert fleet.served_by("us") == int(fleet.regions["us"]["origin_port"])
    with socket.create_connection(("127.0.0.2", fleet.edge_port("us")), timeout=5) as s:
        assert s.recv(64).startswith(b"port=")

    settled = fleet.l4plan("plan", "--detailed-exitcode")  # the block may stay
    assert settled.returncode == 0, settled.stdout + settled.stderr
