"""Edge port → origin port mapping of a rule (docs/architecture.md, "Contract: the
agent application spec").

- `origin_ports` null: each edge port forwards to the same port number;
- a single origin port: every edge port forwards to it;
- edge *range* A-B (exactly one range) + origin range C-D of the same length: offset,
  edge A+i → origin C+i;
- edge single port + origin range: a stable hash (CRC-32) of the packed client IP
  address picks the port, so one client always reaches the same origin port.

Everything else is refused by `mapping_problem` (l4plan reports it as L4E006).
"""

from __future__ import annotations

import socket
import zlib

PortRange = tuple[int, int]


def mapping_problem(edge_ports: list[list[int]], origin_ports: list[int] | None) -> str | None:
    """Why this combination cannot be mapped, or None when it can."""
    if origin_ports is None or origin_ports[0] == origin_ports[1]:
        return None
    olen = origin_ports[1] - origin_ports[0]
    if len(edge_ports) == 1:
        lo, hi = edge_ports[0]
        if lo == hi or hi - lo == olen:
            return None
        return (
            f"edge range {lo}-{hi} has {hi - lo + 1} ports but origin range "
            f"{origin_ports[0]}-{origin_ports[1]} has {olen + 1}; use a single origin port "
            "or a range of the same length"
        )
    return "with a list of edge ports the origin port must be a single port"


def client_hash(ip: str) -> int:
    """CRC-32 of the packed address (scope id ignored): stable across processes and restarts."""
    ip = ip.partition("%")[0]
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    return zlib.crc32(socket.inet_pton(family, ip))


class PortMap:
    """The mapping of one (valid) rule; `origin_port` is called once per connection/flow."""

    __slots__ = ("_edge_lo", "_kind", "_origin_lo", "_size")

    def __init__(self, edge_ports: list[list[int]], origin_ports: list[int] | None) -> None:
        problem = mapping_problem(edge_ports, origin_ports)
        if problem:
            raise ValueError(problem)
        self._edge_lo = edge_ports[0][0]
        self._origin_lo = origin_ports[0] if origin_ports else 0
        self._size = origin_ports[1] - origin_ports[0] + 1 if origin_ports else 0
        if origin_ports is None:
            self._kind = "same"
        elif self._size == 1:
            self._kind = "single"
        elif len(edge_ports) == 1 and edge_ports[0][0] != edge_ports[0][1]:
            self._kind = "offset"
        else:
            self._kind = "hash"

    @property
    def kind(self) -> str:
        """same | single | offset | hash"""
        return self._kind

    def origin_port(self, edge_port: int, client_ip: str) -> int:
        kind = self._kind
        if kind == "same":
            return edge_port
        if kind == "single":
            return self._origin_lo
        if kind == "offset":
            return self._origin_lo + (edge_port - self._edge_lo)
        return self._origin_lo + client_hash(client_ip) % self._size
