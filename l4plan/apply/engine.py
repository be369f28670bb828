"""Carry out a plan: one `Config.Apply` per agent, in parallel, then the new state.

Each agent receives all of its upserts and deletes in a single all-or-nothing
`Config.Apply`, so an agent is either wholly at the new configuration or wholly at
the old one. Agents are independent: one that is down, times out or refuses leaves
the others applied, and the new state records per resource and per agent exactly
what was acknowledged, so the next plan shows only what is still missing.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from l4plan.agents.errors import AgentError
from l4plan.agents.placement import (
    PLACED_TYPES,
    AgentOperations,
    agent_operations,
    desired_placements,
)
from l4plan.agents.refresh import AgentSnapshot, make_client
from l4plan.configs.model import UNKNOWN, Config
from l4plan.plans.model import Plan, ResourceChange
from l4plan.states.model import AgentAck, OutputState, ResourceState, State


@dataclass(slots=True)
class AgentResult:
    agent: str
    operations: AgentOperations
    revision: int | None = None
    error: AgentError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class ApplyOutcome:
    state: State
    results: dict[str, AgentResult] = field(default_factory=dict)

    @property
    def failures(self) -> list[AgentResult]:
        return [r for r in self.results.values() if not r.ok]


# Progress callbacks: (agent, "applying" | "done" | "failed", result or None)
ProgressCallback = Callable[[str, str, AgentResult | None], None]


def planned_operations(
    plan: Plan, config: Config, base: State | None, *, now: datetime | None = None
) -> dict[str, AgentOperations]:
    """What each agent must be sent to carry out `plan` from `base`."""
    planned = {c.address: c.after for c in plan.changes if c.type in PLACED_TYPES}
    placements = desired_placements(config, planned=planned, now=now)
    return agent_operations(placements, base, addresses={c.address for c in plan.changes})


def request_id(plan_id: str, agent: str, operations: AgentOperations) -> str:
    """Stable per plan, agent and content: a retried apply of one plan reuses it."""
    h = hashlib.sha256(f"{plan_id}\0{agent}".encode())
    for op in operations.upserts:
        h.update(f"\0u\0{op.name}\0{op.spec_hash}".encode())
    for op in operations.deletes:
        h.update(f"\0d\0{op.name}".encode())
    return h.hexdigest()[:32]


def send_operations(
    operations: dict[str, AgentOperations],
    config: Config,
    *,
    workdir: Path,
    snapshots: dict[str, AgentSnapshot],
    plan_id: str,
    parallelism: int = 10,
    timeout: float = 30.0,
    progress: ProgressCallback | None = None,
) -> dict[str, AgentResult]:
    """One `Config.Apply` per agent, at most `parallelism` at a time."""

    def run(ops: AgentOperations) -> AgentResult:
        result = AgentResult(ops.agent, ops)
        agent = config.agents.get(ops.agent)
        if progress:
            progress(ops.agent, "applying", None)
        try:
            if agent is None:
                raise AgentError(
                    "FAILED_PRECONDITION",
                    f'agent "{ops.agent}" is not declared in the configuration any more,'
                    " so its applications cannot be changed; declare it again to clean up,"
                    f" or drop them from state with `l4plan state rm`",
                )
            with make_client(agent, workdir=workdir, timeout=timeout) as client:
                snapshot = snapshots.get(ops.agent)
                expected = snapshot.revision if snapshot else client.info()["revision"]
                answer = client.apply(
                    expected_revision=expected,
                    upsert=[{"name": u.name, "spec": u.spec} for u in ops.upserts],
                    delete=[d.name for d in ops.deletes],
                    request_id=request_id(plan_id, ops.agent, ops),
                )
            result.revision = int(answer["revision"])
        except AgentError as e:
            result.error = e
        if progress:
            progress(ops.agent, "failed" if result.error else "done", result)
        return result

    if not operations:
        return {}
    workers = max(1, min(parallelism, len(operations)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(run, operations.values()))
    return {r.agent: r for r in results}


def next_state(
    plan: Plan,
    config: Config,
    base: State | None,
    results: dict[str, AgentResult],
) -> State:
    """The state after the apply: the plan's changes, as far as agents acknowledged them."""
    state = copy.deepcopy(base) if base is not None else State()
    for change in plan.changes:
        if change.type in PLACED_TYPES:
            _record_placed(state, change, results)
        elif change.after is None:
            state.resources.pop(change.address, None)
        else:
            state.resources[change.address] = _resource_state(change, {})
    state.outputs = {
        name: OutputState(_known(out.value), out.sensitive) for name, out in config.outputs.items()
    }
    return state


def _record_placed(
    state: State,
    change: ResourceChange,
    results: dict[str, AgentResult],
) -> None:
    old = state.resources.get(change.address)
    acks = dict(old.agents) if old is not None else {}
    settled = True
    for result in results.values():
        upserts = [u for u in result.operations.upserts if u.address == change.address]
        deletes = [d for d in result.operations.deletes if d.address == change.address]
        if not upserts and not deletes:
            continue
        if not result.ok or result.revision is None:
            settled = False
            continue
        if upserts:
            acks[result.agent] = AgentAck(result.revision, upserts[0].spec_hash)
        else:
            acks.pop(result.agent, None)
    if change.after is None:
        if acks and not settled:
            old_rs = copy.deepcopy(old) if old is not None else None
            if old_rs is not None:
                old_rs.agents = acks
                state.resources[change.address] = old_rs
        else:
            state.resources.pop(change.address, None)
        return
    if settled or old is None:
        rs = _resource_state(change, acks)
    else:
        rs = copy.deepcopy(old)  # some agent still runs the old spec: keep its attributes
        rs.agents = acks
    state.resources[change.address] = rs


def _resource_state(change: ResourceChange, acks: dict[str, AgentAck]) -> ResourceState:
    attrs = _known(change.after or {})
    attrs["revisions"] = {agent: ack.revision for agent, ack in sorted(acks.items())}
    return ResourceState(
        address=change.address,
        type=change.type,
        name=change.name,
        index_key=change.index_key,
        attributes=attrs,
        dependencies=list(change.dependencies),
        sensitive_attributes=sorted(".".join(map(str, p)) for p in change.after_sensitive),
        agents=dict(sorted(acks.items())),
    )


def _known(value: Any) -> Any:
    """Replace values still unknown after apply with null, recursively."""
    if value is UNKNOWN:
        return None
    if isinstance(value, dict):
        return {k: _known(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_known(v) for v in value]
    return value
