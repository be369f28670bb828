"""Refresh: read what every agent really runs and fold it into a refreshed state.

Terraform's model: the refreshed state is the recorded state corrected by reality.
Per application and agent it keeps an acknowledgement only where the agent still
runs the application, with the spec hash the agent reports, so the plan sees
"edited on the agent" (hash differs), "lost after an agent rebuild" (missing) and
"running where it should not" (an agent that the state did not record). Names an
agent runs that no resource in state owns are reported as unmanaged.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l4plan.agents.client import AgentClient
from l4plan.agents.errors import AgentError
from l4plan.agents.placement import PLACED_TYPES
from l4plan.configs.model import AgentConfig
from l4plan.states.model import AgentAck, State

DEFAULT_TIMEOUT = 10.0


@dataclass(slots=True)
class AgentSnapshot:
    """One agent's `Apps.List` answer."""

    agent: str
    revision: int
    apps: dict[str, dict[str, Any]]  # name -> {"spec", "spec_hash"}


@dataclass(slots=True)
class RefreshResult:
    state: State | None
    snapshots: dict[str, AgentSnapshot] = field(default_factory=dict)
    errors: dict[str, AgentError] = field(default_factory=dict)
    unmanaged: dict[str, list[str]] = field(default_factory=dict)


def make_client(agent: AgentConfig, *, workdir: Path, timeout: float) -> AgentClient:
    ca_file = str(workdir / agent.ca_file) if agent.ca_file else None
    return AgentClient(agent.endpoint, token=agent.token, ca_file=ca_file, timeout=timeout)


def read_agents(
    agents: Iterable[AgentConfig],
    *,
    workdir: Path,
    timeout: float = DEFAULT_TIMEOUT,
    parallelism: int = 10,
) -> tuple[dict[str, AgentSnapshot], dict[str, AgentError]]:
    """`Apps.List` on every agent in parallel; failures are returned, not raised."""

    def read(agent: AgentConfig) -> AgentSnapshot | AgentError:
        try:
            with make_client(agent, workdir=workdir, timeout=timeout) as client:
                answer = client.list_apps()
        except AgentError as e:
            return e
        apps = {a["name"]: {"spec": a["spec"], "spec_hash": a["spec_hash"]} for a in answer["apps"]}
        return AgentSnapshot(agent.name, answer["revision"], apps)

    agents = sorted(agents, key=lambda a: a.name)
    snapshots: dict[str, AgentSnapshot] = {}
    errors: dict[str, AgentError] = {}
    if not agents:
        return snapshots, errors
    with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(agents)))) as pool:
        for agent, result in zip(agents, pool.map(read, agents), strict=True):
            if isinstance(result, AgentError):
                errors[agent.name] = result
            else:
                snapshots[agent.name] = result
    return snapshots, errors


def refresh_state(prior: State | None, snapshots: dict[str, AgentSnapshot]) -> RefreshResult:
    """Fold the agents' answers into a copy of `prior`.

    Agents without a snapshot (unreachable, or not declared any more) keep what the
    state recorded: nothing is concluded from silence.
    """
    result = RefreshResult(state=copy.deepcopy(prior))
    owned: dict[str, str] = {}  # application name -> address
    if result.state is not None:
        for rs in result.state.resources.values():
            if rs.type not in PLACED_TYPES:
                continue
            name = str(rs.attributes.get("id"))
            owned[name] = rs.address
            for agent, snap in snapshots.items():
                running = snap.apps.get(name)
                ack = rs.agents.get(agent)
                if running is None:
                    rs.agents.pop(agent, None)
                elif ack is None:
                    rs.agents[agent] = AgentAck(snap.revision, running["spec_hash"])
                elif ack.spec_hash != running["spec_hash"]:
                    rs.agents[agent] = AgentAck(ack.revision, running["spec_hash"])
    for agent, snap in sorted(snapshots.items()):
        extra = sorted(name for name in snap.apps if name not in owned)
        if extra:
            result.unmanaged[agent] = extra
    result.snapshots = dict(snapshots)
    return result
