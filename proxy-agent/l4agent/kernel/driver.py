"""The kernel forwarder: the agent's nftables table, its statistics and its drains.

It follows the data plane's two-step apply (l4agent/dataplane/plane.py):

1. `prepare(apps, …)` compiles the whole table and asks the kernel to check the
   batch (``nft -c -j -f``). Nothing changes; a refusal raises `NftError` with
   nft's message, so the apply can fail before anything is bound or written.
2. `commit(prepared)` runs the batch: one atomic replacement of the table. Flows
   already open keep their conntrack NAT binding, so they go on untouched; rules
   that disappeared start draining.
3. `abort(prepared)`: nothing to undo, since `prepare` changed nothing.

The kernel, not this process, holds the data plane: if the agent dies the table
stays and keeps forwarding. On start `reconcile` rebuilds the table from the
persisted configuration (the same batch as any apply), which also removes whatever
an older agent left behind; open flows survive it like any other reconfiguration.

Counters are reset by each rebuild (the table is recreated), so each commit reads
them just before and carries the totals forward per rule: the figures reported are
monotonic for as long as a rule exists.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from l4agent.kernel.compiler import (
    Compiled,
    CompiledRule,
    Health,
    RuleKey,
    compile_table,
)
from l4agent.kernel.conntrack import Conntrack, Entry, RulePorts, for_ports
from l4agent.kernel.nft import Runner, capability, forwarding

log = logging.getLogger("l4agent.kernel")

Endpoint = tuple[str, int]  # (protocol, edge port)


@dataclass(slots=True)
class Prepared:
    compiled: Compiled


@dataclass(slots=True)
class Drain:
    deadline: float  # monotonic
    protocol: str
    ports: list[tuple[int, int]]


@dataclass(slots=True)
class RuleTotals:
    """Counter values carried over from earlier versions of the table."""

    values: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind → (packets, bytes)


class KernelForwarder:
    """One agent's table. Blocking calls (nft runs in ~10 ms): call them from a thread
    in an event loop (``asyncio.to_thread``)."""

    def __init__(
        self,
        table: str,
        runner: Runner | None = None,
        *,
        drain_timeout: float = 30.0,
        bind: Mapping[str, str | None] | None = None,
    ) -> None:
        self.table = table
        self.runner = runner or Runner()
        self.drain_timeout = drain_timeout
        self.bind = bind
        self.conntrack = Conntrack(self.runner)
        self.compiled: Compiled | None = None
        self.drains: list[Drain] = []
        self._totals: dict[tuple[str, int, str], RuleTotals] = {}

    # ---- capability --------------------------------------------------------------

    def unavailable(self) -> str | None:
        """None when this process can drive the table, else the reason (one line)."""
        return capability(self.runner)

    def forwarding(self) -> dict[str, bool]:
        return forwarding(self.runner)

    def forwarding_problems(self) -> list[str]:
        """One line per missing sysctl, for the agent to log at start."""
        state = self.forwarding()
        problems = []
        if not state["ipv4"]:
            problems.append(
                "net.ipv4.ip_forward is 0: IPv4 flows from other hosts to origins on other "
                "hosts will not be forwarded (origins on this host and local clients work)"
            )
        if not state["ipv6"]:
            problems.append("net.ipv6.conf.all.forwarding is 0: the same for IPv6 flows")
        return problems

    # ---- apply -------------------------------------------------------------------

    def prepare(
        self,
        apps: Sequence[tuple[str, dict[str, Any]]],
        resolved: Mapping[str, Sequence[str]] | None = None,
        health: Health | Mapping[tuple[str, int, str], bool] | None = None,
        only: Collection[RuleKey] | None = None,
    ) -> Prepared:
        compiled = compile_table(self.table, apps, resolved, health, bind=self.bind, only=only)
        self.runner.nft_json(compiled.transaction, check_only=True)
        return Prepared(compiled)

    def commit(self, prepared: Prepared, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        before = self.runner.counters(self.table) if self.compiled is not None else {}
        self.runner.nft_json(prepared.compiled.transaction)
        self._carry_counters(before)
        old, self.compiled = self.compiled, prepared.compiled
        self._start_drains(old, prepared.compiled, now)
        keys = {(r.app, r.index, r.protocol) for r in prepared.compiled.rules.values()}
        self._totals = {k: v for k, v in self._totals.items() if k in keys}

    def abort(self, prepared: Prepared) -> None:
        """Nothing to undo: `prepare` only checked."""

    def apply(
        self,
        apps: Sequence[tuple[str, dict[str, Any]]],
        resolved: Mapping[str, Sequence[str]] | None = None,
        health: Health | Mapping[tuple[str, int, str], bool] | None = None,
    ) -> Compiled:
        prepared = self.prepare(apps, resolved, health)
        self.commit(prepared)
        return prepared.compiled

    def reconcile(
        self,
        apps: Sequence[tuple[str, dict[str, Any]]],
        resolved: Mapping[str, Sequence[str]] | None = None,
        health: Health | Mapping[tuple[str, int, str], bool] | None = None,
    ) -> Compiled:
        """At start: make the table match the persisted configuration. Whatever a
        previous agent left is replaced in the same atomic batch; flows it was
        forwarding keep going."""
        existed = self.runner.table_exists(self.table)
        compiled = self.apply(apps, resolved, health)
        log.info(
            "kernel path: %s table inet %s with %d rule(s)",
            "reconciled" if existed else "created",
            self.table,
            len(compiled.rules),
        )
        return compiled

    def remove(self) -> bool:
        """Delete the table (every kernel-path flow stops with it); True if it existed."""
        self.compiled = None
        self.drains.clear()
        self._totals.clear()
        return self.runner.delete_table(self.table)

    # ---- drains ------------------------------------------------------------------

    def _start_drains(self, old: Compiled | None, new: Compiled, now: float) -> None:
        live = _endpoints(new.rules.values())
        self.drains = [
            Drain(d.deadline, d.protocol, ports)
            for d in self.drains
            if (ports := _minus(d.protocol, d.ports, live))
        ]
        for rule in old.rules.values() if old else ():
            ports = _minus(rule.protocol, rule.edge_ports, live)
            if ports:
                self.drains.append(Drain(now + self.drain_timeout, rule.protocol, ports))

    def expire_drains(self, now: float | None = None) -> int:
        """Delete the conntrack entries of drains whose timeout passed; the number of
        flows ended. Call it at `next_drain_deadline()` (or now and then)."""
        now = time.monotonic() if now is None else now
        due = [d for d in self.drains if d.deadline <= now]
        if not due:
            return 0
        self.drains = [d for d in self.drains if d.deadline > now]
        entries = self.conntrack.open_entries()  # ended ones carry nothing
        doomed: list[Entry] = []
        for drain in due:
            doomed += for_ports(entries, drain.protocol, drain.ports)
        if doomed:
            log.info("drain timeout: ending %d kernel-path flow(s) of removed rules", len(doomed))
        return self.conntrack.delete(doomed)

    def next_drain_deadline(self) -> float | None:
        return min((d.deadline for d in self.drains), default=None)

    def draining(self) -> tuple[int, int]:
        """(drains, flows still open in them)."""
        if not self.drains:
            return 0, 0
        entries = self.conntrack.open_entries()
        flows = sum(len(for_ports(entries, d.protocol, d.ports)) for d in self.drains)
        return len(self.drains), flows

    # ---- statistics --------------------------------------------------------------

    def _carry_counters(self, values: Mapping[str, tuple[int, int]]) -> None:
        """Add the counters the replaced table had reached to the rules' totals."""
        if self.compiled is None:
            return
        for rule in self.compiled.rules.values():
            totals = self._totals.setdefault((rule.app, rule.index, rule.protocol), RuleTotals())
            for kind, pair in _rule_counters(rule, values).items():
                base = totals.values.get(kind, (0, 0))
                totals.values[kind] = (base[0] + pair[0], base[1] + pair[1])

    def stats(self) -> dict[RuleKey, dict[str, int]]:
        """Per kernel-path rule: bytes and packets both ways, flows (active: open
        conntrack entries; total: flows translated), ACL denials, no-healthy refusals."""
        if self.compiled is None:
            return {}
        values = self.runner.counters(self.table)
        ports = RulePorts((key, r.protocol, r.edge_ports) for key, r in self.compiled.rules.items())
        active = ports.count(self.conntrack.open_entries())
        out: dict[RuleKey, dict[str, int]] = {}
        for key, rule in self.compiled.rules.items():
            now = _rule_counters(rule, values)
            base = self._totals.get((rule.app, rule.index, rule.protocol), RuleTotals()).values
            total = {k: (now[k][0] + base.get(k, (0, 0))[0], now[k][1] + base.get(k, (0, 0))[1])
                     for k in now}  # fmt: skip
            out[key] = {
                "bytes_in": total["in"][1],
                "bytes_out": total["out"][1],
                "packets_in": total["in"][0],
                "packets_out": total["out"][0],
                "flows_active": active[key],
                "flows_total": total["flows"][0],
                "acl_denials": total["deny"][0],
                "no_healthy_origin": total["nohealthy"][0],
            }
        return out

    def path_of(self, app: str, index: int) -> str:
        """``kernel`` or ``relay``: where new flows of this rule go now."""
        if self.compiled is not None and (app, index) in self.compiled.rules:
            return "kernel"
        return "relay"


def _rule_counters(
    rule: CompiledRule, values: Mapping[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    kinds = ("flows", "in", "out", "deny", "nohealthy")
    return {kind: values.get(rule.counter(kind), (0, 0)) for kind in kinds}


def _endpoints(rules: Sequence[CompiledRule] | Any) -> set[Endpoint]:
    return {(r.protocol, p) for r in rules for lo, hi in r.edge_ports for p in range(lo, hi + 1)}


def _minus(
    protocol: str, ports: Sequence[tuple[int, int]], live: set[Endpoint]
) -> list[tuple[int, int]]:
    """`ports` without the ones a current rule owns again, as ranges."""
    out: list[tuple[int, int]] = []
    for lo, hi in ports:
        start = None
        for p in range(lo, hi + 2):
            free = p <= hi and (protocol, p) not in live
            if free and start is None:
                start = p
            elif not free and start is not None:
                out.append((start, p - 1))
                start = None
    return out


def as_rule_counters(stats: Mapping[str, int], protocol: str) -> dict[str, int]:
    """A kernel rule's `stats()` under the relay's counter names (l4agent/dataplane/stats.py),
    so Status.Get and /metrics read the same fields on both paths. As on the relay,
    TCP ``connections_total`` includes the flows the ACL or a missing healthy origin
    refused. Bytes are IP bytes (headers included), packets may be GRO super-packets."""
    out = {
        "bytes_in": stats["bytes_in"],
        "bytes_out": stats["bytes_out"],
        "acl_denials": stats["acl_denials"],
        "no_healthy_origin": stats["no_healthy_origin"],
    }
    if protocol == "tcp":
        out["connections_active"] = stats["flows_active"]
        out["connections_total"] = (
            stats["flows_total"] + stats["acl_denials"] + stats["no_healthy_origin"]
        )
    else:
        out["udp_flows_active"] = stats["flows_active"]
        out["udp_flows_total"] = stats["flows_total"]
        out["datagrams_in"] = stats["packets_in"]
        out["datagrams_out"] = stats["packets_out"]
    return out
