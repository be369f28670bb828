"""Per application and rule counters of the data plane.

The relay increments plain integer attributes on a `RuleStats` (cheap on the hot
path; why a TCP connection ended is one increment when it ends); `Status.Get` and the
Prometheus exposition (`l4agent.control.metrics`) read them.
With `--workers N` every worker process keeps its own `Stats`; the control process
sums their snapshots with `Stats.merged` before answering.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any

# Why each relayed TCP connection ended: exactly one `closes_<reason>` counter goes up
# per accepted connection, so their sum is connections_total - connections_active.
CLOSE_REASONS = (
    "client",  # the client ended first (its FIN)
    "origin",  # the origin ended first (its FIN)
    "client_reset",  # the client's side reset or failed
    "origin_reset",  # the origin's side reset or failed after it connected
    "idle_timeout",  # no byte either way for --idle-timeout
    "connect_failed",  # every origin target tried refused or was unreachable
    "connect_timeout",  # the last origin target tried did not answer within --connect-timeout
    "no_healthy_origin",  # no origin target was usable
    "acl_denied",  # refused by IP access control
    "drain_timeout",  # still open when its removed listener's drain (or shutdown) ended
    "error",  # the agent could not relay it (out of file descriptors for splice pipes)
)
CLOSE_FIELDS = {reason: f"closes_{reason}" for reason in CLOSE_REASONS}

# Monotonic counters (Prometheus counters).
COUNTERS = (
    "connections_total",  # TCP connections accepted (ACL-denied ones included)
    "bytes_in",  # bytes received from clients and relayed towards origins
    "bytes_out",  # bytes received from origins and relayed towards clients
    "datagrams_in",  # UDP datagrams from clients
    "datagrams_out",  # UDP datagrams from origins to clients
    "udp_flows_total",  # UDP flows created
    "udp_flow_evictions",  # UDP flows evicted because the flow table was full
    "udp_reply_drops",  # replies to clients dropped: the listener's send buffer was full
    "acl_denials",  # TCP connections closed / UDP datagrams dropped by the ACL
    "origin_connect_failures",  # failed connect attempts to an origin target
    "no_healthy_origin",  # clients closed because no origin target was usable
    *CLOSE_FIELDS.values(),
)
# Point-in-time values (Prometheus gauges).
GAUGES = ("listeners_bound", "connections_active", "udp_flows_active")


def format_ports(edge_ports: list[list[int]]) -> str:
    """[[80, 80], [443, 445]] -> '80,443-445' (how l4plan's configuration writes them)."""
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in edge_ports)


RuleIdentity = tuple[str, str]  # (protocol, edge ports as format_ports writes them)


@dataclass(slots=True)
class RuleStats:
    """Counters of one rule of one application, in one process. `protocol` and
    `edge_ports` are the rule's identity; `comment` is carried for the labels."""

    protocol: str
    edge_ports: str = ""
    comment: str = ""
    listeners_bound: int = 0
    connections_active: int = 0
    udp_flows_active: int = 0
    connections_total: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    datagrams_in: int = 0
    datagrams_out: int = 0
    udp_flows_total: int = 0
    udp_flow_evictions: int = 0
    udp_reply_drops: int = 0
    acl_denials: int = 0
    origin_connect_failures: int = 0
    no_healthy_origin: int = 0
    closes_client: int = 0
    closes_origin: int = 0
    closes_client_reset: int = 0
    closes_origin_reset: int = 0
    closes_idle_timeout: int = 0
    closes_connect_failed: int = 0
    closes_connect_timeout: int = 0
    closes_no_healthy_origin: int = 0
    closes_acl_denied: int = 0
    closes_drain_timeout: int = 0
    closes_error: int = 0

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def add(self, other: dict[str, Any]) -> None:
        for name in (*COUNTERS, *GAUGES):
            setattr(self, name, getattr(self, name) + int(other.get(name, 0)))


class Stats:
    """All `RuleStats` of one process, by application name, in rule order."""

    def __init__(self) -> None:
        self._apps: dict[str, list[RuleStats]] = {}

    def set_rules(self, app: str, rules: list[dict[str, Any]]) -> list[RuleStats]:
        """Make `app` have one `RuleStats` per rule, in order. A rule keeps its counters
        while its protocol and edge ports stay the same, wherever it moves in the list
        (its origin, passthrough or comment may change); a rule whose edge ports change
        starts new counters. Connections already open keep counting on the object they
        started with, so moving a rule never shifts its counters onto another."""
        old = {(rs.protocol, rs.edge_ports): rs for rs in self._apps.get(app, [])}
        new: list[RuleStats] = []
        for rule in rules:
            identity = (rule["protocol"], format_ports(rule["edge_ports"]))
            rs = old.pop(identity, None) or RuleStats(*identity)
            rs.comment = rule.get("comment") or ""
            new.append(rs)
        self._apps[app] = new
        return new

    def drop(self, app: str) -> None:
        self._apps.pop(app, None)

    def rule(self, app: str, index: int) -> RuleStats:
        return self._apps[app][index]

    def apps(self) -> list[str]:
        return sorted(self._apps)

    def rules(self, app: str) -> list[RuleStats]:
        return list(self._apps.get(app, []))

    def items(self) -> Iterator[tuple[str, int, RuleStats]]:
        """(application, rule index, stats) for every rule, sorted by application."""
        for app in sorted(self._apps):
            for i, rs in enumerate(self._apps[app]):
                yield app, i, rs

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """A JSON-serialisable copy (sent from worker processes to the control process)."""
        return {app: [rs.to_json() for rs in rules] for app, rules in self._apps.items()}

    @classmethod
    def merged(cls, snapshots: Iterable[dict[str, list[dict[str, Any]]]]) -> Stats:
        """The sum of several processes' snapshots."""
        total = cls()
        for snap in snapshots:
            for app, rules in snap.items():
                mine = total._apps.setdefault(app, [])
                for i, rule in enumerate(rules):
                    if i == len(mine):
                        mine.append(
                            RuleStats(
                                rule["protocol"],
                                rule.get("edge_ports", ""),
                                rule.get("comment", ""),
                            )
                        )
                    mine[i].add(rule)
        return total
