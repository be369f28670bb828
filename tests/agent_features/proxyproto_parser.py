"""A test-side parser of PROXY v1/v2 headers and SPP datagrams: incremental and strict.

The agent only writes these headers, so their parser lives with the tests, with its
own constants: given the bytes received so far it returns a `ProxyHeader` once the
whole header is there, ``None`` while a valid prefix still needs more bytes, and
raises `ProxyProtocolError` as soon as the bytes cannot be a valid header (garbage,
a bad field, or longer than the limit). tests/reliability fuzzes it as well; it is
the second reader beside pp_reference.py, and is checked against the
`proxy-protocol` package.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Literal

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

Address = tuple[str, int]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ProxyProtocolError(ValueError):
    """Bytes that are not a valid header."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A parsed PROXY v1 or v2 header.

    `source`/`dest` are None for a v2 LOCAL command, for v1 ``UNKNOWN``, and for v2
    UNSPEC or AF_UNIX addresses: the receiver then uses the connection's own
    endpoints. `length` is the number of bytes the header occupies; the payload
    starts right after it.
    """

    version: Literal[1, 2]
    command: Literal["proxy", "local"]
    transport: Literal["tcp", "udp"] | None
    source: Address | None
    dest: Address | None
    length: int
    tlvs: tuple[tuple[int, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class SppHeader:
    """A Simple Proxy Protocol header; IPv4-mapped addresses are given as IPv4."""

    client: Address
    proxy: Address


def parse(data: bytes) -> ProxyHeader | None:
    """A v1 or v2 header, told apart by their first bytes (incremental, see module doc)."""
    if data[:1] == V1_PREFIX[:1]:
        return parse_v1(data)
    if data[:1] == V2_SIGNATURE[:1]:
        return parse_v2(data)
    if not data:
        return None
    raise ProxyProtocolError(
        "not a PROXY protocol header: it starts with neither 'PROXY' nor the v2 signature"
    )


def parse_v1(data: bytes) -> ProxyHeader | None:
    """The human-readable header at the start of `data` (incremental)."""
    head = bytes(data[:V1_MAX_LENGTH])
    if not head.startswith(V1_PREFIX[: len(head)]):
        raise ProxyProtocolError("not a PROXY v1 header: it does not start with 'PROXY '")
    end = head.find(b"\r\n")
    if end < 0:
        _check_v1_partial(head)
        if len(data) >= V1_MAX_LENGTH:
            raise ProxyProtocolError(
                f"PROXY v1 header too long: no CRLF in the first {V1_MAX_LENGTH} bytes"
            )
        return None
    line = head[:end]
    if b"\r" in line or b"\n" in line:
        raise ProxyProtocolError("PROXY v1 header has a lone CR or LF before the CRLF")
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise ProxyProtocolError("PROXY v1 header has non-ASCII bytes") from None
    fields = text.split(" ")
    length = end + 2
    if len(fields) >= 2 and fields[1] == "UNKNOWN":
        return ProxyHeader(1, "proxy", None, None, None, length)
    if len(fields) != 6:
        raise ProxyProtocolError(
            f"PROXY v1 header needs 6 fields separated by single spaces, "
            f"got {len(fields)}: {text!r}"
        )
    _, family, src_ip, dst_ip, src_port, dst_port = fields
    if family not in ("TCP4", "TCP6"):
        raise ProxyProtocolError(f"PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN, got {family!r}")
    version = 4 if family == "TCP4" else 6
    source = (_v1_address(src_ip, version, "source"), _v1_port(src_port, "source"))
    dest = (_v1_address(dst_ip, version, "destination"), _v1_port(dst_port, "destination"))
    return ProxyHeader(1, "proxy", "tcp", source, dest, length)


def _check_v1_partial(head: bytes) -> None:
    """Fail early on bytes that no complete v1 line could contain."""
    bad = next((b for b in head.rstrip(b"\r") if b < 0x20 or b > 0x7E), None)
    if bad is not None:
        raise ProxyProtocolError(f"PROXY v1 header has an invalid byte 0x{bad:02x}")


def _v1_address(text: str, version: int, role: str) -> str:
    try:
        if "%" in text:  # a zone id is not part of the canonical format
            raise ValueError(text)
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise ProxyProtocolError(f"PROXY v1 {role} address {text!r} is not valid") from None
    if ip.version != version:
        raise ProxyProtocolError(f"PROXY v1 {role} address {text!r} does not match TCP{version}")
    return str(ip)


def _v1_port(text: str, role: str) -> int:
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise ProxyProtocolError(
            f"PROXY v1 {role} port {text!r} is not a decimal without leading zeros"
        )
    port = int(text)
    if port > 0xFFFF:
        raise ProxyProtocolError(f"PROXY v1 {role} port {port} is outside 0-65535")
    return port


def parse_v2(data: bytes, *, max_length: int = V2_MAX_LENGTH) -> ProxyHeader | None:
    """The binary header at the start of `data` (incremental)."""
    head = bytes(data[:V2_HEADER_LENGTH])
    _check_v2_prefix(head)
    if len(head) < V2_HEADER_LENGTH:
        return None
    command, family, proto = head[12] & 0x0F, head[13] >> 4, head[13] & 0x0F
    (block_length,) = struct.unpack_from("!H", head, 14)
    total = V2_HEADER_LENGTH + block_length
    if total > max_length:
        raise ProxyProtocolError(
            f"PROXY v2 header of {total} bytes is longer than the {max_length}-byte limit"
        )
    if len(data) < total:
        return None
    block = bytes(data[V2_HEADER_LENGTH:total])
    if command == _V2_LOCAL:
        return ProxyHeader(2, "local", None, None, None, total)
    needed = _ADDR_LENGTH.get(family, 0)
    if len(block) < needed:
        raise ProxyProtocolError(
            f"PROXY v2 address block of {len(block)} bytes is too short for its family "
            f"(needs {needed})"
        )
    tlvs = _parse_tlvs(block[needed:])
    if family not in (_FAM_INET, _FAM_INET6) or proto == _PROTO_UNSPEC:
        # UNSPEC, or AF_UNIX which we do not implement: fall back to UNSPEC as the
        # specification allows, ignoring the address information
        return ProxyHeader(2, "proxy", None, None, None, total, tlvs)
    size = 4 if family == _FAM_INET else 16
    src = ipaddress.ip_address(block[:size])
    dst = ipaddress.ip_address(block[size : 2 * size])
    src_port, dst_port = struct.unpack_from("!HH", block, 2 * size)
    transport: Literal["tcp", "udp"] = "tcp" if proto == _PROTO_STREAM else "udp"
    source, dest = (str(src), src_port), (str(dst), dst_port)
    return ProxyHeader(2, "proxy", transport, source, dest, total, tlvs)


def _check_v2_prefix(head: bytes) -> None:
    """Validate the signature, version/command and family/protocol bytes present so far."""
    signature = head[: len(V2_SIGNATURE)]
    if signature != V2_SIGNATURE[: len(signature)]:
        raise ProxyProtocolError("not a PROXY v2 header: the 12-byte signature does not match")
    if len(head) > 12:
        version, command = head[12] >> 4, head[12] & 0x0F
        if version != _V2_VERSION >> 4:
            raise ProxyProtocolError(f"PROXY v2 version must be 2, got {version}")
        if command not in (_V2_LOCAL, _V2_PROXY):
            raise ProxyProtocolError(f"PROXY v2 command 0x{command:x} is neither LOCAL nor PROXY")
    if len(head) > 13:
        family, proto = head[13] >> 4, head[13] & 0x0F
        if family > _FAM_UNIX:
            raise ProxyProtocolError(f"PROXY v2 address family 0x{family:x} is not defined")
        if proto > _PROTO_DGRAM:
            raise ProxyProtocolError(f"PROXY v2 transport protocol 0x{proto:x} is not defined")


def _parse_tlvs(data: bytes) -> tuple[tuple[int, bytes], ...]:
    tlvs = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < 3:
            raise ProxyProtocolError(f"PROXY v2 TLV at offset {offset} is truncated")
        kind, length = data[offset], struct.unpack_from("!H", data, offset + 1)[0]
        end = offset + 3 + length
        if end > len(data):
            raise ProxyProtocolError(
                f"PROXY v2 TLV 0x{kind:02x} at offset {offset} claims {length} bytes, "
                f"{len(data) - offset - 3} left"
            )
        tlvs.append((kind, data[offset + 3 : end]))
        offset = end
    return tuple(tlvs)


def decode_spp(datagram: bytes) -> tuple[SppHeader, bytes]:
    """Split an SPP datagram into its header and payload."""
    if len(datagram) < SPP_LENGTH:
        raise ProxyProtocolError(
            f"SPP datagram of {len(datagram)} bytes is shorter than the {SPP_LENGTH}-byte header"
        )
    magic, client, proxy, client_port, proxy_port = _SPP.unpack_from(datagram)
    if magic != SPP_MAGIC:
        raise ProxyProtocolError(f"SPP magic must be 0x{SPP_MAGIC:04X}, got 0x{magic:04X}")
    header = SppHeader((_unmapped(client), client_port), (_unmapped(proxy), proxy_port))
    return header, bytes(datagram[SPP_LENGTH:])


def _unmapped(packed: bytes) -> str:
    ip = ipaddress.IPv6Address(packed)
    return str(ip.ipv4_mapped or ip)
