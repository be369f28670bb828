"""Application specs: canonical hash, checks beyond the schema, and listener keys.

A spec has already passed `app_spec.schema.json` when these functions see it. The
semantic checks mirror l4plan's constraints (L4E003/L4E005-L4E007, L4E014, L4E018) so
that a hand-written `Config.Apply` gets the same answers as a planned one.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterator
from typing import Any

from l4agent.protocols import strictjson
from l4agent.protocols.errors import Detail, detail
from l4agent.spec.mapping import mapping_problem
from l4agent.spec.names import is_hostname

Family = str  # "ipv4" | "ipv6"
ListenerKey = tuple[str, int, Family]  # (protocol, port, family)

SINGLE_TARGET_TYPES = ("ip", "domain", "object_storage")


def canonical_json(spec: Any) -> bytes:
    return strictjson.dumps(spec, sort_keys=True)


def spec_hash(spec: Any) -> str:
    """SHA-256 of the canonical JSON; l4plan computes the same to detect drift."""
    return hashlib.sha256(canonical_json(spec)).hexdigest()


def families(spec: dict[str, Any]) -> tuple[Family, ...]:
    return ("ipv4", "ipv6") if spec.get("ipv6", False) else ("ipv4",)


def listener_keys(spec: dict[str, Any]) -> Iterator[tuple[ListenerKey, int]]:
    """(listener key, rule index) for every socket the application needs."""
    fams = families(spec)
    for index, rule in enumerate(spec["rules"]):
        protocol = rule["protocol"]
        for lo, hi in rule["edge_ports"]:
            for port in range(lo, hi + 1):
                for family in fams:
                    yield (protocol, port, family), index


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def listener_count(spec: dict[str, Any]) -> int:
    """How many sockets the (valid) application needs, counted on ranges."""
    ports = sum(hi - lo + 1 for rule in spec["rules"] for lo, hi in rule["edge_ports"])
    return ports * len(families(spec))


def overlaps(ranges: list[tuple[str, int, int, Any]]) -> Iterator[tuple[Any, Any, str, int]]:
    """(earlier owner, later owner, protocol, first shared port) for every range of
    `ranges` (protocol, lo, hi, owner) that shares a port with a range before it in
    port order. Owners must not overlap themselves. A sweep over sorted ranges: the
    cost follows the number of ranges, not of ports."""
    widest: dict[str, tuple[int, Any]] = {}  # protocol -> (highest port so far, its owner)
    for protocol, lo, hi, owner in sorted(ranges, key=lambda r: (r[0], r[1], r[2])):
        top = widest.get(protocol)
        if top is not None and lo <= top[0]:
            yield top[1], owner, protocol, lo
        if top is None or hi > top[0]:
            widest[protocol] = (hi, owner)


def check_spec(spec: dict[str, Any], prefix: str) -> list[Detail]:
    """Problems the schema cannot express; `prefix` is the spec's field path."""
    problems: list[Detail] = []
    for i, rule in enumerate(spec["rules"]):
        problems += _check_rule(rule, f"{prefix}.rules[{i}]")
    ranges = [
        (rule["protocol"], lo, hi, i)
        for i, rule in enumerate(spec["rules"])
        for lo, hi in rule["edge_ports"]
        if lo <= hi
    ]
    reported: set[int] = set()
    for a, b, protocol, port in overlaps(ranges):
        other, i = min(a, b), max(a, b)
        if other == i or i in reported:
            continue  # a rule's own ranges are checked by _check_rule
        reported.add(i)
        problems.append(
            detail(
                f"{prefix}.rules[{i}].edge_ports",
                f"rules {other} and {i} both listen on {protocol} port {port}",
                protocol=protocol,
                port=port,
            )
        )
    for i, entry in enumerate(spec.get("acl") or []):
        for j, source in enumerate(entry["sources"]):
            try:
                ipaddress.ip_network(source, strict=False)
            except ValueError:
                problems.append(
                    detail(f"{prefix}.acl[{i}].sources[{j}]", f"{source!r} is not an IP or CIDR")
                )
    return problems


def _check_rule(rule: dict[str, Any], path: str) -> list[Detail]:
    problems: list[Detail] = []
    edge = rule["edge_ports"]
    ordered = True
    for j, (lo, hi) in enumerate(edge):
        if hi < lo:
            problems.append(detail(f"{path}.edge_ports[{j}]", f"range {lo}-{hi} is reversed"))
            ordered = False
        elif j and lo <= edge[j - 1][1]:
            problems.append(
                detail(
                    f"{path}.edge_ports[{j}]",
                    f"range {lo}-{hi} overlaps or precedes {edge[j - 1][0]}-{edge[j - 1][1]}; "
                    "edge ports must be sorted and not overlap",
                )
            )
            ordered = False
    origin_ports = rule.get("origin_ports")
    if origin_ports is not None and origin_ports[1] < origin_ports[0]:
        problems.append(
            detail(f"{path}.origin_ports", f"range {origin_ports[0]}-{origin_ports[1]} is reversed")
        )
    elif ordered and (problem := mapping_problem(edge, origin_ports)):
        problems.append(detail(f"{path}.origin_ports", problem))
    passthrough = rule.get("passthrough", "off")
    if (rule["protocol"], passthrough) in (("udp", "proxy_v1"), ("tcp", "spp")):
        message = f"{passthrough} cannot be used on a {rule['protocol']} rule"
        problems.append(detail(f"{path}.passthrough", message))
    origin = rule["origin"]
    if origin["type"] in SINGLE_TARGET_TYPES and len(origin["targets"]) != 1:
        problems.append(
            detail(f"{path}.origin.targets", f"a {origin['type']} origin has exactly one target")
        )
    for k, target in enumerate(origin["targets"]):
        host = target["host"]
        if origin["type"] == "ip" and not _is_ip(host):
            problems.append(
                detail(f"{path}.origin.targets[{k}].host", f"{host!r} is not an IP address")
            )
        elif not _is_ip(host) and not is_hostname(host):
            problems.append(
                detail(
                    f"{path}.origin.targets[{k}].host",
                    f"{host!r} is neither an IP address nor a valid hostname",
                )
            )
    return problems
