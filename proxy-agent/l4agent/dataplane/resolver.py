"""Asynchronous hostname resolution for origins, with a cache that honours DNS TTLs.

Order of lookup for a host:

1. an IP literal (``10.0.0.1``, ``::1``, ``[::1]``) is returned as is, without a lookup;
2. the hosts file (``/etc/hosts``), so ``localhost`` and pinned names work as they do
   for every other program on the node; it is re-read when its modification time
   changes (checked at most once a second);
3. DNS: A and AAAA queried concurrently with dnspython's asyncio resolver; the answer
   is cached for its TTL (the smallest TTL along a CNAME chain, capped at ``max_ttl``).

Negative answers (NXDOMAIN, no A/AAAA records) and failures are cached for
``negative_ttl`` so a broken name does not cost a DNS round trip per connection.
When a refresh fails for a transient reason (timeout, SERVFAIL) and an expired answer
is at most ``stale_ttl`` old, that answer is served again (RFC 8767 "serve stale"):
an origin keeps working through a short DNS outage. Concurrent lookups of one name
share a single query.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import time
from dataclasses import dataclass
from pathlib import Path

import dns.asyncresolver
import dns.exception
import dns.resolver

from l4agent.spec.names import is_hostname

DEFAULT_HOSTS_FILE = Path("/etc/hosts")
_HOSTS_RECHECK_S = 1.0


class ResolveError(Exception):
    """A host could not be resolved; the message names the host and the reason."""

    def __init__(self, host: str, reason: str) -> None:
        self.host = host
        self.reason = reason
        super().__init__(f"cannot resolve {host!r}: {reason}")


def ip_literal(host: str) -> str | None:
    """The normalised address when `host` is an IP literal (brackets allowed), else None."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@dataclass(slots=True)
class _Entry:
    addresses: tuple[str, ...]  # empty for a negative entry
    expires: float  # monotonic time
    stale_until: float  # monotonic time up to which the addresses may be served stale
    error: str = ""  # the reason of a negative entry


class _HostsFile:
    """The hosts file as a name -> addresses map, re-read when it changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._mtime: float | None = None
        self._checked = float("-inf")
        self._names: dict[str, tuple[str, ...]] = {}

    def lookup(self, name: str) -> tuple[str, ...]:
        now = time.monotonic()
        if now - self._checked >= _HOSTS_RECHECK_S:
            self._checked = now
            self._reload_if_changed()
        return self._names.get(name, ())

    def _reload_if_changed(self) -> None:
        try:
            mtime = os.stat(self._path).st_mtime
        except OSError:
            self._names, self._mtime = {}, None
            return
        if mtime == self._mtime:
            return
        self._mtime = mtime
        try:
            text = self._path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            self._names = {}
            return
        self._names = parse_hosts(text)


def parse_hosts(text: str) -> dict[str, tuple[str, ...]]:
    """Parse hosts-file text: `address name [alias...]` lines, `#` comments, file order kept."""
    names: dict[str, list[str]] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        address = ip_literal(fields[0])
        if address is None:
            continue
        for name in fields[1:]:
            known = names.setdefault(name.lower().rstrip("."), [])
            if address not in known:
                known.append(address)
    return {name: tuple(addresses) for name, addresses in names.items()}


class Resolver:
    """One per process. `resolve(host)` returns IP literals or raises `ResolveError`.

    `nameservers`/`port` override the system configuration (``/etc/resolv.conf``);
    `timeout` bounds one lookup (both record types, all retries).
    """

    def __init__(
        self,
        *,
        nameservers: list[str] | None = None,
        port: int = 53,
        hosts_file: Path | str | None = DEFAULT_HOSTS_FILE,
        timeout: float = 5.0,
        negative_ttl: float = 5.0,
        max_ttl: float = 3600.0,
        stale_ttl: float = 300.0,
    ) -> None:
        self._nameservers = nameservers
        self._port = port
        self._hosts = _HostsFile(Path(hosts_file)) if hosts_file is not None else None
        self._timeout = timeout
        self._negative_ttl = negative_ttl
        self._max_ttl = max_ttl
        self._stale_ttl = stale_ttl
        self._dns: dns.asyncresolver.Resolver | None = None
        self._cache: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Future[_Entry]] = {}

    async def resolve(self, host: str) -> list[str]:
        known = self.peek(host)
        if known is not None:
            return known
        entry = await self._lookup_coalesced(host.lower().rstrip("."))
        if not entry.addresses:
            raise ResolveError(host, entry.error)
        return list(entry.addresses)

    def peek(self, host: str) -> list[str] | None:
        """The answer when it is known without a query (a literal, the hosts file, a
        fresh cache entry), None when `resolve` would have to ask DNS. Synchronous, so
        the relay's hot path needs no task when every name is cached."""
        literal = ip_literal(host)
        if literal is not None:
            return [literal]
        name = host.lower().rstrip(".")
        if not is_hostname(name):
            raise ResolveError(host, "not a valid hostname")
        if self._hosts is not None:
            pinned = self._hosts.lookup(name)
            if pinned:
                return list(pinned)
        entry = self._cache.get(name)
        if entry is None or entry.expires <= time.monotonic():
            return None
        if not entry.addresses:
            raise ResolveError(host, entry.error)
        return list(entry.addresses)

    async def _lookup_coalesced(self, name: str) -> _Entry:
        future = self._inflight.get(name)
        if future is None:
            future = asyncio.ensure_future(self._lookup(name))
            self._inflight[name] = future
            future.add_done_callback(lambda _f: self._inflight.pop(name, None))
        # shield: one caller giving up (its connection closed) must not cancel the
        # query the other callers wait for
        return await asyncio.shield(future)

    async def _lookup(self, name: str) -> _Entry:
        try:
            resolver = self._dns_resolver()
        except dns.resolver.NoResolverConfiguration:
            return self._store(name, (), self._negative_ttl, "no DNS servers configured")
        queries = [
            resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
            for rdtype in ("A", "AAAA")
        ]
        results = await asyncio.gather(*queries, return_exceptions=True)
        addresses: list[str] = []
        ttls: list[float] = []
        errors: list[BaseException] = []
        for result in results:
            if isinstance(result, dns.resolver.Answer):
                if result.rrset is not None:
                    addresses.extend(rdata.address for rdata in result.rrset)
                    ttls.append(result.expiration - time.time())
            elif isinstance(result, Exception):
                errors.append(result)
            else:  # CancelledError and friends: not ours to swallow
                raise result
        if addresses:
            return self._store(name, tuple(addresses), min(ttls), "")
        if not errors:
            return self._store(name, (), self._negative_ttl, "the name has no A or AAAA records")
        if any(isinstance(e, dns.resolver.NXDOMAIN) for e in errors):
            return self._store(name, (), self._negative_ttl, "no such domain (NXDOMAIN)")
        reason = _describe(errors[0], self._timeout)
        stale = self._cache.get(name)
        now = time.monotonic()
        if stale and stale.addresses and now < stale.stale_until:
            entry = _Entry(stale.addresses, now + self._negative_ttl, stale.stale_until)
            self._cache[name] = entry
            return entry
        return self._store(name, (), self._negative_ttl, reason)

    def _store(self, name: str, addresses: tuple[str, ...], ttl: float, error: str) -> _Entry:
        expires = time.monotonic() + min(max(ttl, 0.0), self._max_ttl)
        entry = _Entry(addresses, expires, expires + self._stale_ttl, error)
        self._cache[name] = entry
        return entry

    def _dns_resolver(self) -> dns.asyncresolver.Resolver:
        if self._dns is None:
            if self._nameservers is None:
                resolver = dns.asyncresolver.Resolver()
            else:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = list(self._nameservers)
            resolver.port = self._port
            resolver.lifetime = self._timeout
            self._dns = resolver
        return self._dns


def _describe(error: BaseException, timeout: float) -> str:
    if isinstance(error, dns.resolver.LifetimeTimeout | dns.exception.Timeout):
        return f"DNS lookup timed out after {timeout:g}s"
    if isinstance(error, dns.resolver.NoNameservers):
        return "no DNS server answered (SERVFAIL or refused)"
    return f"DNS lookup failed: {error}"
