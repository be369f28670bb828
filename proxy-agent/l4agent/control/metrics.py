"""The Prometheus ``/metrics`` exposition of the data-plane counters.

Nothing is registered in prometheus-client's global default registry: each scrape
builds a private registry around a collector that reads the `Stats` objects (and,
when given, the origin pools' health) at that moment, so the hot path only bumps
plain integers and the agent never pays for metrics nobody scrapes.

Every rule series carries the labels ``app`` (the application name), ``rule`` (its
index in the spec), ``protocol``, ``edge_ports`` (as the configuration writes them,
``80,443-445``) and ``comment`` (empty when none), so an operator can tell rules apart
without counting; origin series add ``host`` and ``address``. A rule's series follow
it (its protocol and edge ports) when rules are reordered; ``rule`` changes then.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from l4agent import __version__
from l4agent.dataplane.stats import CLOSE_FIELDS, RuleStats, Stats

PREFIX = "l4agent"
RULE_LABELS = ("app", "rule", "protocol", "edge_ports", "comment")
ORIGIN_LABELS = (*RULE_LABELS, "host", "address")

# stats counter -> (metric name without _total, help, extra label or None)
_COUNTERS: dict[str, tuple[str, str, tuple[str, str] | None]] = {
    "connections_total": ("connections", "TCP connections accepted (ACL-denied included).", None),
    "bytes_in": ("bytes", "Bytes relayed.", ("direction", "client_to_origin")),
    "bytes_out": ("bytes", "Bytes relayed.", ("direction", "origin_to_client")),
    "datagrams_in": ("datagrams", "UDP datagrams relayed.", ("direction", "client_to_origin")),
    "datagrams_out": ("datagrams", "UDP datagrams relayed.", ("direction", "origin_to_client")),
    "udp_flows_total": ("udp_flows", "UDP flows created.", None),
    "udp_flow_evictions": (
        "udp_flow_evictions",
        "UDP flows evicted because the flow table was full.",
        None,
    ),
    "udp_reply_drops": (
        "udp_reply_drops",
        "UDP replies to clients dropped because the listener's send buffer was full.",
        None,
    ),
    "acl_denials": (
        "acl_denials",
        "TCP connections closed and UDP datagrams dropped by IP access control.",
        None,
    ),
    "origin_connect_failures": (
        "origin_connect_failures",
        "Failed connect attempts to origin targets.",
        None,
    ),
    "no_healthy_origin": (
        "no_healthy_origin",
        "Clients closed because no origin target was usable.",
        None,
    ),
    **{
        field: ("connection_closes", "TCP connections ended, by reason.", ("reason", reason))
        for reason, field in CLOSE_FIELDS.items()
    },
}
_GAUGES: dict[str, str] = {
    "listeners_bound": "Listening sockets bound for the rule.",
    "connections_active": "Open TCP connections.",
    "udp_flows_active": "UDP flows in the flow table.",
}

# Origin health per rule: (application, rule index) -> OriginPool.health() rows.
OriginHealth = Mapping[tuple[str, int], list[dict[str, Any]]]


class _StatsCollector(Collector):
    def __init__(self, stats: Stats, health: OriginHealth | None) -> None:
        self._stats = stats
        self._health = health or {}

    def collect(self) -> Iterator[Any]:
        info = InfoMetricFamily(f"{PREFIX}_build", "The agent's version.")
        info.add_metric([], {"version": __version__})
        yield info
        rules = list(self._stats.items())
        counters: dict[str, CounterMetricFamily] = {}
        for field, (name, help_text, extra) in _COUNTERS.items():
            family = counters.get(name)
            if family is None:
                labels = [*RULE_LABELS, extra[0]] if extra else list(RULE_LABELS)
                family = CounterMetricFamily(f"{PREFIX}_{name}", help_text, labels=labels)
                counters[name] = family
            for app, index, rs in rules:
                values = [*_rule_labels(app, index, rs), *([extra[1]] if extra else [])]
                family.add_metric(values, getattr(rs, field))
        yield from counters.values()
        for field, help_text in _GAUGES.items():
            gauge = GaugeMetricFamily(f"{PREFIX}_{field}", help_text, labels=list(RULE_LABELS))
            for app, index, rs in rules:
                gauge.add_metric(_rule_labels(app, index, rs), getattr(rs, field))
            yield gauge
        yield from self._origin_families(rules)

    def _origin_families(self, rules: list[tuple[str, int, Any]]) -> Iterator[Any]:
        healthy = GaugeMetricFamily(
            f"{PREFIX}_origin_healthy",
            "1 when the origin target takes new connections, 0 when marked down.",
            labels=list(ORIGIN_LABELS),
        )
        active = GaugeMetricFamily(
            f"{PREFIX}_origin_active_connections",
            "Open connections through the origin target.",
            labels=list(ORIGIN_LABELS),
        )
        failures = CounterMetricFamily(
            f"{PREFIX}_origin_failures",
            "Failed connects and failed health checks of the origin target.",
            labels=list(ORIGIN_LABELS),
        )
        for app, index, rs in rules:
            for row in self._health.get((app, index), []):
                labels = [*_rule_labels(app, index, rs), row["host"], row["address"] or ""]
                healthy.add_metric(labels, 1 if row["healthy"] else 0)
                active.add_metric(labels, row["active_connections"])
                failures.add_metric(labels, row["failures"])
        yield from (healthy, active, failures)


def _rule_labels(app: str, index: int, rs: RuleStats) -> list[str]:
    return [app, str(index), rs.protocol, rs.edge_ports, rs.comment]


def exposition(stats: Stats, *, health: OriginHealth | None = None) -> tuple[bytes, str]:
    """The Prometheus text-format body for `stats` and its Content-Type.

    All names are legacy-valid, so the body is text format 0.0.4, which every
    Prometheus version (2.x and 3.x) and other scrapers accept.

    `health` maps (application, rule index) to that rule's `OriginPool.health()`; the
    origin series are empty without it.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatsCollector(stats, health))
    return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4
