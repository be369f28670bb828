"""Rule constraints: rule count, port expressions, port mapping, passthrough, listeners.

L4E002 (rule count), L4E003 (edge port), L4E004 (rules of one application sharing a
port), L4E005 (origin port), L4E006 (mapping), L4E007 (passthrough vs protocol), and
L4E013 (applications sharing an (agent, protocol, port)). Port conflicts are found by
a sweep over sorted ranges, never by expanding ranges into sets of ports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from l4plan import codes
from l4plan.configs.model import ResourceInstance
from l4plan.configs.validation.context import Context, known, rule_label
from l4plan.ports import PortSet, PortSyntaxError, mapping_problem, parse_origin_ports, parse_ports

MAX_RULES = 30

# client_ip_passthrough value -> the protocol it cannot be used with, and why
_PASSTHROUGH_LIMITS = {
    "proxy_v1": ("udp", 'PROXY v1 is a text header on a TCP stream; use "proxy_v2" or "spp"'),
    "spp": ("tcp", 'Simple Proxy Protocol is for UDP; use "proxy_v1" or "proxy_v2"'),
}

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RulePorts:
    """A rule whose protocol and edge ports are known and well formed."""

    index: int
    protocol: str
    edge: PortSet


def first_shared_ports(
    intervals: Iterable[tuple[int, int, K, T]],
) -> list[tuple[tuple[K, T], tuple[K, T], int]]:
    """Pairs of owners whose inclusive ranges intersect, each with its first shared port.

    `intervals` are `(lo, hi, owner, tag)`; ranges of one owner may touch each other.
    Returns `((owner_a, tag_a), (owner_b, tag_b), port)` once per pair of owners, where
    `port` is the lowest port both hold and each tag is that of a range holding it.
    A sweep in order of `lo` keeping, per owner, the range reaching furthest.
    """
    active: dict[K, tuple[int, T]] = {}
    seen: set[frozenset[K]] = set()
    found: list[tuple[tuple[K, T], tuple[K, T], int]] = []
    for lo, hi, owner, tag in sorted(intervals, key=lambda i: (i[0], i[1])):
        for other, (other_hi, other_tag) in list(active.items()):
            if other_hi < lo:
                del active[other]
            elif other != owner:
                pair = frozenset((other, owner))
                if pair not in seen:
                    seen.add(pair)
                    found.append(((other, other_tag), (owner, tag), lo))
        current = active.get(owner)
        if current is None or hi > current[0]:
            active[owner] = (hi, tag)
    return found


def _parse_edge(ctx: Context, app: ResourceInstance, index: int, value: Any) -> PortSet | None:
    path = f"rule.{index}.edge_port"
    try:
        return parse_ports(value)
    except PortSyntaxError as e:
        ctx.report(
            codes.EDGE_PORT,
            f'{rule_label(index)}.edge_port "{value}" is malformed: {e.message}',
            app,
            pos=ctx.value_pos(app, path, str(value), e.column),
        )
        return None


def _parse_origin(ctx: Context, app: ResourceInstance, index: int, value: Any) -> PortSet | None:
    path = f"rule.{index}.origin_port"
    try:
        return parse_origin_ports(value)
    except PortSyntaxError as e:
        ctx.report(
            codes.ORIGIN_PORT,
            f'{rule_label(index)}.origin_port "{value}" is malformed: {e.message}',
            app,
            pos=ctx.value_pos(app, path, str(value), e.column),
        )
        return None


def check_rules(ctx: Context, app: ResourceInstance) -> list[RulePorts]:
    """L4E002, L4E003, L4E005, L4E006, L4E007 and L4E004 for one application.

    Returns the rules whose listeners are known, for the cross-application check.
    """
    rules: list[dict[str, Any]] = app.attrs.get("rule", [])
    if not rules:
        ctx.report(
            codes.RULE_COUNT,
            "the application has no rule; add at least one rule { protocol, edge_port,"
            " origin_type, origin } block",
            app,
        )
    elif len(rules) > MAX_RULES:
        ctx.report(
            codes.RULE_COUNT,
            f"the application has {len(rules)} rules; at most {MAX_RULES} are allowed:"
            " merge rules with port lists or ranges, or split the application",
            app,
            f"rule.{MAX_RULES}",
        )
    listening: list[RulePorts] = []
    for index, rule in ctx.rules(app):
        protocol = rule.get("protocol")
        edge = _parse_edge(ctx, app, index, rule["edge_port"]) if known(rule["edge_port"]) else None
        origin_value = rule.get("origin_port")
        origin = None
        if origin_value is not None and known(origin_value):
            origin = _parse_origin(ctx, app, index, origin_value)
        if edge is not None and origin is not None:
            problem = mapping_problem(edge, origin)
            if problem:
                ctx.report(
                    codes.PORT_MAPPING,
                    f"{rule_label(index)}: {problem}",
                    app,
                    f"rule.{index}.origin_port",
                )
        passthrough = rule.get("client_ip_passthrough", "off")
        limit = _PASSTHROUGH_LIMITS.get(passthrough) if known(passthrough) else None
        if limit is not None and protocol == limit[0]:
            ctx.report(
                codes.PASSTHROUGH,
                f'{rule_label(index)}: client_ip_passthrough = "{passthrough}" cannot be used'
                f" on a {limit[0].upper()} rule; {limit[1]}",
                app,
                f"rule.{index}.client_ip_passthrough",
            )
        if edge is not None and known(protocol):
            listening.append(RulePorts(index, protocol, edge))
    _check_shared_rule_ports(ctx, app, listening)
    return listening


def _check_shared_rule_ports(ctx: Context, app: ResourceInstance, rules: list[RulePorts]) -> None:
    """L4E004: two rules of one application on the same (protocol, edge port)."""
    by_protocol: dict[str, list[tuple[int, int, int, None]]] = defaultdict(list)
    for rule in rules:
        for lo, hi in rule.edge.ranges:
            by_protocol[rule.protocol].append((lo, hi, rule.index, None))
    for protocol, intervals in sorted(by_protocol.items()):
        for (a, _), (b, _), port in first_shared_ports(intervals):
            first, second = sorted((a, b))
            ctx.report(
                codes.SHARED_RULE_PORT,
                f"{rule_label(first)} and {rule_label(second)} both listen on {protocol}"
                f" port {port}; each (protocol, edge port) may appear in one rule only:"
                f" remove the shared ports from {rule_label(second)}",
                app,
                f"rule.{second}.edge_port",
            )


def check_listener_conflicts(
    ctx: Context, placed: list[tuple[ResourceInstance, list[str], list[RulePorts]]]
) -> None:
    """L4E013: two applications listening on the same (agent, protocol, port).

    `placed` holds each application with its agents and listening rules, in
    configuration order; the later application of a conflicting pair is reported.
    """
    order = {app.address: i for i, (app, _, _) in enumerate(placed)}
    apps = {app.address: app for app, _, _ in placed}
    groups: dict[tuple[str, str], list[tuple[int, int, str, int]]] = defaultdict(list)
    for app, agents, rules in placed:
        for agent in agents:
            for rule in rules:
                for lo, hi in rule.edge.ranges:
                    groups[(agent, rule.protocol)].append((lo, hi, app.address, rule.index))
    for (agent, protocol), intervals in sorted(groups.items()):
        for a, b, port in first_shared_ports(intervals):
            (first, first_rule), (second, second_rule) = sorted((a, b), key=lambda x: order[x[0]])
            other = apps[first]
            ctx.report(
                codes.LISTENER_CONFLICT,
                f'{rule_label(second_rule)} listens on agent "{agent}" {protocol} port {port},'
                f" which {first} ({other.attrs.get('id')}) {rule_label(first_rule)} already"
                " uses; choose another edge port or place the applications on different agents",
                apps[second],
                f"rule.{second_rule}.edge_port",
            )
