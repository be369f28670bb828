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
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from l4plan.apply.engine import AgentResult
from l4plan.dns.errors import DEFAULT_TIMEOUT, DnsError
from l4plan.dns.records import DnsOperation, split_key
from l4plan.states.model import DnsAck, State

if TYPE_CHECKING:
    from l4plan.dns.client import DnsClient


@dataclass(slots=True)
class DnsResult:
    operation: DnsOperation
    error: DnsError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


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
    cancel: threading.Event | None = None,
) -> list[DnsResult]:
    """The updates one after the other (they are few and small), each on its own.
    After a server did not answer or refused the key, its other updates are not
    sent (each would fail the same way, after as long a wait); after Ctrl-C
    (`cancel`) none is. Both count as failed, so the state keeps what it recorded."""
    clients: dict[str, DnsClient] = {}
    down: dict[str, DnsError] = {}  # server -> why nothing more is sent to it
    results = []
    for op in operations:
        result = DnsResult(op)
        results.append(result)
        if op.settings is None:  # forgotten: nothing to send
            continue
        if cancel is not None and cancel.is_set():
            result.error = DnsError("cancelled", "not sent: the apply was interrupted")
            continue
        if op.server in down:
            result.error = down[op.server]
            continue
        if op.server not in clients:
            from l4plan.dns.client import DnsClient  # dnspython: only when a zone is written

            clients[op.server] = DnsClient(op.settings, timeout=timeout)
        try:
            clients[op.server].write(*split_key(op.key), op.expected, op.desired)
        except DnsError as e:
            result.error = e
            if e.kind in ("unreachable", "key"):
                down[op.server] = e
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
