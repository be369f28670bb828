"""Resolver: IP literals, hosts file, DNS TTLs, coalescing, negative caching, serve-stale.

DNS answers come from a real UDP DNS server on 127.0.0.1 (tests/agent_features/dns_server.py).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from l4agent.dataplane.resolver import ResolveError, Resolver, parse_hosts

from tests.agent_features.dns_server import DnsServer
from tests.ports import AGENT_FEATURES, free_port


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    with DnsServer(free_port(AGENT_FEATURES)) as server:
        yield server


def make_resolver(server: DnsServer, tmp_path: Path, **kw: float) -> Resolver:
    hosts = tmp_path / "hosts"
    if not hosts.exists():
        hosts.write_text("127.0.0.9 pinned.test\n")
    return Resolver(nameservers=["127.0.0.1"], port=server.port, hosts_file=hosts, **kw)


def test_ip_literals_pass_through_without_a_query(dns_server: DnsServer, tmp_path: Path) -> None:
    r = make_resolver(dns_server, tmp_path)

    async def go() -> list[list[str]]:
        return [await r.resolve(h) for h in ("10.0.0.1", "::1", "[2001:db8::1]", "2001:DB8::0:1")]

    assert asyncio.run(go()) == [["10.0.0.1"], ["::1"], ["2001:db8::1"], ["2001:db8::1"]]
    assert sum(dns_server.queries.values()) == 0


def test_system_hosts_file_resolves_localhost() -> None:
    assert "127.0.0.1" in asyncio.run(Resolver().resolve("localhost"))


def test_hosts_file_first_and_reloaded_on_change(dns_server: DnsServer, tmp_path: Path) -> None:
    dns_server.records["pinned.test"] = [("A", "192.0.2.1", 60)]
    r = make_resolver(dns_server, tmp_path)
    assert asyncio.run(r.resolve("Pinned.Test.")) == ["127.0.0.9"]
    assert dns_server.count("pinned.test") == 0
    time.sleep(1.1)  # the hosts file is re-checked at most once a second
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.10 pinned.test\n::1 pinned.test other.test\n")
    os.utime(hosts, (time.time() + 5, time.time() + 5))  # a distinct mtime on coarse clocks
    assert asyncio.run(r.resolve("pinned.test")) == ["127.0.0.10", "::1"]


def test_parse_hosts_skips_comments_and_garbage() -> None:
    text = "# comment\n127.0.0.1 localhost lh  # trailing\nnot-an-ip name\n\n::1 localhost\n"
    assert parse_hosts(text) == {"localhost": ("127.0.0.1", "::1"), "lh": ("127.0.0.1",)}


def test_dns_answer_cached_for_its_ttl(dns_server: DnsServer, tmp_path: Path) -> None:
    dns_server.records["game.test"] = [("A", "127.0.0.2", 1), ("AAAA", "::1", 1)]
    r = make_resolver(dns_server, tmp_path)

    async def go() -> None:
        assert await r.resolve("game.test") == ["127.0.0.2", "::1"]
        assert await r.resolve("game.test") == ["127.0.0.2", "::1"]
        assert dns_server.queries[("game.test", "A")] == 1
        dns_server.records["game.test"] = [("A", "127.0.0.3", 300)]
        await asyncio.sleep(1.2)  # past the 1 s TTL
        assert await r.resolve("game.test") == ["127.0.0.3"]
        assert dns_server.queries[("game.test", "A")] == 2
        dns_server.records["game.test"] = [("A", "127.0.0.4", 300)]
        assert await r.resolve("game.test") == ["127.0.0.3"]  # 300 s TTL: still cached

    asyncio.run(go())


def test_max_ttl_caps_long_ttls(dns_server: DnsServer, tmp_path: Path) -> None:
    dns_server.records["long.test"] = [("A", "127.0.0.2", 86400)]
    r = make_resolver(dns_server, tmp_path, max_ttl=0.5)

    async def go() -> None:
        await r.resolve("long.test")
        await asyncio.sleep(0.6)
        await r.resolve("long.test")

    asyncio.run(go())
    assert dns_server.queries[("long.test", "A")] == 2


def test_concurrent_lookups_share_one_query(tmp_path: Path) -> None:
    with DnsServer(free_port(AGENT_FEATURES), delay=0.2) as server:
        server.records["busy.test"] = [("A", "127.0.0.5", 60)]
        r = make_resolver(server, tmp_path)

        async def go() -> list[list[str]]:
            return await asyncio.gather(*(r.resolve("busy.test") for _ in range(50)))

        assert asyncio.run(go()) == [["127.0.0.5"]] * 50
        assert server.queries == {("busy.test", "A"): 1, ("busy.test", "AAAA"): 1}


def test_cancelled_caller_does_not_cancel_the_shared_query(tmp_path: Path) -> None:
    with DnsServer(free_port(AGENT_FEATURES), delay=0.2) as server:
        server.records["shared.test"] = [("A", "127.0.0.6", 60)]
        r = make_resolver(server, tmp_path)

        async def go() -> list[str]:
            impatient = asyncio.ensure_future(r.resolve("shared.test"))
            patient = asyncio.ensure_future(r.resolve("shared.test"))
            await asyncio.sleep(0.05)
            impatient.cancel()
            return await patient

        assert asyncio.run(go()) == ["127.0.0.6"]


def test_nxdomain_is_a_clear_error_and_negatively_cached(
    dns_server: DnsServer, tmp_path: Path
) -> None:
    r = make_resolver(dns_server, tmp_path, negative_ttl=30)

    async def go() -> None:
        for _ in range(3):
            with pytest.raises(ResolveError, match=r"'missing\.test'.*NXDOMAIN"):
                await r.resolve("missing.test")

    asyncio.run(go())
    assert dns_server.queries[("missing.test", "A")] == 1


def test_name_without_addresses(dns_server: DnsServer, tmp_path: Path) -> None:
    dns_server.records["empty.test"] = []
    r = make_resolver(dns_server, tmp_path)
    with pytest.raises(ResolveError, match="no A or AAAA records"):
        asyncio.run(r.resolve("empty.test"))


def test_timeout_names_host_and_time(dns_server: DnsServer, tmp_path: Path) -> None:
    dns_server.mode = "drop"
    r = make_resolver(dns_server, tmp_path, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(ResolveError, match=r"'silent\.test'.*timed out after 0.3s"):
        asyncio.run(r.resolve("silent.test"))
    assert time.monotonic() - started < 20  # bounded by the 0.3 s timeout, not the default


def test_servfail(dns_server: DnsServer, tmp_path: Path) -> None:
    dns_server.mode = "servfail"
    r = make_resolver(dns_server, tmp_path)
    with pytest.raises(ResolveError, match="SERVFAIL"):
        asyncio.run(r.resolve("broken.test"))


def test_expired_answer_served_stale_through_a_dns_outage(
    dns_server: DnsServer, tmp_path: Path
) -> None:
    dns_server.records["flaky.test"] = [("A", "127.0.0.7", 1)]
    r = make_resolver(dns_server, tmp_path, negative_ttl=0.1, stale_ttl=2.0)

    async def go() -> None:
        assert await r.resolve("flaky.test") == ["127.0.0.7"]
        dns_server.mode = "servfail"
        await asyncio.sleep(1.1)
        assert await r.resolve("flaky.test") == ["127.0.0.7"]  # stale, within 2 s
        await asyncio.sleep(2.1)  # beyond stale_ttl
        with pytest.raises(ResolveError, match="SERVFAIL"):
            await r.resolve("flaky.test")

    asyncio.run(go())


@pytest.mark.parametrize("bad", ["", "bad..name", "-x.test", "a" * 64 + ".test", "sp ace.test"])
def test_invalid_hostnames_refused_without_a_query(
    bad: str, dns_server: DnsServer, tmp_path: Path
) -> None:
    r = make_resolver(dns_server, tmp_path)
    with pytest.raises(ResolveError, match="not a valid hostname"):
        asyncio.run(r.resolve(bad))
    assert sum(dns_server.queries.values()) == 0


def test_peek_answers_only_what_needs_no_query(dns_server: DnsServer, tmp_path: Path) -> None:
    dns_server.records["peek.test"] = [("A", "127.0.0.8", 60)]
    r = make_resolver(dns_server, tmp_path)
    assert r.peek("10.0.0.1") == ["10.0.0.1"]
    assert r.peek("pinned.test") == ["127.0.0.9"]
    assert r.peek("peek.test") is None
    asyncio.run(r.resolve("peek.test"))
    assert r.peek("peek.test") == ["127.0.0.8"]
    with pytest.raises(ResolveError, match="NXDOMAIN"):
        asyncio.run(r.resolve("nx.test"))
    with pytest.raises(ResolveError, match="NXDOMAIN"):
        r.peek("nx.test")  # the negative answer is cached too
    assert dns_server.queries[("peek.test", "A")] == 1
