"""Functions on IP networks: cidrhost and cidrsubnet."""

from __future__ import annotations

import ipaddress
from typing import Any

from l4plan.configs.lang.functions.registry import (
    FunctionError,
    as_int,
    as_str,
    register,
)


@register("cidrhost(prefix, hostnum)", 2, 2)
def _cidrhost(prefix: Any, hostnum: Any) -> str:
    network = _network(prefix)
    n = as_int(hostnum, "hostnum")
    size = network.num_addresses
    if not -size <= n < size:
        raise FunctionError(f"host number {n} does not fit in {network} ({size} addresses)")
    return str(network[n])


@register("cidrsubnet(prefix, newbits, netnum)", 3, 3)
def _cidrsubnet(prefix: Any, newbits: Any, netnum: Any) -> str:
    network = _network(prefix)
    bits, num = as_int(newbits, "newbits"), as_int(netnum, "netnum")
    new_prefix = network.prefixlen + bits
    if bits < 0 or new_prefix > network.max_prefixlen:
        raise FunctionError(f"cannot extend /{network.prefixlen} by {bits} bits")
    if not 0 <= num < 2**bits:
        raise FunctionError(f"netnum {num} does not fit in {bits} bits")
    base = int(network.network_address) + (num << (network.max_prefixlen - new_prefix))
    return str(ipaddress.ip_network((base, new_prefix)))


def _network(prefix: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    text = as_str(prefix, "the prefix")
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise FunctionError(f'"{text}" is not a CIDR prefix such as 10.0.0.0/16') from None
