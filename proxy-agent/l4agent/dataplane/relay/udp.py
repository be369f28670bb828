"""UDP listeners and flows.

A flow is one client address talking to one local address of a listener: on a
listener bound to a wildcard address (the default `0.0.0.0` / `::`), two clients that
send to different local addresses of the same port are different flows, and so is one
client sending to two of them. Each flow has its own connected upstream socket, so
replies from the origin map back to the client without a lookup. All flows of a
process live in one `FlowTable` (`flowtable.py`: idle sweep and eviction).

Listeners read their socket themselves (`add_reader`, at most `READ_BATCH` datagrams
per wake-up) instead of through an asyncio datagram transport, which cannot return
ancillary data. A wildcard-bound socket has packet info turned on and is read with
`recvmsg`: each datagram's destination address goes into the flow key and into the
PROXY v2 / SPP header, and replies are sent with `sendmsg` and a packet-info control
message so that they leave from the address the client sent to (on a multi-homed node
the routing table could pick another one, and the client would drop the reply). A
socket bound to one address is read with `recvfrom`: that address is every
datagram's destination.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from l4agent.dataplane.relay.base import (
    RelayListener,
    admitted,
    client_header,
    connect_failed,
    no_target,
    origin_port,
    targets,
)
from l4agent.dataplane.sockets import PACKET_INFO, PacketInfo, is_wildcard
from l4agent.protocols.proxyproto import strip_spp_reply
from l4agent.spec import ListenerKey

if TYPE_CHECKING:
    from l4agent.dataplane.origins import Target
    from l4agent.dataplane.relay.flowtable import FlowTable
    from l4agent.dataplane.routes import Route

log = logging.getLogger("l4agent.udp")

# Datagrams a new flow queues while its upstream socket is being set up.
PENDING_LIMIT = 64
# Datagrams read from a listener socket per wake-up, so that one busy port cannot
# starve the others (the loop calls back at once while more are waiting).
READ_BATCH = 64
# Receive buffer: the largest UDP payload over IPv4 (65507) or IPv6 (65527) fits.
MAX_DATAGRAM = 65535

Address = tuple[str, int]
# (the client's socket address, the packed local address it sent to: b"" when the
# listener is bound to one address)
FlowKey = tuple[tuple[Any, ...], bytes]
Control = list[tuple[int, int, bytes]]


class UdpListener(RelayListener):
    """One bound UDP socket (one port, one family) and its flows."""

    def __init__(self, key: ListenerKey, sock: socket.socket, route: Route, table: FlowTable):
        super().__init__(key, sock, route)
        self.port = key[1]
        self.table = table
        self.flows: dict[FlowKey, UdpFlow] = {}
        self.draining = False
        self.closed = False
        self.address: Address = sock.getsockname()[:2]
        # packet info of the family when bound to a wildcard address (bind_listener
        # turned it on), None when the bound address is every datagram's destination
        self.packet_info: PacketInfo | None = (
            PACKET_INFO[key[2]] if is_wildcard(self.address[0]) else None
        )
        self._loop: asyncio.AbstractEventLoop | None = None

    @property  # type: ignore[override]
    def connections(self) -> dict[FlowKey, UdpFlow]:
        return self.flows

    def _open(self) -> Collection[UdpFlow]:
        return self.flows.values()

    async def start(self, _settings: object = None) -> None:
        self._loop = asyncio.get_running_loop()
        if self.packet_info is None:
            self._loop.add_reader(self.sock.fileno(), self._read_bound)
        else:
            self._loop.add_reader(self.sock.fileno(), self._read_with_destination, self.packet_info)

    # ---- the hot path: datagrams from clients -------------------------------------

    def _read_with_destination(self, packet_info: PacketInfo) -> None:
        recvmsg = self.sock.recvmsg
        flows = self.flows
        space = packet_info.space
        destination = packet_info.destination
        for _ in range(READ_BATCH):
            try:
                data, ancillary, _flags, client = recvmsg(MAX_DATAGRAM, space)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._read_failed(e)
                return
            # packet info is the only control message enabled on this socket
            info = ancillary[0][2] if ancillary else b""
            key = (client, info[destination])
            flow = flows.get(key)
            if flow is None:
                self._new_flow(data, key, info)
            else:
                flow.from_client(data)

    def _read_bound(self) -> None:
        recvfrom = self.sock.recvfrom
        flows = self.flows
        for _ in range(READ_BATCH):
            try:
                data, client = recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._read_failed(e)
                return
            key = (client, b"")
            flow = flows.get(key)
            if flow is None:
                self._new_flow(data, key, b"")
            else:
                flow.from_client(data)

    def _read_failed(self, exc: OSError) -> None:
        if not self.closed:
            log.debug("udp listener %s: %r", self.key, exc)

    def _new_flow(self, data: bytes, key: FlowKey, info: bytes) -> None:
        if self.draining:
            return
        client = key[0]
        route = self.route
        if not admitted(route, client[0]):
            return
        local, reply_control = self.address, None
        packet_info = self.packet_info
        if packet_info is not None and len(info) == packet_info.size:
            local = (packet_info.address(info), self.port)
            reply_control = packet_info.reply_control(info)
        flow = UdpFlow(self, route, key, local, reply_control)
        self.table.add(flow)
        self.flows[key] = flow
        flow.start(data)

    def send_to_client(self, data: bytes, flow: UdpFlow) -> None:
        """A reply, from the local address the flow's client sent to. A datagram the
        socket cannot take at once (its send buffer is full) is dropped and counted in
        `udp_reply_drops`, as the kernel drops one that finds a full receive buffer:
        nothing queues without bound."""
        try:
            if flow.reply_control is None:
                self.sock.sendto(data, flow.client)
            else:
                self.sock.sendmsg((data,), flow.reply_control, 0, flow.client)
        except OSError as e:
            if not self.closed:
                flow.route.stats.udp_reply_drops += 1
                log.debug("udp reply to %s on %s: %r", flow.client, self.key, e)

    # ---- lifecycle ------------------------------------------------------------------

    def stop_accepting(self) -> None:
        """No new flows; existing flows go on until they end or the drain ends."""
        self.draining = True
        if not self.flows:
            self.close()

    def revive(self, route: Route) -> None:
        """Serve again (the listener was re-added while draining)."""
        self.draining = False
        self.route = route

    def forget(self, flow: UdpFlow) -> None:
        if self.flows.get(flow.key) is flow:
            del self.flows[flow.key]
        if self.draining and not self.flows:
            self.emptied()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
        self.sock.close()


class UdpFlow:
    """One client address and the local address it sent to: its upstream socket towards
    the origin and its counters.

    The upstream socket is a plain connected socket read with `add_reader`, one
    datagram per readiness (epoll is level-triggered: a second queued reply wakes the
    loop again), not an asyncio datagram transport: the transport reads until
    EAGAIN, which for request/response traffic is one failed `recvmsg` per reply. A
    datagram the upstream socket cannot take at once is dropped, as the kernel drops
    one that finds a full buffer."""

    __slots__ = (
        "_header",
        "_pending",
        "_spp",
        "client",
        "closed",
        "key",
        "last",
        "listener",
        "local",
        "loop",
        "reply_control",
        "route",
        "target",
        "task",
        "upstream",
    )

    def __init__(
        self,
        listener: UdpListener,
        route: Route,
        key: FlowKey,
        local: Address,
        reply_control: Control | None,
    ) -> None:
        self.listener = listener
        self.route = route
        self.key = key
        self.client = key[0]
        self.local = local  # the destination of the client's datagrams: the header's
        self.reply_control = reply_control  # sendmsg ancillary data; None: plain sendto
        self.loop = asyncio.get_running_loop()
        self.last = self.loop.time()
        self.upstream: socket.socket | None = None
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
        client = (self.client[0], self.client[1])
        found = await targets(route, client)
        if not found:
            no_target(route)
            self.close()
            return
        port = origin_port(route, self.listener.port, client[0])
        for target in found:
            family = socket.AF_INET6 if ":" in target.address else socket.AF_INET
            try:
                upstream = socket.socket(family, socket.SOCK_DGRAM)
            except OSError as e:
                connect_failed(route, target, port, e)
                continue
            try:
                upstream.setblocking(False)
                upstream.connect((target.address, port))  # no I/O: fixes the peer
            except OSError as e:
                upstream.close()
                connect_failed(route, target, port, e)
                continue
            break
        else:
            self.close()
            return
        if self.closed:
            upstream.close()
            return
        target.connected()
        self.target = target
        self.upstream = upstream
        self.loop.add_reader(upstream.fileno(), self._from_origin)
        self._header = client_header(route, client, self.local, dgram=True)
        pending, self._pending = self._pending, []
        for data in pending:
            self._send_upstream(data)

    def from_client(self, data: bytes) -> None:
        self.listener.table.touch(self)
        stats = self.route.stats
        stats.datagrams_in += 1
        stats.bytes_in += len(data)
        if self.upstream is None:
            if len(self._pending) < PENDING_LIMIT:
                self._pending.append(data)
            return
        self._send_upstream(data)

    def _send_upstream(self, data: bytes) -> None:
        try:
            self.upstream.send(self._header + data if self._header else data)  # type: ignore[union-attr]
        except OSError as e:  # a full send buffer, or an ICMP error of an earlier datagram
            log.debug("udp upstream of %s: %r", self.client, e)

    # ---- upstream: datagrams from the origin ---------------------------------------

    def _from_origin(self) -> None:
        try:
            data = self.upstream.recv(MAX_DATAGRAM)  # type: ignore[union-attr]
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:  # ICMP errors (port unreachable...) on the connected socket
            log.debug("udp upstream of %s: %r", self.client, e)
            # uvloop stops watching a socket that reported an error: watch it again
            fd = self.upstream.fileno()  # type: ignore[union-attr]
            self.loop.remove_reader(fd)
            self.loop.add_reader(fd, self._from_origin)
            return
        if self._spp:
            data = strip_spp_reply(data)
        self.listener.table.touch(self)
        stats = self.route.stats
        stats.datagrams_out += 1
        stats.bytes_out += len(data)
        self.listener.send_to_client(data, self)

    def abort(self) -> None:
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.task is not None and not self.task.done():
            self.task.cancel()
        upstream = self.upstream
        if upstream is not None:
            self.loop.remove_reader(upstream.fileno())
            upstream.close()
        if self.target is not None:
            self.target.released()
        self.route.stats.udp_flows_active -= 1
        self.listener.table.remove(self)
        self.listener.forget(self)
