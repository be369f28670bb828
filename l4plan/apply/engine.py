"""Carry out a plan: one `Config.Apply` per agent, in parallel (`record` then turns
the agents' answers into the new state).

Each agent receives all of its upserts and deletes in a single all-or-nothing
`Config.Apply`, so an agent is either wholly at the new configuration or wholly at
the old one; the plan's dependency order (creations after what they depend on,
deletions in reverse) is the order of the operations inside that one call. Agents
are independent: one that is down, times out or refuses leaves the others applied,
and the new state records per resource and per agent exactly what was acknowledged,
so the next plan shows only what is still missing.

A call that times out may still have been committed by the agent (the agent
finishes an apply it has persisted even when the caller is gone). It is repeated
with the same `request_id`: the agent answers a repeated id with the first result,
so the retry learns the outcome instead of applying twice.
"""

from __future__ import annotations

import hashlib
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from l4plan.agents.errors import AgentError
from l4plan.agents.placement import (
    PLACED_TYPES,
    AgentOperations,
    Delete,
    Upsert,
    agent_operations,
    desired_placements,
)
from l4plan.agents.refresh import AgentSnapshot, make_client
from l4plan.configs.model import Config
from l4plan.plans.model import Plan
from l4plan.states.model import State

if TYPE_CHECKING:
    from l4plan.apply.dns import DnsResult

# A timeout leaves the outcome unknown: ask again with the same request_id.
AMBIGUOUS_STATUSES = frozenset({"DEADLINE_EXCEEDED"})


@dataclass(slots=True)
class AgentResult:
    agent: str
    operations: AgentOperations
    revision: int | None = None
    error: AgentError | None = None
    request_id: str = ""
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class ApplyOutcome:
    state: State
    results: dict[str, AgentResult] = field(default_factory=dict)
    interrupted: bool = False
    dns: list[DnsResult] = field(default_factory=list)  # the record updates, in order

    @property
    def failures(self) -> list[AgentResult]:
        return [r for r in self.results.values() if not r.ok]

    @property
    def dns_failures(self) -> list[DnsResult]:
        return [r for r in self.dns if not r.ok]


# Progress callbacks: (agent, "applying" | "retrying" | "done" | "failed", result or None)
ProgressCallback = Callable[[str, str, AgentResult | None], None]


def planned_operations(
    plan: Plan, config: Config, base: State | None, *, now: datetime | None = None
) -> dict[str, AgentOperations]:
    """What each agent must be sent to carry out `plan` from `base`, in plan order."""
    planned = {c.address: c.after for c in plan.changes if c.type in PLACED_TYPES}
    placements = desired_placements(config, planned=planned, now=now)
    operations = agent_operations(placements, base, addresses={c.address for c in plan.changes})
    rank = {c.address: i for i, c in enumerate(plan.changes)}

    def order(op: Upsert | Delete) -> tuple[int, str]:
        return rank.get(op.address, len(rank)), op.name

    for ops in operations.values():
        ops.upserts.sort(key=order)
        ops.deletes.sort(key=order)
    return operations


def request_id(plan_id: str, agent: str, operations: AgentOperations) -> str:
    """Stable per plan, agent and content: a retried apply of one plan reuses it."""
    h = hashlib.sha256(f"{plan_id}\0{agent}".encode())
    for op in operations.upserts:
        h.update(f"\0u\0{op.name}\0{op.spec_hash}".encode())
    for op in operations.deletes:
        h.update(f"\0d\0{op.name}".encode())
    return h.hexdigest()[:32]


def wire_deletes(ops: AgentOperations) -> list[str]:
    """The names to delete in the call: not those upserted in it too. A resource
    renamed without `state mv` is a delete of one address and a creation of another
    with the same application name; on the agent that is one upsert (the agent
    refuses a name both upserted and deleted)."""
    upserted = {u.name for u in ops.upserts}
    return list(dict.fromkeys(d.name for d in ops.deletes if d.name not in upserted))


def send_operations(
    operations: dict[str, AgentOperations],
    config: Config,
    *,
    workdir: Path,
    snapshots: dict[str, AgentSnapshot],
    plan_id: str,
    parallelism: int = 10,
    timeout: float = 30.0,
    retries: int = 1,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, AgentResult]:
    """One `Config.Apply` per agent, at most `parallelism` at a time.

    `expected_revision` is the revision the refresh saw (`snapshots`), or asked with
    `Agent.Info` when there was no refresh. A call that times out is repeated up to
    `retries` times with the same request_id (see the module docstring). Once
    `cancel` is set, agents not called yet are not called (error CANCELLED); calls
    under way finish, so their outcome reaches the state: a worker that looked at
    `cancel` before it was set is one of "the agents being called" that the
    acknowledgement of the interrupt speaks of.
    """

    def run(ops: AgentOperations) -> AgentResult:
        result = AgentResult(ops.agent, ops, request_id=request_id(plan_id, ops.agent, ops))
        agent = config.agents.get(ops.agent)
        if cancel is not None and cancel.is_set():
            result.error = AgentError("CANCELLED", "not sent: the apply was interrupted")
            if progress:
                progress(ops.agent, "failed", result)
            return result
        if progress:
            progress(ops.agent, "applying", None)
        try:
            if agent is None:
                raise AgentError(
                    "FAILED_PRECONDITION",
                    f'agent "{ops.agent}" is not declared in the configuration any more,'
                    " so its applications cannot be changed; declare it again to clean up,"
                    " or drop them from state with `l4plan state rm`",
                )
            with make_client(agent, workdir=workdir, timeout=timeout) as client:
                snapshot = snapshots.get(ops.agent)
                expected = snapshot.revision if snapshot else int(client.info()["revision"])
                while True:
                    result.attempts += 1
                    try:
                        answer = client.apply(
                            expected_revision=expected,
                            upsert=[{"name": u.name, "spec": u.spec} for u in ops.upserts],
                            delete=wire_deletes(ops),
                            request_id=result.request_id,
                        )
                        break
                    except AgentError as e:
                        if e.status not in AMBIGUOUS_STATUSES or result.attempts > retries:
                            raise
                        if progress:
                            progress(ops.agent, "retrying", result)
            result.revision = int(answer["revision"])
        except AgentError as e:
            result.error = e
        if progress:
            progress(ops.agent, "failed" if result.error else "done", result)
        return result

    if not operations:
        return {}
    workers = max(1, min(parallelism, len(operations)))
    with ThreadPoolExecutor(max_workers=workers, initializer=_block_interrupts) as pool:
        return dict(zip(operations, pool.map(run, operations.values()), strict=True))


def _block_interrupts() -> None:
    """Worker threads never take SIGINT: the kernel delivers it to the main thread,
    the one that runs Python's handler, which then acknowledges it at once."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
