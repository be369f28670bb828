"""A `Route` is what a listener does with a new connection or UDP flow.

Listeners look their route up at accept time, so an apply that changes a rule only
swaps the route object: connections already open keep the route they started with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from l4agent.dataplane.stats import RuleStats
from l4agent.spec.mapping import PortMap

if TYPE_CHECKING:
    from l4agent.dataplane.acl import Acl
    from l4agent.dataplane.origins import OriginPool


@dataclass(slots=True, eq=False)
class Route:
    app: str
    index: int
    protocol: str
    passthrough: str  # off | proxy_v1 | proxy_v2 | spp
    keepalive: bool
    acl: Acl | None
    pool: OriginPool
    ports: PortMap
    stats: RuleStats
    rule: dict[str, Any]


def health_port(rule: dict[str, Any]) -> int:
    """The origin port active health checks connect to: the first origin port of the rule."""
    origin_ports = rule.get("origin_ports")
    return origin_ports[0] if origin_ports else rule["edge_ports"][0][0]
