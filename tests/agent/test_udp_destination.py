"""UDP listeners on the agent's default wildcard binds (`0.0.0.0`, `::`) learn each
datagram's destination address: PROXY v2 and SPP headers carry the address the client
sent to, replies leave from it, and a flow is a (client, local address) pair.

127.0.0.2 and 127.0.0.3 are local addresses on Linux loopback (all of 127.0.0.0/8 is),
so one wildcard listener receives datagrams sent to either; the kernel picks 127.0.0.1
as the source for replies to a client on 127.0.0.1 unless the agent asks otherwise.
Origins read the headers with the independent reader in tests/agent_features.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from l4agent.dataplane.sockets import IP_PKTINFO, PACKET_INFO, is_wildcard

from tests.agent.harness import BIND_FLAGS, Agent, app, rule, wait_until
from tests.agent_features.pp_reference import SpecViolation, parse_spp, parse_v2
from tests.ports import free_port

PORTS = range(22000, 23000)  # this module's share of the agent-core range
TIMEOUT = 3.0


def port() -> int:
    return free_port(PORTS)


class WildcardAgent(Agent):
    """The agent with its default listener binds: no `--bind` (the harness would add
    loopback-only ones)."""

    def command(self) -> list[str]:
        command = super().command()
        assert command[-len(BIND_FLAGS) :] == list(BIND_FLAGS)
        return command[: -len(BIND_FLAGS)]


@dataclass(frozen=True)
class Record:
    src: tuple[str, int]  # from the header: the client
    dst: tuple[str, int]  # from the header: the address the client sent to
    family: str  # UDP4 / UDP6 (PROXY v2), "" for SPP
    payload: bytes
    upstream: tuple[str, int]  # the agent's upstream socket the datagram came from


class HeaderOrigin:
    """A UDP origin that reads the PROXY v2 or SPP header of every datagram, records it
    and answers ``re:`` + payload (SPP answers carry the header back, as origins may:
    the agent strips it)."""

    def __init__(self, host: str, passthrough: str) -> None:
        self.passthrough = passthrough
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, port()))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.records: list[Record] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            try:
                if self.passthrough == "proxy_v2":
                    header = parse_v2(data)
                    assert header.src is not None and header.dst is not None
                    payload = data[header.size :]
                    record = Record(header.src, header.dst, header.family, payload, sender[:2])
                    reply = b"re:" + payload
                else:
                    client, proxy, payload = parse_spp(data)
                    record = Record(client, proxy, "", payload, sender[:2])
                    reply = data[:38] + b"re:" + payload
            except (SpecViolation, AssertionError) as e:
                self.errors.append(f"{data[:40]!r}: {e}")
                continue
            self.records.append(record)
            self.sock.sendto(reply, sender)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def wildcard_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    agent = WildcardAgent(tmp_path_factory.mktemp("wildcard") / "state", "--drain-timeout", "1s")
    try:
        yield agent.start()
    finally:
        agent.kill()


@pytest.fixture
def origin_factory() -> Iterator[Any]:
    started: list[HeaderOrigin] = []

    def start(host: str, passthrough: str) -> HeaderOrigin:
        started.append(HeaderOrigin(host, passthrough))
        return started[-1]

    try:
        yield start
    finally:
        for origin in started:
            origin.close()


def client(host: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    s.bind((host, 0))
    return s


def exchange(
    c: socket.socket, dest: tuple[str, int], payload: bytes
) -> tuple[bytes, tuple[str, int]]:
    """Send one datagram; the reply and the address it came from."""
    c.sendto(payload, dest)
    data, source = c.recvfrom(65535)
    return data, source[:2]


def counters(agent: Agent, name: str) -> dict[str, int]:
    return agent.client.status([name])["apps"][0]["rules"][0]["counters"]  # type: ignore[no-any-return]


def udp_app(edge: int, origin: HeaderOrigin, passthrough: str, **options: Any) -> dict[str, Any]:
    host = origin.sock.getsockname()[0]
    return app(rule("udp", edge, origin.port, host=host, passthrough=passthrough), **options)


# ---- packet-info layouts (sans-IO) ------------------------------------------------------


def test_packet_info_layouts() -> None:
    v4 = PACKET_INFO["ipv4"]
    assert (v4.level, v4.enable, v4.kind) == (socket.IPPROTO_IP, 8, 8) and IP_PKTINFO == 8
    # struct in_pktinfo { int ipi_ifindex; struct in_addr ipi_spec_dst, ipi_addr; }
    received = struct.pack(
        "=i4s4s", 7, socket.inet_aton("192.0.2.1"), socket.inet_aton("192.0.2.255")
    )
    assert v4.address(received) == "192.0.2.255"  # the header's destination
    # a reply leaves from the local address, on whatever interface routing picks
    sent = struct.pack("=i4s4s", 0, socket.inet_aton("192.0.2.1"), bytes(4))
    assert v4.reply_control(received) == [(socket.IPPROTO_IP, 8, sent)]
    assert v4.space == socket.CMSG_SPACE(12)

    v6 = PACKET_INFO["ipv6"]
    assert (v6.level, v6.enable, v6.kind) == (socket.IPPROTO_IPV6, 49, 50)
    # struct in6_pktinfo { struct in6_addr ipi6_addr; unsigned int ipi6_ifindex; }
    address = socket.inet_pton(socket.AF_INET6, "2001:db8::7")
    received = address + struct.pack("=I", 3)
    assert v6.address(received) == "2001:db8::7"
    assert v6.reply_control(received) == [(socket.IPPROTO_IPV6, 50, address + bytes(4))]
    assert v6.space == socket.CMSG_SPACE(20)


def test_wildcard_addresses() -> None:
    assert is_wildcard("0.0.0.0") and is_wildcard("::") and is_wildcard("0:0::0")
    assert not is_wildcard("127.0.0.1") and not is_wildcard("::1")


# ---- through the agent ------------------------------------------------------------------


@pytest.mark.parametrize("passthrough", ["proxy_v2", "spp"])
def test_ipv4_headers_and_replies_use_the_address_each_client_sent_to(
    wildcard_agent: Agent, origin_factory: Any, passthrough: str
) -> None:
    origin = origin_factory("127.0.0.1", passthrough)
    edge = port()
    name = f"v4-{passthrough.replace('_', '')}.example.com"
    wildcard_agent.apply({name: udp_app(edge, origin, passthrough)})
    clients = {"127.0.0.2": client("127.0.0.1"), "127.0.0.3": client("127.0.0.1")}
    try:
        for i in range(3):
            for dest, c in clients.items():
                payload = f"{dest} {i}".encode()
                reply, source = exchange(c, (dest, edge), payload)
                assert reply == b"re:" + payload  # SPP headers on replies are stripped
                assert source == (dest, edge)  # not 127.0.0.1, the kernel's pick
        assert origin.errors == []
        assert len(origin.records) == 6
        for record in origin.records:
            dest = record.payload.split()[0].decode()
            assert record.dst == (dest, edge)
            assert record.src == clients[dest].getsockname()
            assert record.family == ("UDP4" if passthrough == "proxy_v2" else "")
    finally:
        for c in clients.values():
            c.close()
    assert counters(wildcard_agent, name)["udp_flows_total"] == 2


@pytest.mark.parametrize("passthrough", ["proxy_v2", "spp"])
def test_ipv6_headers_and_replies_use_the_address_the_client_sent_to(
    wildcard_agent: Agent, origin_factory: Any, passthrough: str
) -> None:
    origin = origin_factory("::1", passthrough)
    edge = port()
    name = f"v6-{passthrough.replace('_', '')}.example.com"
    wildcard_agent.apply({name: udp_app(edge, origin, passthrough, ipv6=True)})
    with client("::1") as c:
        for i in range(2):
            reply, source = exchange(c, ("::1", edge), b"six %d" % i)
            assert reply == b"re:six %d" % i
            assert source == ("::1", edge)
        assert origin.errors == []
        assert [r.dst for r in origin.records] == [("::1", edge)] * 2  # not ("::", edge)
        assert {r.src for r in origin.records} == {c.getsockname()[:2]}
        if passthrough == "proxy_v2":
            assert {r.family for r in origin.records} == {"UDP6"}


def test_one_client_sending_to_two_local_addresses_has_two_flows(
    wildcard_agent: Agent, origin_factory: Any
) -> None:
    origin = origin_factory("127.0.0.1", "proxy_v2")
    edge = port()
    wildcard_agent.apply({"twoflows.example.com": udp_app(edge, origin, "proxy_v2")})
    with client("127.0.0.1") as c:
        for i in range(3):
            for dest in ("127.0.0.2", "127.0.0.3"):
                reply, source = exchange(c, (dest, edge), f"{dest} {i}".encode())
                assert (reply, source) == (f"re:{dest} {i}".encode(), (dest, edge))
        me = c.getsockname()
    assert counters(wildcard_agent, "twoflows.example.com")["udp_flows_total"] == 2
    by_dest: dict[tuple[str, int], set[tuple[str, int]]] = {}
    for record in origin.records:
        assert record.src == me
        assert record.payload.split()[0].decode() == record.dst[0]
        by_dest.setdefault(record.dst, set()).add(record.upstream)
    # each flow has its own upstream socket, used for all of its datagrams
    assert set(by_dest) == {("127.0.0.2", edge), ("127.0.0.3", edge)}
    assert all(len(upstreams) == 1 for upstreams in by_dest.values())
    assert by_dest[("127.0.0.2", edge)] != by_dest[("127.0.0.3", edge)]


def test_acl_drops_blocked_clients_on_a_wildcard_listener(
    wildcard_agent: Agent, origin_factory: Any
) -> None:
    origin = origin_factory("127.0.0.1", "proxy_v2")
    edge = port()
    spec = udp_app(edge, origin, "proxy_v2")
    spec["acl"] = [{"action": "block", "sources": ["127.0.0.5/32"]}]
    wildcard_agent.apply({"aclwild.example.com": spec})
    with client("127.0.0.5") as blocked, client("127.0.0.1") as allowed:
        blocked.settimeout(0.3)
        with pytest.raises(TimeoutError):
            exchange(blocked, ("127.0.0.2", edge), b"blocked")
        assert exchange(allowed, ("127.0.0.2", edge), b"ok") == (b"re:ok", ("127.0.0.2", edge))
    assert [r.payload for r in origin.records] == [b"ok"]
    c = counters(wildcard_agent, "aclwild.example.com")
    assert (c["acl_denials"], c["udp_flows_total"]) == (1, 1)


def test_removed_wildcard_listener_drains_its_flows(
    wildcard_agent: Agent, origin_factory: Any
) -> None:
    origin = origin_factory("127.0.0.1", "spp")
    edge = port()
    wildcard_agent.apply({"drainwild.example.com": udp_app(edge, origin, "spp")})
    with client("127.0.0.1") as old, client("127.0.0.1") as new:
        assert exchange(old, ("127.0.0.3", edge), b"a") == (b"re:a", ("127.0.0.3", edge))
        wildcard_agent.apply(delete=["drainwild.example.com"])
        # the existing flow keeps being served, from the address it sent to
        assert exchange(old, ("127.0.0.3", edge), b"b") == (b"re:b", ("127.0.0.3", edge))
        assert wildcard_agent.client.status()["draining"] == {"listeners": 1, "connections": 1}
        new.settimeout(0.3)
        with pytest.raises(TimeoutError):  # no new flow on a removed listener
            exchange(new, ("127.0.0.3", edge), b"c")
    assert wait_until(
        lambda: wildcard_agent.client.status()["draining"] == {"listeners": 0, "connections": 0}
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", edge))  # the drained listener let its port go
    assert [r.payload for r in origin.records] == [b"a", b"b"]


def test_workers_share_wildcard_listeners(tmp_path: Path, origin_factory: Any) -> None:
    agent = WildcardAgent(tmp_path / "state", "--workers", "2")
    try:
        agent.start()
        origin = origin_factory("127.0.0.1", "proxy_v2")
        edge = port()
        agent.apply({"workers.example.com": udp_app(edge, origin, "proxy_v2")})
        clients = [client("127.0.0.1") for _ in range(12)]
        try:
            for n, c in enumerate(clients):
                dest = ("127.0.0.2", "127.0.0.3")[n % 2]
                payload = f"{dest} {n}".encode()
                assert exchange(c, (dest, edge), payload) == (b"re:" + payload, (dest, edge))
            sources = {c.getsockname() for c in clients}
        finally:
            for c in clients:
                c.close()
        assert origin.errors == []
        assert len(origin.records) == 12
        for record in origin.records:
            assert record.dst == (record.payload.split()[0].decode(), edge)
        assert {r.src for r in origin.records} == sources
        assert counters(agent, "workers.example.com")["udp_flows_total"] == 12
    finally:
        agent.kill()
