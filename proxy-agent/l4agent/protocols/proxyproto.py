"""Client-IP passthrough headers, sans-IO: PROXY protocol v1/v2 and Simple Proxy Protocol.

PROXY v1 and v2 follow HAProxy's ``doc/proxy-protocol.txt``; the Simple Proxy
Protocol (SPP) follows Cloudflare's definition (38 bytes, magic 0x56EC). Wire
diagrams and decisions are in docs/passthrough-and-origins.md.

Writers return the exact bytes to send; `strip_spp_reply` takes the SPP header off
an origin's reply. The agent reads no other header, so it has no parser: the tests
check these writers with readers of their own (tests/agent_features).
"""

from __future__ import annotations

import ipaddress
import socket
import struct

V1_PREFIX = b"PROXY "
V1_MAX_LENGTH = 107  # the worst-case line, CRLF included
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_HEADER_LENGTH = 16
V2_MAX_LENGTH = 16 + 4096  # fixed header + address block + TLVs we are willing to buffer
SPP_MAGIC = 0x56EC
SPP_LENGTH = 38

_V2_VERSION = 0x20
_V2_LOCAL, _V2_PROXY = 0x0, 0x1
_FAM_UNSPEC, _FAM_INET, _FAM_INET6, _FAM_UNIX = 0x0, 0x1, 0x2, 0x3
_PROTO_UNSPEC, _PROTO_STREAM, _PROTO_DGRAM = 0x0, 0x1, 0x2
_ADDR_LENGTH = {_FAM_INET: 12, _FAM_INET6: 36, _FAM_UNIX: 216}
_SPP = struct.Struct("!H16s16sHH")
_V4_MAPPED = b"\x00" * 10 + b"\xff\xff"  # ::ffff:0:0/96

Address = tuple[str, int]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ProxyProtocolError(ValueError):
    """Bytes that are not a valid header, or addresses that cannot be encoded."""


# -- writers ---------------------------------------------------------------------------


def _check_port(port: int, role: str) -> None:
    if not 0 <= port <= 0xFFFF:
        raise ProxyProtocolError(f"{role} port {port} is outside 0-65535")


def _without_zone(host: str) -> str:
    """An IPv6 address without its zone id (``fe80::1%eth0``); an IPv4 one has none."""
    return host.split("%", 1)[0] if ":" in host else host


def _ip(address: Address, role: str) -> IPAddress:
    host, port = address
    _check_port(port, role)
    try:
        ip = ipaddress.ip_address(_without_zone(host))
    except ValueError:
        raise ProxyProtocolError(f"{role} address {host!r} is not an IP address") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _pair(src: Address, dst: Address) -> tuple[IPAddress, IPAddress]:
    s, d = _ip(src, "source"), _ip(dst, "destination")
    if s.version != d.version:
        raise ProxyProtocolError(
            f"source {s} and destination {d} are of different address families"
        )
    return s, d


def encode_v1(src: Address, dst: Address) -> bytes:
    """``PROXY TCP4|TCP6 src dst sport dport\\r\\n``; the family follows the addresses."""
    s, d = _pair(src, dst)
    family = "TCP4" if s.version == 4 else "TCP6"
    return f"PROXY {family} {s} {d} {src[1]} {dst[1]}\r\n".encode("ascii")


def _packed(address: Address, role: str) -> bytes:
    """The address in network order: 4 bytes for IPv4 (and IPv4-mapped IPv6), else 16.

    inet_pton, not `ipaddress`: the binary headers are written once per connection or
    flow, and parsing with `ipaddress` was most of the 4 µs a v2 header took."""
    host, port = address
    _check_port(port, role)
    try:
        if ":" not in host:
            return socket.inet_pton(socket.AF_INET, host)
        packed = socket.inet_pton(socket.AF_INET6, _without_zone(host))
    except (OSError, ValueError):  # ValueError: an embedded NUL
        raise ProxyProtocolError(f"{role} address {host!r} is not an IP address") from None
    return packed[12:] if packed[:12] == _V4_MAPPED else packed


def encode_v2(src: Address, dst: Address, *, dgram: bool) -> bytes:
    """A v2 PROXY-command header: TCP4/TCP6, or UDP4/UDP6 when `dgram`."""
    s, d = _packed(src, "source"), _packed(dst, "destination")
    if len(s) != len(d):
        raise ProxyProtocolError(
            f"source {src[0]} and destination {dst[0]} are of different address families"
        )
    family = _FAM_INET if len(s) == 4 else _FAM_INET6
    proto = _PROTO_DGRAM if dgram else _PROTO_STREAM
    block = s + d + struct.pack("!HH", src[1], dst[1])
    return (
        V2_SIGNATURE
        + bytes((_V2_VERSION | _V2_PROXY, family << 4 | proto))
        + struct.pack("!H", len(block))
        + block
    )


def encode_v2_local() -> bytes:
    """A v2 LOCAL header (a connection of the proxy's own, e.g. a health check)."""
    return V2_SIGNATURE + bytes((_V2_VERSION | _V2_LOCAL, 0)) + b"\x00\x00"


def _mapped(packed: bytes) -> bytes:
    return _V4_MAPPED + packed if len(packed) == 4 else packed


def encode_spp(client: Address, proxy: Address) -> bytes:
    """The 38-byte SPP header: magic, client and proxy as 16-byte IPv6 (IPv4 mapped), ports."""
    c, p = _packed(client, "client"), _packed(proxy, "proxy")
    return _SPP.pack(SPP_MAGIC, _mapped(c), _mapped(p), client[1], proxy[1])


# -- parsers ---------------------------------------------------------------------------


def strip_spp_reply(datagram: bytes) -> bytes:
    """A reply from an SPP origin without its header, if it carries one.

    Origins may echo the SPP header on replies or not; a reply is stripped only when
    it is long enough and starts with the magic, otherwise it is passed on as is.
    """
    if len(datagram) >= SPP_LENGTH and datagram[:2] == SPP_MAGIC.to_bytes(2, "big"):
        return bytes(datagram[SPP_LENGTH:])
    return datagram
