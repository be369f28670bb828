"""Which rules the kernel can forward, and why not the others.

The kernel path is nftables DNAT plus masquerade: the origin sees the agent's
address, never the client's, and there is no place to write a PROXY or SPP header.
So only rules with ``passthrough == "off"`` qualify. Within those, the kernel picks a
target per new flow with what netfilter offers: a random number (``numgen``) for
weights, a fixed target for failover. It keeps no per-target connection count that
a rule could consult while choosing, so ``least_connections`` stays on the relay.

NAT cannot translate between address families (no NAT46/NAT64 in nftables): a rule
is eligible only when every target has an address of every family the rule listens
on. IP literals are checked here; hostnames are checked with their resolved
addresses when the caller passes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from l4agent.dataplane.resolver import ip_literal

KERNEL_STEERINGS = ("weighted", "failover")
RELAY_ONLY_STEERINGS = {
    "least_connections": (
        "least_connections needs the number of open connections per target at the moment "
        "a new one is placed; nftables has no such lookup"
    ),
}


def family_of(address: str) -> str:
    return "ipv6" if ":" in address else "ipv4"


def target_addresses(
    host: str, resolved: Mapping[str, Sequence[str]] | None
) -> tuple[str, ...] | None:
    """The addresses of one target: itself for an IP literal, the resolved ones for a
    hostname, None when a hostname has not been resolved (or `resolved` is None)."""
    literal = ip_literal(host)
    if literal is not None:
        return (literal,)
    if resolved is None or host not in resolved:
        return None
    return tuple(ip_literal(a) or a for a in resolved[host])


def eligible(
    rule: dict[str, Any],
    *,
    ipv6: bool = False,
    resolved: Mapping[str, Sequence[str]] | None = None,
) -> str | None:
    """None when the kernel can forward `rule`, else the reason it stays on the relay.

    `ipv6` is the application's ``ipv6`` flag (listen on both families); `resolved`
    maps hostnames to their current addresses. Without `resolved`, hostnames pass
    and only IP literals are checked for address families.
    """
    passthrough = rule.get("passthrough", "off")
    if passthrough != "off":
        return (
            f"passthrough {passthrough} writes a header the kernel path cannot produce "
            "(the kernel forwards packets, it never writes into the stream)"
        )
    origin = rule["origin"]
    steering = origin.get("steering") or "weighted"
    if steering in RELAY_ONLY_STEERINGS:
        return f"steering {steering}: {RELAY_ONLY_STEERINGS[steering]}"
    if steering not in KERNEL_STEERINGS:
        return f"steering {steering!r} is unknown to the kernel path"
    wanted = ("ipv4", "ipv6") if ipv6 else ("ipv4",)
    for target in origin["targets"]:
        host = target["host"]
        addresses = target_addresses(host, resolved)
        if addresses is None:
            if ip_literal(host) is None and resolved is not None:
                return f"origin {host} is not resolved yet"
            continue
        have = {family_of(a) for a in addresses}
        for family in wanted:
            if family not in have:
                return (
                    f"origin {host} has no {family} address and the kernel cannot translate "
                    f"{family} clients to another address family"
                )
    return None
