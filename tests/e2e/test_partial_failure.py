"""One of two agents down: the other is applied, state records exactly what each
acknowledged, the next plan shows only what is missing; stale saved plans are refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import IO

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
    """Ctrl-C while agent a (frozen) has not answered: once l4plan has acknowledged
    the interrupt, a is thawed and answers, b is never called, the state records
    what a acknowledged, and the next apply finishes the job. Every step waits for
    the event before it: no time window decides the outcome."""
    frozen = fleet.agents["a"].proc
    assert frozen is not None
    argv = ["apply", "--auto-approve", "--refresh=false", "--parallelism", "1"]
    argv += ["--timeout", "60s", *fleet.var_args()]
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
        out, err = Lines(proc.stdout), Lines(proc.stderr)
        assert out.wait_for("agent.a: applying"), "agent a was never called"
        proc.send_signal(signal.SIGINT)
        assert err.wait_for("Interrupt received"), "the interrupt was never acknowledged"
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    assert proc.wait(timeout=CLI_TIMEOUT) == 1, out.text() + err.text()
    stdout, stderr = out.text(), err.text()
    assert "agent.b: applying" not in stdout
    assert "agent.b: CANCELLED: not sent: the apply was interrupted" in stderr
    assert "Error: agent.a" not in stderr
    assert "Apply interrupted: 1 of 2 agents applied." in stderr
    assert fleet.revision("a") == 1 and fleet.revision("b") == 0
    assert {r["address"] for r in fleet.state()["resources"]} == {"l4_site.main", EU}

    fleet.apply()
    assert fleet.served_by("eu") == int(fleet.regions["eu"]["origin_port"])
    assert fleet.served_by("us") == int(fleet.regions["us"]["origin_port"])
    assert fleet.revision("a") == 1 and fleet.revision("b") == 1
    assert fleet.l4plan("plan", "--detailed-exitcode").returncode == 0


class Lines:
    """The lines of a child's pipe, read by a thread as they come."""

    def __init__(self, stream: IO[str] | None) -> None:
        assert stream is not None
        self._lines: list[str] = []
        self._more = threading.Condition()
        self._done = False
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._more:
                self._lines.append(line)
                self._more.notify_all()
        with self._more:
            self._done = True
            self._more.notify_all()

    def wait_for(self, prefix: str, timeout: float = CLI_TIMEOUT) -> bool:
        """True once a line starting with `prefix` has come; False at the pipe's end
        or after `timeout` seconds."""
        with self._more:
            return self._more.wait_for(
                lambda: self._done or any(x.startswith(prefix) for x in self._lines), timeout
            ) and any(x.startswith(prefix) for x in self._lines)

    def text(self) -> str:
        with self._more:
            self._more.wait_for(lambda: self._done, CLI_TIMEOUT)
            return "".join(self._lines)
