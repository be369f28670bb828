"""The apply engine against real agents, with a controlled clock and slow answers:
keep-alive protection lapses with DDoS protection (L4W001), and a retried
`Config.Apply` reuses its request_id so nothing is applied twice."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from l4plan.apply.engine import planned_operations, send_operations
from l4plan.apply.record import next_state
from l4plan.configs import load_config
from l4plan.configs.model import Config
from l4plan.configs.validate import check
from l4plan.plans import Action, render_plan
from l4plan.plans.refreshed import RefreshedPlan, plan_refreshed
from tests.agent.harness import Agent
from tests.e2e.fleet import Fleet
from tests.ports import E2E, free_port

EXPIRES = datetime(2031, 6, 30, tzinfo=UTC)


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    started = Agent(tmp_path / "agent", "--drain-timeout", "1s", control_port=free_port(E2E))
    try:
        yield started.start()
    finally:
        started.kill()


def protected_config(directory: Path, agent: Agent) -> Config:
    directory.mkdir()
    (directory / "main.l4.hcl").write_text(
        f"""
agent "edge" {{
  endpoint    = "{agent.endpoint}"
  public_ipv4 = "127.0.0.1"
}}

resource "l4_site" "main" {{
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.edge]

  ddos_protection {{
    mode       = "full"
    expires_at = "{EXPIRES.strftime("%Y-%m-%dT%H:%M:%SZ")}"
  }}
}}

resource "l4_application" "game" {{
  site                 = l4_site.main.id
  domain               = "play"
  keepalive_protection = true

  rule {{
    protocol    = "tcp"
    edge_port   = "{free_port(E2E)}"
    origin_type = "ip"
    origin      = "127.0.0.1"
  }}
}}
"""
    )
    config = load_config(directory)
    assert not config.diagnostics
    return config


def apply_at(config: Config, planned: RefreshedPlan, now: datetime, plan_id: str):
    assert planned.refresh is not None
    operations = planned_operations(planned.plan, config, planned.base, now=now)
    results = send_operations(
        operations,
        config,
        workdir=config.directory,
        snapshots=planned.refresh.snapshots,
        plan_id=plan_id,
    )
    return operations, results, next_state(planned.plan, planned.base, results)


def _app_spec(agent: Agent) -> dict[str, Any]:
    """The spec the agent runs for play.example.com (Apps.Get)."""
    reply = agent.client.call("Apps.Get", {"name": "play.example.com"}, idempotent=True)
    return reply["app"]["spec"]


def test_expired_ddos_protection_turns_keepalive_off(tmp_path: Path, agent: Agent) -> None:
    config = protected_config(tmp_path / "config", agent)
    before, after = EXPIRES - timedelta(days=30), EXPIRES + timedelta(seconds=1)
    assert not [d for d in check(config, now=before) if d.code == "L4W001"]

    created = plan_refreshed(config, None, workdir=config.directory, now=before)
    _, results, state = apply_at(config, created, before, "create")
    assert results["edge"].ok
    assert _app_spec(agent)["keepalive"] is True
    unchanged = plan_refreshed(config, state, workdir=config.directory, now=before)
    assert not unchanged.plan.has_changes

    [expired] = [d for d in check(config, now=after) if d.code == "L4W001"]
    assert expired.severity == "warning" and "l4_application.game" in expired.message
    lapsed = plan_refreshed(config, state, workdir=config.directory, now=after)
    [change] = lapsed.plan.resource_actions
    assert change.address == "l4_application.game"
    assert change.action is Action.UPDATE
    assert change.action_reason == "update_because_ddos_protection_expired"
    assert change.agents == {"edge": "update"}
    assert change.before is not None and change.before["effective_keepalive"] is True
    assert change.after is not None and change.after["effective_keepalive"] is False
    shown = render_plan(lapsed.plan, color=False)
    assert "      ~ effective_keepalive = true -> false" in shown
    assert "DDoS protection expired" in shown and "(L4W001)" in shown

    operations, results, state = apply_at(config, lapsed, after, "lapse")
    [upsert] = operations["edge"].upserts
    assert upsert.spec["keepalive"] is False
    assert results["edge"].revision == 2
    assert _app_spec(agent)["keepalive"] is False
    settled = plan_refreshed(config, state, workdir=config.directory, now=after)
    assert not settled.plan.has_changes


def fleet_config(fleet: Fleet) -> Config:
    args = fleet.var_args()
    config = load_config(fleet.workdir, var_args=args[1::2])
    assert not config.diagnostics
    return config


def test_same_plan_sent_twice_is_applied_once(fleet: Fleet) -> None:
    config = fleet_config(fleet)
    planned = plan_refreshed(config, None, workdir=fleet.workdir)
    assert planned.refresh is not None
    operations = planned_operations(planned.plan, config, planned.base)

    def send(plan_id: str) -> dict:  # type: ignore[type-arg]
        return send_operations(
            operations,
            config,
            workdir=fleet.workdir,
            snapshots=planned.refresh.snapshots,  # type: ignore[union-attr]
            plan_id=plan_id,
        )

    first, repeated = send("plan-1"), send("plan-1")
    for agent in ("a", "b"):
        assert first[agent].ok and repeated[agent].ok
        assert first[agent].request_id == repeated[agent].request_id
        assert first[agent].revision == repeated[agent].revision == 1
        assert fleet.revision(agent) == 1

    # without the same request_id, the stale expected_revision is refused
    other = send("plan-2")
    assert other["a"].error is not None and other["a"].error.status == "ABORTED"
    assert fleet.revision("a") == 1


def test_timeout_is_retried_with_the_same_request_id(fleet: Fleet) -> None:
    """The agent is frozen (SIGSTOP) past the first attempt's deadline and resumed
    during the second: the retry gets the one result, the revision moves once."""
    config = fleet_config(fleet)
    planned = plan_refreshed(config, None, workdir=fleet.workdir)
    assert planned.refresh is not None
    operations = planned_operations(planned.plan, config, planned.base)
    frozen = fleet.agents["a"].proc
    assert frozen is not None
    events: list[tuple[str, str]] = []
    resume = threading.Timer(2.6, os.kill, (frozen.pid, signal.SIGCONT))
    os.kill(frozen.pid, signal.SIGSTOP)
    resume.start()
    try:
        results = send_operations(
            {"a": operations["a"]},
            config,
            workdir=fleet.workdir,
            snapshots=planned.refresh.snapshots,
            plan_id="slow",
            timeout=2.0,
            retries=1,
            progress=lambda agent, event, _: events.append((agent, event)),
        )
    finally:
        resume.join()
        os.kill(frozen.pid, signal.SIGCONT)
    assert results["a"].ok, results["a"].error
    assert results["a"].attempts == 2
    assert events == [("a", "applying"), ("a", "retrying"), ("a", "done")]
    assert results["a"].revision == 1
    assert fleet.revision("a") == 1
