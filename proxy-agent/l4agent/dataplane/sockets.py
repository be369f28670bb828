"""Socket set-up for listeners and relayed connections, and the fd limit."""

from __future__ import annotations

import errno
import ipaddress
import os
import resource
import socket
from dataclasses import dataclass

from l4agent.spec import Family, ListenerKey

# Keep-alive protection (docs/agent.md, "Keep-alive protection"): a silent peer is
# probed after KEEPALIVE_IDLE seconds, every KEEPALIVE_INTERVAL seconds, and the
# connection is dropped after KEEPALIVE_COUNT unanswered probes (60 + 10 * 6 = 120 s
# to detect a dead peer).
KEEPALIVE_IDLE = 60
KEEPALIVE_INTERVAL = 10
KEEPALIVE_COUNT = 6

LISTEN_BACKLOG = socket.SOMAXCONN
FAMILIES = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
KINDS = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}
# errno values that mean "out of file descriptors / buffers" → RESOURCE_EXHAUSTED
EXHAUSTION = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# Linux's IP_PKTINFO; Python's socket module does not name it before 3.14
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


@dataclass(frozen=True, slots=True)
class PacketInfo:
    """One family's packet-info control message (Linux `struct in_pktinfo` /
    `struct in6_pktinfo`), which tells a wildcard-bound UDP socket the local address
    each datagram was sent to, and makes a reply leave from a chosen local address.

    Received: in_pktinfo is ifindex (4 bytes), spec_dst (4), addr (4) — `addr` is the
    header's destination, `spec_dst` the local address the kernel would answer from
    (the same for unicast; the interface's address for a broadcast). in6_pktinfo is
    addr (16), ifindex (4). Sent: the same structures with only the source address set
    (ifindex 0 lets routing pick the interface, as nginx does).
    """

    family: int
    level: int
    enable: int  # the socket option that turns the control message on
    kind: int  # the control message type
    size: int
    destination: slice  # the datagram's destination address within the message
    source: slice  # the local address to send replies from

    @property
    def space(self) -> int:
        """The ancillary buffer `recvmsg` needs for one such message."""
        return socket.CMSG_SPACE(self.size)

    def address(self, data: bytes) -> str:
        """The destination address of a received message, as text."""
        return socket.inet_ntop(self.family, data[self.destination])

    def reply_control(self, data: bytes) -> list[tuple[int, int, bytes]]:
        """The `sendmsg` ancillary data that sends from the received message's local address."""
        info = bytes(self.source.start) + data[self.source] + bytes(self.size - self.source.stop)
        return [(self.level, self.kind, info)]


PACKET_INFO: dict[Family, PacketInfo] = {
    "ipv4": PacketInfo(
        socket.AF_INET, socket.IPPROTO_IP, IP_PKTINFO, IP_PKTINFO, 12, slice(8, 12), slice(4, 8)
    ),
    "ipv6": PacketInfo(
        socket.AF_INET6,
        socket.IPPROTO_IPV6,
        socket.IPV6_RECVPKTINFO,
        socket.IPV6_PKTINFO,
        20,
        slice(0, 16),
        slice(0, 16),
    ),
}


def is_wildcard(host: str) -> bool:
    """Whether `host` is the any-address (`0.0.0.0`, `::`) of its family."""
    return ipaddress.ip_address(host).is_unspecified


def listener_socket(key: ListenerKey) -> socket.socket:
    """An unbound socket for `key` as every listener of the agent has it: TCP may
    rebind a port whose old connections are in TIME_WAIT, IPv6 serves IPv6 only (the
    IPv4 port is a listener of its own). Raises OSError."""
    protocol, _, family = key
    sock = socket.socket(FAMILIES[family], KINDS[protocol])
    try:
        if protocol == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == "ipv6":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


def bind_listener(key: ListenerKey, host: str, *, reuse_port: bool) -> socket.socket:
    """A bound (and for TCP listening) non-blocking socket for `key`; raises OSError.

    A UDP socket on a wildcard address gets packet info turned on, so the relay learns
    each datagram's destination address (see `PacketInfo`).
    """
    protocol, port, family = key
    sock = listener_socket(key)
    try:
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if protocol == "udp" and is_wildcard(host):
            info = PACKET_INFO[family]
            sock.setsockopt(info.level, info.enable, 1)
        sock.setblocking(False)
        sock.bind((host, port))
        if protocol == "tcp":
            sock.listen(LISTEN_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def set_keepalive(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_COUNT)


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def nofile_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0
