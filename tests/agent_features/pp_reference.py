"""A test-only reader of PROXY v1/v2 and SPP headers, written from the specification texts.

Independent of l4agent.protocols.proxyproto on purpose: the agent's writers are checked against
this reader, so the two share no code, not even constants. Sources: HAProxy
doc/proxy-protocol.txt (sections 2.1 and 2.2) and Cloudflare's "Simple Proxy Protocol
Header" page. Addresses are decoded with socket.inet_ntop, not ipaddress.

`read_proxy_header(sock)` is for origins in end-to-end tests: it reads exactly the
header from a blocking TCP socket (never more), so the payload stays in the socket.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field


class SpecViolation(Exception):
    """The bytes break the specification."""


@dataclass
class Parsed:
    version: int  # 1 or 2
    command: str  # "PROXY" or "LOCAL"
    family: str  # TCP4, TCP6, UDP4, UDP6, UNKNOWN (v1) or UNSPEC (v2)
    src: tuple[str, int] | None
    dst: tuple[str, int] | None
    size: int  # header bytes, the payload starts after them
    tlvs: list[tuple[int, bytes]] = field(default_factory=list)


def _decimal(text: str, what: str) -> int:
    # "Heading zeroes are not permitted in front of numbers"
    if not text or not all("0" <= ch <= "9" for ch in text) or (len(text) > 1 and text[0] == "0"):
        raise SpecViolation(f"bad {what}: {text!r}")
    value = int(text)
    if value > 65535:
        raise SpecViolation(f"{what} out of range: {value}")
    return value


def _ipv4_text(text: str) -> str:
    parts = text.split(".")
    if len(parts) != 4:
        raise SpecViolation(f"bad IPv4 address {text!r}")
    for part in parts:
        if _decimal(part, "IPv4 byte") > 255:
            raise SpecViolation(f"bad IPv4 address {text!r}")
    return text


def _ipv6_text(text: str) -> str:
    try:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text))
    except OSError:
        raise SpecViolation(f"bad IPv6 address {text!r}") from None


def parse_v1(data: bytes) -> Parsed:
    """Section 2.1: one US-ASCII line, at most 107 bytes including CRLF."""
    crlf = data.find(b"\r\n", 0, 107)
    if crlf == -1:
        raise SpecViolation("no CRLF within the first 107 bytes")
    line = data[:crlf].decode("ascii")
    if not line.startswith("PROXY "):
        raise SpecViolation("missing 'PROXY '")
    words = line[len("PROXY ") :].split(" ")
    if words[0] == "UNKNOWN":
        return Parsed(1, "PROXY", "UNKNOWN", None, None, crlf + 2)
    if len(words) != 5 or words[0] not in ("TCP4", "TCP6"):
        raise SpecViolation(f"bad line {line!r}")
    address = _ipv4_text if words[0] == "TCP4" else _ipv6_text
    src = (address(words[1]), _decimal(words[3], "source port"))
    dst = (address(words[2]), _decimal(words[4], "destination port"))
    return Parsed(1, "PROXY", words[0], src, dst, crlf + 2)


_SIG = bytes([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A])
_FAMILY_NAMES = {0x11: "TCP4", 0x12: "UDP4", 0x21: "TCP6", 0x22: "UDP6"}


def parse_v2(data: bytes) -> Parsed:
    """Section 2.2: 12-byte signature, ver/cmd, fam, 2-byte length, address block, TLVs."""
    if len(data) < 16:
        raise SpecViolation("shorter than the 16-byte fixed header")
    if data[:12] != _SIG:
        raise SpecViolation("bad signature")
    if data[12] >> 4 != 2:
        raise SpecViolation("version is not 2")
    command = {0: "LOCAL", 1: "PROXY"}.get(data[12] & 0xF)
    if command is None:
        raise SpecViolation("unassigned command")
    length = data[14] * 256 + data[15]
    if len(data) < 16 + length:
        raise SpecViolation("address block incomplete")
    block = data[16 : 16 + length]
    if command == "LOCAL":
        return Parsed(2, "LOCAL", "UNSPEC", None, None, 16 + length)
    family = _FAMILY_NAMES.get(data[13], "UNSPEC")
    if family == "UNSPEC":
        return Parsed(2, "PROXY", "UNSPEC", None, None, 16 + length)
    af, width = (socket.AF_INET, 4) if family.endswith("4") else (socket.AF_INET6, 16)
    if length < 2 * width + 4:
        raise SpecViolation("address block too short for its family")
    src_ip = socket.inet_ntop(af, block[:width])
    dst_ip = socket.inet_ntop(af, block[width : 2 * width])
    src_port = block[2 * width] * 256 + block[2 * width + 1]
    dst_port = block[2 * width + 2] * 256 + block[2 * width + 3]
    tlvs = []
    rest = block[2 * width + 4 :]
    while rest:
        if len(rest) < 3 or len(rest) < 3 + rest[1] * 256 + rest[2]:
            raise SpecViolation("truncated TLV")
        size = rest[1] * 256 + rest[2]
        tlvs.append((rest[0], rest[3 : 3 + size]))
        rest = rest[3 + size :]
    return Parsed(2, "PROXY", family, (src_ip, src_port), (dst_ip, dst_port), 16 + length, tlvs)


def parse_any(data: bytes) -> Parsed:
    """Version detection as in section 2.2: the v2 signature first, then 'PROXY'."""
    if data[:12] == _SIG:
        return parse_v2(data)
    if data[:5] == b"PROXY":
        return parse_v1(data)
    raise SpecViolation("neither v1 nor v2")


def _spp_address(raw: bytes) -> str:
    # an IPv4-mapped IPv6 address is ::ffff:a.b.c.d (RFC 4291 section 2.5.5.2)
    if raw[:12] == bytes(10) + b"\xff\xff":
        return socket.inet_ntop(socket.AF_INET, raw[12:])
    return socket.inet_ntop(socket.AF_INET6, raw)


def parse_spp(datagram: bytes) -> tuple[tuple[str, int], tuple[str, int], bytes]:
    """Cloudflare SPP: magic 0x56EC, client addr, proxy addr, client port, proxy port."""
    if len(datagram) < 38:
        raise SpecViolation("shorter than 38 bytes")
    if datagram[0] != 0x56 or datagram[1] != 0xEC:
        raise SpecViolation("bad magic")
    client = (_spp_address(datagram[2:18]), datagram[34] * 256 + datagram[35])
    proxy = (_spp_address(datagram[18:34]), datagram[36] * 256 + datagram[37])
    return client, proxy, datagram[38:]


def read_proxy_header(sock: socket.socket) -> Parsed:
    """Read exactly one v1 or v2 header from a blocking TCP socket (its timeout applies)."""
    data = _recv_exact(sock, 1)
    if data == b"P":  # v1: one byte at a time up to CRLF, so no payload byte is consumed
        while not data.endswith(b"\r\n"):
            if len(data) >= 107:
                raise SpecViolation("no CRLF within the first 107 bytes")
            data += _recv_exact(sock, 1)
        return parse_v1(data)
    data += _recv_exact(sock, 15)
    length = data[14] * 256 + data[15]
    return parse_v2(data + _recv_exact(sock, length))


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise SpecViolation(f"connection closed after {len(data)} of {n} header bytes")
        data += chunk
    return data
