"""WAF IP access control: the site's `l4_ip_access_rule`s applied to client addresses.

The spec's ``acl`` is the rules in priority order::

    [{"action": "allow", "sources": ["192.0.2.0/24"]},
     {"action": "block", "sources": ["0.0.0.0/0", "::/0"]}]

The first rule with a source containing the client address decides; no match allows.
An IPv4-mapped IPv6 client (``::ffff:192.0.2.1``) is judged as the IPv4 address.

Rules are compiled once into, per address family, a sorted list of disjoint address
intervals each carrying its decision, so a lookup is one binary search whatever the
number of rules and sources, and random source addresses (a flood) cost no more than
repeated ones.
"""

from __future__ import annotations

import bisect
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

ACTIONS = ("allow", "block")


class AclSpecError(ValueError):
    """An ``acl`` spec that cannot be compiled; the message names the rule and source."""


@dataclass(frozen=True, slots=True)
class _Table:
    """Disjoint intervals: ``starts[i]`` up to ``starts[i+1]`` have decision ``allow[i]``."""

    starts: list[int]
    allow: list[bool]

    def allows(self, address: int) -> bool:
        return self.allow[bisect.bisect_right(self.starts, address) - 1]


def _compile(networks: list[tuple[int, int, bool]], bits: int) -> _Table:
    """First match wins over (first, last, allow) ranges given in priority order."""
    bounds = sorted({0, *(lo for lo, _, _ in networks), *(hi + 1 for _, hi, _ in networks)})
    if bounds[-1] > (1 << bits) - 1:
        bounds.pop()  # the end of the address space is not a segment start
    decision: list[bool | None] = [None] * len(bounds)
    # next_free[i]: the first segment at or after i without a decision (path-compressed)
    next_free = list(range(len(bounds) + 1))

    def find(i: int) -> int:
        root = i
        while next_free[root] != root:
            root = next_free[root]
        while next_free[i] != root:
            next_free[i], i = root, next_free[i]
        return root

    for lo, hi, allow in networks:
        first = bisect.bisect_left(bounds, lo)
        end = bisect.bisect_right(bounds, hi)  # segments first..end-1 lie in [lo, hi]
        i = find(first)
        while i < end:
            decision[i] = allow
            next_free[i] = i + 1
            i = find(i + 1)
    starts: list[int] = []
    allows: list[bool] = []
    for start, d in zip(bounds, decision, strict=True):
        value = True if d is None else d  # default allow
        if not allows or allows[-1] != value:
            starts.append(start)
            allows.append(value)
    return _Table(starts, allows)


class Acl:
    """A compiled ACL. `allows(ip)` is safe to call for every connection and datagram."""

    def __init__(self, v4: _Table, v6: _Table, rule_count: int) -> None:
        self._v4 = v4
        self._v6 = v6
        self.rule_count = rule_count

    @classmethod
    def from_spec(cls, rules: list[dict[str, Any]] | None) -> Acl | None:
        """None when the spec's acl is null (WAF IP access control off)."""
        if rules is None:
            return None
        if not isinstance(rules, list):
            raise AclSpecError(f"acl must be a list of rules, got {type(rules).__name__}")
        v4: list[tuple[int, int, bool]] = []
        v6: list[tuple[int, int, bool]] = []
        for i, rule in enumerate(rules):
            action = rule.get("action") if isinstance(rule, dict) else None
            if action not in ACTIONS:
                raise AclSpecError(f"acl[{i}].action must be allow or block, got {action!r}")
            sources = rule.get("sources")
            if not isinstance(sources, list):
                raise AclSpecError(f"acl[{i}].sources must be a list of CIDRs")
            for j, source in enumerate(sources):
                net = _network(source, f"acl[{i}].sources[{j}]")
                lo = int(net.network_address)
                target = v4 if net.version == 4 else v6
                target.append((lo, lo + net.num_addresses - 1, action == "allow"))
        return cls(_compile(v4, 32), _compile(v6, 128), len(rules))

    def allows(self, ip: str) -> bool:
        """Whether a client at `ip` (an address literal, zone id allowed) may connect."""
        text = ip.split("%", 1)[0]
        try:
            packed = socket.inet_pton(socket.AF_INET, text)
        except OSError:
            try:
                packed = socket.inet_pton(socket.AF_INET6, text)
            except OSError:
                raise ValueError(f"ACL check: {ip!r} is not an IP address") from None
            if packed[:12] == _MAPPED_PREFIX:
                packed = packed[12:]
        value = int.from_bytes(packed, "big")
        return (self._v4 if len(packed) == 4 else self._v6).allows(value)


_MAPPED_PREFIX = bytes(10) + b"\xff\xff"


def _network(source: Any, where: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not isinstance(source, str):
        raise AclSpecError(f"{where} must be a CIDR string, got {source!r}")
    try:
        # host bits set (192.0.2.1/24) are masked, as nginx's allow/deny does
        net = ipaddress.ip_network(source.strip(), strict=False)
    except ValueError:
        raise AclSpecError(f"{where}: {source!r} is not an IPv4 or IPv6 CIDR") from None
    mapped = net.network_address.ipv4_mapped if isinstance(net, ipaddress.IPv6Network) else None
    if mapped is not None and net.prefixlen >= 96:  # ::ffff:192.0.2.0/120 is 192.0.2.0/24
        return ipaddress.ip_network(f"{mapped}/{net.prefixlen - 96}", strict=False)
    return net
