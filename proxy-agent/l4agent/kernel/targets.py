"""Where a new flow of a kernel-path rule goes: the DNAT statement's address and port.

Pure functions from a rule's origin (with the current DNS answers and health) to
nftables JSON expressions: a weighted pool is a ``numgen random`` map over integer
slots, failover the first healthy address, offset mapping a ``dport`` map, and the
client-hash mapping a ``jhash`` of the client address indexing the origin ports.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from l4agent.kernel.eligibility import family_of, target_addresses

# jhash seed of the client-hash mapping: fixed, so a client keeps its origin port
# across every rebuild of the table and every restart of the agent.
CLIENT_HASH_SEED = 0x4C34504C
MAX_WEIGHT_SLOTS = 65536
SADDR = {"ipv4": ("ip", "saddr"), "ipv6": ("ip6", "saddr")}

Health = Callable[[str, int, str], bool]  # (application, rule index, address) → healthy


def pool(
    app: str,
    index: int,
    origin: dict[str, Any],
    fam: str,
    resolved: Mapping[str, Sequence[str]] | None,
    is_healthy: Health,
) -> list[tuple[str, int]]:
    """[(address, slots)] for new flows of one family: healthy addresses only; failover
    keeps the first; a hostname's weight is shared among its addresses (as the relay
    does), in integer slots of ``numgen``."""
    members: list[tuple[list[str], int]] = []
    for target in origin["targets"]:
        weight = int(target.get("weight", 1))
        addresses = [
            a for a in target_addresses(target["host"], resolved) or () if family_of(a) == fam
        ]
        members.append((addresses, weight))
    if (origin.get("steering") or "weighted") == "failover":
        for addresses, weight in members:
            up = [a for a in addresses if is_healthy(app, index, a)]
            if up:
                return [(up[0], 1)] if weight > 0 else []
        return []
    scale = math.lcm(*[len(a) for a, _ in members if a]) if any(a for a, _ in members) else 1
    if sum(w for _, w in members) * scale > MAX_WEIGHT_SLOTS:
        scale = 1
        members = [(a[:1], w) for a, w in members]
    slots: list[tuple[str, int]] = []
    for addresses, weight in members:
        if not addresses or weight == 0:
            continue
        share = weight * scale // len(addresses)
        for address in addresses:
            if share and is_healthy(app, index, address):
                slots.append((address, share))
    return slots


def address_expr(slots: list[tuple[str, int]]) -> Any:
    if len(slots) == 1:
        return slots[0][0]
    total = sum(s for _, s in slots)
    pairs: list[list[Any]] = []
    lo = 0
    for address, share in slots:
        key: Any = lo if share == 1 else {"range": [lo, lo + share - 1]}
        pairs.append([key, address])
        lo += share
    return {"map": {"key": {"numgen": {"mode": "random", "mod": total}},
                    "data": {"set": pairs}}}  # fmt: skip


def port_expr(
    kind: str,
    protocol: str,
    fam: str,
    ports: list[tuple[int, int]],
    origin_ports: list[int] | None,
) -> Any:
    """None (keep the edge port), a port, or an expression giving the origin port."""
    if kind == "same" or origin_ports is None:
        return None
    if kind == "single":
        return origin_ports[0]
    if kind == "offset":
        (edge_lo, edge_hi), delta = ports[0], origin_ports[0] - ports[0][0]
        pairs = [[p, p + delta] for p in range(edge_lo, edge_hi + 1)]
        dport = {"payload": {"protocol": protocol, "field": "dport"}}
        return {"map": {"key": dport, "data": {"set": pairs}}}
    # jhash yields a 32-bit host-order number: its ``offset`` form does not make a valid
    # port, so the hash indexes a map of the origin ports instead
    size = origin_ports[1] - origin_ports[0] + 1
    saddr = {"payload": {"protocol": SADDR[fam][0], "field": SADDR[fam][1]}}
    key = {"jhash": {"expr": saddr, "mod": size, "seed": CLIENT_HASH_SEED}}
    pairs = [[i, origin_ports[0] + i] for i in range(size)]
    return {"map": {"key": key, "data": {"set": pairs}}}
