"""A site's `dns` block: the authoritative server of its zone, the TSIG key that signs
every message to it, and the TTL of the records l4plan publishes there.

The rules of the block's values live here once: the constraints (L4E021) report a
value that breaks them at the value, and `site_settings` reads a block that passed.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass
from typing import Any

from l4plan.configs.validation.names import hostname_problem

DEFAULT_TTL = 300
MAX_TTL = 2**31 - 1  # RFC 2181, section 8
# the TSIG algorithms the block accepts, as BIND and dnspython spell them
ALGORITHMS: dict[str, str] = {
    "hmac-md5": "hmac-md5.sig-alg.reg.int.",
    "hmac-sha1": "hmac-sha1.",
    "hmac-sha224": "hmac-sha224.",
    "hmac-sha256": "hmac-sha256.",
    "hmac-sha384": "hmac-sha384.",
    "hmac-sha512": "hmac-sha512.",
}
MAX_LABEL = 63  # octets of one label of a domain name (RFC 1035)
MAX_NAME = 253


@dataclass(frozen=True, slots=True)
class DnsSettings:
    """Where and how one zone's records are published. `secret` is never printed:
    `repr` leaves it out, and messages name the server only."""

    zone: str
    host: str
    port: int
    key_name: str
    algorithm: str  # a key of ALGORITHMS
    secret: str
    ttl: int

    @property
    def server(self) -> str:
        """`host:port` as written (IPv6 in brackets), the name every message uses."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"DnsSettings(zone={self.zone!r}, server={self.server!r}, key={self.key_name!r})"


def parse_server(text: str) -> tuple[str, int]:
    """`192.0.2.53:53`, `[2001:db8::53]:53` or `ns1.example.net:53` → (host, port),
    the host in one spelling (an address in its short form, a name in lower case), so
    that two spellings of one server are one server. Raises ValueError with what is
    wrong."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError("an IPv6 address must be written [ADDRESS]:PORT")
        try:
            host = ipaddress.IPv6Address(host).compressed
        except ValueError:
            raise ValueError(f'"{host}" is not an IPv6 address') from None
    else:
        host, sep, port = text.rpartition(":")
        if not sep or not host:
            raise ValueError("it must be HOST:PORT, such as 192.0.2.53:53")
        try:
            host = ipaddress.IPv4Address(host).compressed
        except ValueError:
            if hostname_problem(host.removesuffix(".")):
                raise ValueError(f'"{host}" is neither an IPv4 address nor a host name') from None
            host = host.lower()
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise ValueError(f'port "{port}" must be a number from 1 to 65535')
    return host, int(port)


def key_name_problem(name: str) -> str | None:
    """Why `name` cannot name a TSIG key (a domain name, as the server writes it), or
    None."""
    labels = name.removesuffix(".").split(".")
    if not name or len(name.removesuffix(".")) > MAX_NAME:
        return f"must be a domain name of 1 to {MAX_NAME} characters"
    if not name.isascii() or not name.isprintable() or " " in name:
        return "may hold only printable ASCII characters, no spaces"
    if any(not label or len(label) > MAX_LABEL for label in labels):
        return f"has an empty label or one longer than {MAX_LABEL} characters"
    return None


def secret_problem(secret: str) -> str | None:
    """Why `secret` is not a usable TSIG secret (base64, as BIND writes it), or None.
    The message never repeats the secret."""
    try:
        decoded = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        return "is not base64 (copy it from the key file the server uses)"
    if not decoded:
        return "is empty"
    return None


def site_settings(site: dict[str, Any] | None) -> DnsSettings | None:
    """The settings of a site's attributes, or None without a (usable) `dns` block.

    A block that breaks the rules above gives None: the constraints have reported
    it, and a state written by a version that allowed it cannot be published to.
    """
    block = site.get("dns") if site else None
    if not isinstance(block, dict):
        return None
    key = block.get("tsig_key")
    server, ttl = block.get("server"), block.get("ttl", DEFAULT_TTL)
    if ttl is None:
        ttl = DEFAULT_TTL
    if not isinstance(key, dict) or not isinstance(server, str) or not isinstance(ttl, int):
        return None
    name, algorithm, secret = key.get("name"), key.get("algorithm"), key.get("secret")
    if not (isinstance(name, str) and isinstance(secret, str) and algorithm in ALGORITHMS):
        return None
    if key_name_problem(name):
        return None
    try:
        host, port = parse_server(server)
    except ValueError:
        return None
    if secret_problem(secret) or not 0 <= ttl <= MAX_TTL:
        return None
    zone = str(site.get("name", "")).lower().removesuffix(".") if site else ""
    return DnsSettings(zone, host, port, name, str(algorithm), secret, ttl)
