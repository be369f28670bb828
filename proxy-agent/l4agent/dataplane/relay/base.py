"""What the TCP, spliced-TCP and UDP relays share: the listener lifecycle and the
steps every new connection or flow takes.

The steps, in order, for a client seen on a listener:

1. `admitted` — the rule's ACL (a denial is counted and the client dropped);
2. `targets_now` / `targets` — the origin pool's candidates, healthy first in
   steering order (a resolution failure is logged and leaves none; no candidate is
   counted as `no_healthy_origin`);
3. `origin_port` — the rule's edge → origin port mapping;
4. `client_header` — the PROXY v1/v2 or SPP header the rule asks for, if any;
5. the connect attempts: `Target.failed` and `connect_failed` on a failure,
   `Target.connected` on success, `Target.released` when the connection ends;
6. `closed` — once per TCP connection, why it ended (the rule's `closes_<reason>`
   counters).

`RelayListener` is the part of a listener that does not depend on the protocol:
its key, socket and route, the connections it holds, and the drain hooks.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, Protocol

from l4agent.dataplane.resolver import ResolveError
from l4agent.dataplane.stats import CLOSE_FIELDS
from l4agent.protocols.proxyproto import encode_spp, encode_v1, encode_v2
from l4agent.spec import ListenerKey

if TYPE_CHECKING:
    from l4agent.dataplane.origins import Target
    from l4agent.dataplane.routes import Route
    from l4agent.dataplane.stats import RuleStats
    from l4agent.settings import RelaySettings

log = logging.getLogger("l4agent.relay")

# The TCP relays look at a connection's activity this many times per idle timeout (a
# timer per check, not per byte), so an idle connection is closed between 1 and
# 1 + 1/IDLE_CHECKS idle timeouts after its last byte.
IDLE_CHECKS = 4

Address = tuple[str, int]


class Connection(Protocol):
    def abort(self) -> None:
        """Drop the connection (or flow) at once."""


class RelayListener:
    """A listening socket of one (protocol, port, family) and what it relays."""

    connections: Collection[Any]

    def __init__(self, key: ListenerKey, sock: socket.socket, route: Route) -> None:
        self.key = key
        self.sock = sock
        self.route = route
        self.on_empty: Callable[[], None] | None = None  # set while draining

    async def start(self, settings: RelaySettings) -> None:
        raise NotImplementedError

    def stop_accepting(self) -> None:
        """No new connections; open ones are left alone."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the socket once drained (a no-op where stop_accepting closed it)."""

    def revive(self, route: Route) -> None:
        """Serve again after a drain began (only UDP sockets can: they keep their port)."""
        raise NotImplementedError

    def abort_connections(self) -> None:
        for connection in list(self._open()):
            connection.abort()

    def _open(self) -> Collection[Connection]:
        return self.connections

    def emptied(self) -> None:
        """The last connection ended: a draining listener is done."""
        if self.on_empty is not None:
            self.on_empty()


def admitted(route: Route, client_ip: str) -> bool:
    """The rule's ACL lets `client_ip` in; a denial is counted."""
    if route.acl is None or route.acl.allows(client_ip):
        return True
    route.stats.acl_denials += 1
    return False


def targets_now(route: Route, client: Address) -> list[Target] | None:
    """The candidates without waiting, or None when a hostname must be resolved."""
    try:
        return route.pool.candidates_now(client)
    except Exception:
        log.exception("%s rule %d: picking an origin failed", route.app, route.index)
        return []


async def targets(route: Route, client: Address) -> list[Target]:
    """The candidates, resolving hostnames when needed; none after a failure."""
    try:
        return await route.pool.candidates(client)
    except ResolveError as e:
        log.warning("%s rule %d: %s", route.app, route.index, e)
    except Exception:
        log.exception("%s rule %d: picking an origin failed", route.app, route.index)
    return []


def no_target(route: Route) -> None:
    """No origin target is usable for a client: counted, the client is closed."""
    route.stats.no_healthy_origin += 1


def connect_failed(route: Route, target: Target, port: int, error: BaseException) -> str:
    """Count a failed connect attempt; returns the close reason it would give the
    client if it was the last target tried."""
    target.failed()
    route.stats.origin_connect_failures += 1
    if isinstance(error, OSError):  # refused, unreachable, timed out (TimeoutError)
        log.debug("connect to %s:%d failed: %r", target.address, port, error)
    else:
        log.error("connect to %s:%d failed", target.address, port, exc_info=error)
    if isinstance(error, TimeoutError):
        return "connect_timeout"
    if isinstance(error, ConnectionResetError):  # it accepted, then reset at once
        return "origin_reset"
    return "connect_failed"


def closed(stats: RuleStats, reason: str) -> None:
    """Count why one TCP connection ended: `reason` is one of stats.CLOSE_REASONS. Called
    exactly once per accepted connection, when it ends (never per byte)."""
    field = CLOSE_FIELDS[reason]
    setattr(stats, field, getattr(stats, field) + 1)


def origin_port(route: Route, edge_port: int, client_ip: str) -> int:
    return route.ports.origin_port(edge_port, client_ip)


def client_header(route: Route, client: Address, local: Address, *, dgram: bool) -> bytes:
    """The client-IP header the rule writes before the payload ("" when none)."""
    passthrough = route.passthrough
    if passthrough == "proxy_v2":
        return encode_v2(client, local, dgram=dgram)
    if passthrough == "proxy_v1":
        return encode_v1(client, local)
    if passthrough == "spp":
        return encode_spp(client, local)
    return b""
