"""One of two agents down: the other is applied, state records exactly what each
acknowledged, the next plan shows only what is missing; stale saved plans are refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.e2e.fleet import CLI_TIMEOUT, ENTRY, Fleet, cli_env

EU = 'l4_application.regional["eu"]'
US = 'l4_application.regional["us"]'


def test_create_with_one_agent_down_then_finish(fleet: Fleet) -> None:
    fleet.agents["b"].kill()
    failed = fleet.l4plan("apply", "--auto-approve")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "agent.b: UNAVAILABLE" in failed.stderr
    assert "Apply incomplete: 1 of 2 agents applied." in failed.stderr
    assert "(L4W103)" in failed.stderr  # b could not be refreshed either
    assert set(fleet.running("a")) == {"eu.example.com"}
    assert fleet.served_by("eu") == int(fleet.regions["eu"]["origin_port"])

    state = fleet.state()
    addresses = {r["address"] for r in state["resources"]}
    assert addresses == {"l4_site.main", EU}  # us: no agent acknowledged it
    assert fleet.resource(EU)["agents"]["a"]["revision"] == 1

    fleet.agents["b"].start()
    planned = fleet.l4plan("plan", "--detailed-exitcode")
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert f"# {US} will be created" in planned.stdout
    assert EU not in planned.stdout
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in planned.stdout

    finished = fleet.apply()
    assert "agent.a" not in finished.stdout
    assert fleet.served_by("us") == int(fleet.regions["us"]["origin_port"])
    assert fleet.l4plan("plan", "--detailed-exitcode").returncode == 0


def test_update_with_one_agent_down_then_finish(fleet: Fleet) -> None:
    fleet.apply()
    before_us = fleet.resource(US)
    for region in ("eu", "us"):
        fleet.regions[region]["origin_port"] = str(fleet.new_origin())
    fleet.agents["b"].kill()

    failed = fleet.l4plan("apply", "--auto-approve")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "agent.b: UNAVAILABLE" in failed.stderr
    assert fleet.served_by("eu") == int(fleet.regions["eu"]["origin_port"])
    assert fleet.resource(EU)["agents"]["a"]["revision"] == 2
    assert fleet.resource(US) == before_us  # b acknowledged nothing new
    assert fleet.state()["serial"] == 2

    fleet.agents["b"].start()
    planned = fleet.l4plan("plan", "--detailed-exitcode")
    assert planned.returncode == 2
    assert f"# {US} will be updated in place" in planned.stdout
    assert EU not in planned.stdout
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in planned.stdout

    fleet.apply()
    assert fleet.served_by("us") == int(fleet.regions["us"]["origin_port"])
    assert fleet.revision("a") == 2 and fleet.revision("b") == 2


def test_saved_plans_apply_with_their_variables_and_go_stale(fleet: Fleet) -> None:
    fleet.apply()
    fleet.regions["us"]["origin_port"] = str(fleet.new_origin())
    saved = fleet.l4plan("plan", "--out", "us.plan")
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in saved.stdout
    refused = fleet.l4plan("apply", "us.plan", "--var", "regions={}", variables=False)
    assert refused.returncode == 1
    assert "carries the variable values" in refused.stderr
    applied = fleet.l4plan("apply", "us.plan", variables=False)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in applied.stdout
    assert fleet.served_by("us") == int(fleet.regions["us"]["origin_port"])
    assert (fleet.revision("a"), fleet.revision("b")) == (1, 2)

    fleet.regions["eu"]["origin_port"] = str(fleet.new_origin())
    assert fleet.l4plan("plan", "--out", "eu.plan").returncode == 0
    fleet.apply()  # someone else applies first
    serial = fleet.state()["serial"]
    stale = fleet.l4plan("apply", "eu.plan", variables=False)
    assert stale.returncode == 1
    assert "The saved plan is stale: the state serial moved from 2 to 3" in stale.stderr
    assert "Nothing was applied." in stale.stderr
    assert (fleet.revision("a"), fleet.revision("b")) == (2, 2)
    assert fleet.state()["serial"] == serial


def test_interrupted_apply_records_what_was_acknowledged(fleet: Fleet) -> None:
    """Ctrl-C while agent a (frozen) does not answer: its call runs out, b is never
    called, the state is written, and the next apply finishes the job."""
    frozen = fleet.agents["a"].proc
    assert frozen is not None
    argv = ["apply", "--auto-approve", "--refresh=false", "--parallelism", "1"]
    argv += ["--timeout", "1s", *fleet.var_args()]
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", ENTRY, *argv],
            cwd=fleet.workdir,
            env=cli_env({"PYTHONUNBUFFERED": "1"}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("agent.a: applying"):
                proc.send_signal(signal.SIGINT)
                break
        stdout, stderr = proc.communicate(timeout=CLI_TIMEOUT)
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    assert proc.returncode == 1, stdout + stderr
    assert "agent.a: DEADLINE_EXCEEDED" in stderr
    assert "agent.b: CANCELLED: not sent: the apply was interrupted" in stderr
    assert "Apply interrupted: 0 of 2 agents applied." in stderr
    assert fleet.revision("b") == 0
    assert {r["address"] for r in fleet.state()["resources"]} == {"l4_site.main"}

    # a may have committed eu once it was thawed: the refresh finds it, apply adopts it
    fleet.apply()
    assert fleet.served_by("eu") == int(fleet.regions["eu"]["origin_port"])
    assert fleet.served_by("us") == int(fleet.regions["us"]["origin_port"])
    assert fleet.revision("a") == 1 and fleet.revision("b") == 1
    assert fleet.l4plan("plan", "--detailed-exitcode").returncode == 0
