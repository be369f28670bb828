"""Carry out a plan's DNS side: one RFC 2136 update per record set, after the agents,
and the acknowledgements that the next state records (docs/dns.md).

Record sets are independent, like agents: each update is its own signed message
whose prerequisite is what the state (refreshed) says the server holds, so a change
made meanwhile is refused rather than overwritten, and one record set's failure
leaves the others applied. The state records per record set what the server
accepted; a failed one keeps what was recorded, so the next apply retries it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from l4plan.apply.engine import AgentResult
from l4plan.dns.client import DEFAULT_TIMEOUT, DnsClient, DnsError
from l4plan.dns.records import DnsOperation, split_key
from l4plan.states.model import DnsAck, State


@dataclass(slots=True)
class DnsResult:
    operation: DnsOperation
    error: DnsError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# Progress callbacks: (operation, "done" | "failed", result)
DnsProgress = Callable[[DnsOperation, DnsResult], None]


def sendable(
    operations: list[DnsOperation], state: State, agent_results: dict[str, AgentResult]
) -> list[DnsOperation]:
    """The updates to send once the agents answered: not those of an application an
    agent failed to change (its records would point where it does not run yet, or no
    longer), nor records of a creation the state does not record. The next apply
    sends them."""
    failed = {
        op.address
        for result in agent_results.values()
        if not result.ok
        for op in (*result.operations.upserts, *result.operations.deletes)
    }
    return [
        op
        for op in operations
        if op.address not in failed and (op.desired is None or op.address in state.resources)
    ]


def send_dns(
    operations: list[DnsOperation],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: DnsProgress | None = None,
) -> list[DnsResult]:
    """The updates one after the other (they are few and small), each on its own."""
    clients: dict[str, DnsClient] = {}
    results = []
    for op in operations:
        result = DnsResult(op)
        if op.settings is not None:  # None: forgotten, nothing to send
            client = clients.setdefault(op.server, DnsClient(op.settings, timeout=timeout))
            try:
                client.write(*split_key(op.key), op.expected, op.desired)
            except DnsError as e:
                result.error = e
        if progress:
            progress(op, result)
        results.append(result)
    return results


def record_dns(state: State, base: State | None, results: list[DnsResult]) -> None:
    """Fold the server's answers into `state` (the agents' next state). A deleted
    application whose records could not be removed stays in state with them, so the
    next plan removes them again."""
    for address in {r.operation.address for r in results if not r.ok}:
        if address not in state.resources and base is not None and address in base.resources:
            kept = copy.deepcopy(base.resources[address])
            kept.agents = {}
            kept.attributes["revisions"] = {}
            state.resources[address] = kept
    for result in results:
        op = result.operation
        rs = state.resources.get(op.address)
        if rs is None or not result.ok:
            continue
        if op.desired is None:
            if op.key in rs.dns and rs.dns[op.key].server == op.server:
                del rs.dns[op.key]
        else:
            rs.dns[op.key] = DnsAck(op.server, op.desired.ttl, list(op.desired.values))
