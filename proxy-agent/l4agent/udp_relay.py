"""UDP listeners and flows.

A flow is one client address on one listener. Each flow has its own connected
upstream socket, so replies from the origin map back to the client without a
lookup. All flows of a process live in one `FlowTable`, ordered by last activity:
the idle sweep pops from the old end, and when the table is full the least recently
active flow is evicted (counted in `udp_flow_evictions`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from l4agent.proxyproto import encode_spp, encode_v2, strip_spp_reply
from l4agent.resolver import ResolveError
from l4agent.spec import ListenerKey

if TYPE_CHECKING:
    from l4agent.origins import Target
    from l4agent.routes import Route

log = logging.getLogger("l4agent.udp")

# Datagrams a new flow queues while its upstream socket is being set up.
PENDING_LIMIT = 64


class FlowTable:
    """Every UDP flow of the process, least recently active first."""

    def __init__(self, max_flows: int, idle_timeout: float) -> None:
        self.max_flows = max_flows
        self.idle_timeout = idle_timeout
        self._flows: OrderedDict[UdpFlow, None] = OrderedDict()
        self._sweeper: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._flows)

    def add(self, flow: UdpFlow) -> None:
        while len(self._flows) >= self.max_flows:
            oldest = next(iter(self._flows))
            oldest.route.stats.udp_flow_evictions += 1
            oldest.close()
        self._flows[flow] = None
        if self._sweeper is None:
            self._schedule()

    def touch(self, flow: UdpFlow) -> None:
        flow.last = flow.loop.time()
        self._flows.move_to_end(flow)

    def remove(self, flow: UdpFlow) -> None:
        self._flows.pop(flow, None)

    def _schedule(self) -> None:
        interval = min(1.0, self.idle_timeout / 4)
        self._sweeper = asyncio.get_running_loop().call_later(interval, self._sweep)

    def _sweep(self) -> None:
        self._sweeper = None
        if not self._flows:
            return
        deadline = asyncio.get_running_loop().time() - self.idle_timeout
        while self._flows:
            oldest = next(iter(self._flows))
            if oldest.last > deadline:
                break
            oldest.close()
        self._schedule()


class UdpListener(asyncio.DatagramProtocol):
    """One bound UDP socket (one port, one family) and its flows."""

    def __init__(self, key: ListenerKey, sock: socket.socket, route: Route, table: FlowTable):
        self.key = key
        self.port = key[1]
        self.sock = sock
        self.route = route
        self.table = table
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[tuple[str, int], UdpFlow] = {}
        self.draining = False
        self.on_empty: Callable[[], None] | None = None  # set while draining
        self.address: tuple[str, int] = sock.getsockname()[:2]

    @property
    def connections(self) -> dict[tuple[str, int], UdpFlow]:
        return self.flows

    async def start(self, _settings: object = None) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=self.sock)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        flow = self.flows.get(addr)
        if flow is not None:
            flow.from_client(data)
            return
        if self.draining:
            return
        route = self.route
        if route.acl is not None and not route.acl.allows(addr[0]):
            route.stats.acl_denials += 1
            return
        flow = UdpFlow(self, route, addr)
        self.table.add(flow)
        self.flows[addr] = flow
        flow.start(data)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp listener %s: %r", self.key, exc)

    def stop_accepting(self) -> None:
        """No new flows; existing flows go on until they end or the drain ends."""
        self.draining = True
        if not self.flows:
            self.close()

    def revive(self, route: Route) -> None:
        """Serve again (the listener was re-added while draining)."""
        self.draining = False
        self.route = route

    def abort_connections(self) -> None:
        for flow in list(self.flows.values()):
            flow.close()

    def forget(self, flow: UdpFlow) -> None:
        if self.flows.get(flow.client) is flow:
            del self.flows[flow.client]
        if self.draining and not self.flows and self.on_empty is not None:
            self.on_empty()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        else:
            self.sock.close()

    def send_to_client(self, data: bytes, client: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(data, client)


class UdpFlow(asyncio.DatagramProtocol):
    """One client address: its upstream socket towards the origin and its counters."""

    __slots__ = (
        "_header",
        "_pending",
        "_spp",
        "client",
        "closed",
        "last",
        "listener",
        "loop",
        "route",
        "target",
        "task",
        "upstream",
    )

    def __init__(self, listener: UdpListener, route: Route, client: tuple[str, int]) -> None:
        self.listener = listener
        self.route = route
        self.client = client
        self.loop = asyncio.get_running_loop()
        self.last = self.loop.time()
        self.upstream: asyncio.DatagramTransport | None = None
        self.target: Target | None = None
        self.task: asyncio.Task[None] | None = None
        self.closed = False
        self._pending: list[bytes] = []
        self._header = b""
        self._spp = route.passthrough == "spp"
        stats = route.stats
        stats.udp_flows_total += 1
        stats.udp_flows_active += 1

    def start(self, first: bytes) -> None:
        self.from_client(first)
        self.task = self.loop.create_task(self._connect())

    async def _connect(self) -> None:
        route = self.route
        stats = route.stats
        client = (self.client[0], self.client[1])
        try:
            targets = await route.pool.candidates(client)
        except ResolveError as e:
            log.warning("%s rule %d: %s", route.app, route.index, e)
            targets = []
        except Exception:
            log.exception("%s rule %d: picking an origin failed", route.app, route.index)
            targets = []
        if not targets:
            stats.no_healthy_origin += 1
            self.close()
            return
        port = route.ports.origin_port(self.listener.port, client[0])
        for target in targets:
            try:
                transport, _ = await self.loop.create_datagram_endpoint(
                    lambda: self, remote_addr=(target.address, port)
                )
            except OSError as e:
                target.failed()
                stats.origin_connect_failures += 1
                log.debug("udp upstream %s:%d: %r", target.address, port, e)
                continue
            break
        else:
            self.close()
            return
        transport = cast(asyncio.DatagramTransport, transport)
        if self.closed:
            transport.close()
            return
        target.connected()
        self.target = target
        self.upstream = transport
        if route.passthrough == "proxy_v2":
            self._header = encode_v2(client, self.listener.address, dgram=True)
        elif self._spp:
            self._header = encode_spp(client, self.listener.address)
        pending, self._pending = self._pending, []
        for data in pending:
            transport.sendto(self._header + data if self._header else data)

    def from_client(self, data: bytes) -> None:
        self.listener.table.touch(self)
        stats = self.route.stats
        stats.datagrams_in += 1
        stats.bytes_in += len(data)
        upstream = self.upstream
        if upstream is None:
            if len(self._pending) < PENDING_LIMIT:
                self._pending.append(data)
            return
        upstream.sendto(self._header + data if self._header else data)

    # ---- upstream protocol -------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.closed:
            return
        if self._spp:
            data = strip_spp_reply(data)
        self.listener.table.touch(self)
        stats = self.route.stats
        stats.datagrams_out += 1
        stats.bytes_out += len(data)
        self.listener.send_to_client(data, self.client)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable...) on the connected upstream socket
        log.debug("udp upstream of %s: %r", self.client, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.upstream is not None:
            self.upstream.close()
        if self.target is not None:
            self.target.released()
        self.route.stats.udp_flows_active -= 1
        self.listener.table.remove(self)
        self.listener.forget(self)
