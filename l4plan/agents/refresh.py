"""Refresh: read what every agent really runs and fold it into a refreshed state.

Terraform's model: the refreshed state is the recorded state corrected by reality.
Per application and agent it keeps an acknowledgement only where the agent still
runs the application, with the spec hash the agent reports, so the plan sees
"edited on the agent" (hash differs), "lost after an agent rebuild" (missing) and
"running where it should not" (an agent that the state did not record). Names an
agent runs that no resource in state owns are reported as unmanaged, and listeners
an agent could not bind as unbound; neither changes the refreshed state.
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
from l4plan.agents.spec import canonical_hash
from l4plan.configs.model import AgentConfig
from l4plan.dns.refresh import DnsRefresh
from l4plan.states.model import AgentAck, State

DEFAULT_TIMEOUT = 10.0


@dataclass(slots=True)
class RunningApp:
    """One application as an agent's `Apps.List` reports it.

    `spec_hash` is the agent's hash of the spec as it was sent; `canonical_hash`,
    that of its canonical form (`spec.canonical_spec`), is what l4plan compares with
    the configuration and records: the same for two specs that mean the same.
    """

    spec: dict[str, Any]
    spec_hash: str
    bind_errors: list[dict[str, Any]] = field(default_factory=list)
    canonical_hash: str = ""

    def __post_init__(self) -> None:
        if not self.canonical_hash:
            self.canonical_hash = canonical_hash(self.spec)


@dataclass(slots=True)
class AgentSnapshot:
    """One agent's `Apps.List` answer."""

    agent: str
    revision: int
    apps: dict[str, RunningApp]  # by application name


@dataclass(frozen=True, slots=True)
class AppDrift:
    """One application on one agent that differs from the recorded state."""

    name: str
    address: str | None  # the resource in state that owns the name; None: unmanaged
    recorded_hash: str | None  # what the state says the agent acknowledged
    running_hash: str | None  # the canonical hash of what the agent runs; None: missing


@dataclass(slots=True)
class AgentDrift:
    """What one agent runs differently from the recorded state."""

    changed: list[AppDrift] = field(default_factory=list)  # acknowledged, spec edited since
    missing: list[AppDrift] = field(default_factory=list)  # acknowledged, not running
    appeared: list[AppDrift] = field(default_factory=list)  # owned, running, never acknowledged
    unmanaged: list[AppDrift] = field(default_factory=list)  # running, owned by no resource
    unbound: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> bind errors

    def __bool__(self) -> bool:
        return bool(self.changed or self.missing or self.appeared or self.unmanaged or self.unbound)


@dataclass(slots=True)
class RefreshResult:
    state: State | None
    snapshots: dict[str, AgentSnapshot] = field(default_factory=dict)
    errors: dict[str, AgentError] = field(default_factory=dict)
    drift: dict[str, AgentDrift] = field(default_factory=dict)  # only agents that drifted
    dns: DnsRefresh = field(default_factory=DnsRefresh)  # the published records (l4plan.dns)

    @property
    def unmanaged(self) -> dict[str, list[str]]:
        """Per agent, the names it runs that no resource in state owns."""
        return {
            agent: [app.name for app in found.unmanaged]
            for agent, found in self.drift.items()
            if found.unmanaged
        }


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
            apps = {
                a["name"]: RunningApp(a["spec"], a["spec_hash"], list(a.get("bind_errors") or []))
                for a in answer["apps"]
            }
            return AgentSnapshot(agent.name, int(answer["revision"]), apps)
        except AgentError as e:
            return e
        except (KeyError, TypeError, ValueError) as e:
            return AgentError(
                "INTERNAL",
                f"malformed Apps.List answer ({type(e).__name__}: {e})",
                endpoint=agent.endpoint,
            )

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
    state recorded: nothing is concluded from silence. A resource's `revisions`
    attribute follows its acknowledgements, so drift shows which agent moved.
    """
    result = RefreshResult(state=copy.deepcopy(prior), snapshots=dict(snapshots))
    drift = {agent: AgentDrift() for agent in snapshots}
    owned: set[str] = set()
    if result.state is not None:
        for rs in result.state.resources.values():
            if rs.type not in PLACED_TYPES:
                continue
            name = str(rs.attributes.get("id"))
            owned.add(name)
            moved = False
            for agent, snap in sorted(snapshots.items()):
                running = snap.apps.get(name)
                ack = rs.agents.get(agent)
                found = AppDrift(
                    name,
                    rs.address,
                    ack.spec_hash if ack else None,
                    running.canonical_hash if running else None,
                )
                if running is None and ack is not None:
                    rs.agents.pop(agent)
                    drift[agent].missing.append(found)
                elif running is not None and ack is None:
                    rs.agents[agent] = AgentAck(snap.revision, running.canonical_hash)
                    drift[agent].appeared.append(found)
                elif (
                    running is not None
                    and ack is not None
                    and ack.spec_hash != running.canonical_hash
                ):
                    rs.agents[agent] = AgentAck(snap.revision, running.canonical_hash)
                    drift[agent].changed.append(found)
                else:
                    continue
                moved = True
            if moved:
                rs.attributes["revisions"] = {
                    a: ack.revision for a, ack in sorted(rs.agents.items())
                }
    for agent, snap in sorted(snapshots.items()):
        for name, running in sorted(snap.apps.items()):
            if name not in owned:
                drift[agent].unmanaged.append(AppDrift(name, None, None, running.canonical_hash))
            if running.bind_errors:
                drift[agent].unbound[name] = running.bind_errors
    result.drift = {agent: found for agent, found in sorted(drift.items()) if found}
    return result
