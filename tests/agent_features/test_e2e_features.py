"""End to end through the real agent process: client-IP passthrough headers as origins
see them (read with the independent reference reader), IP access control over real
source addresses, load-balancer failover and return, and the /metrics endpoint."""

from __future__ import annotations

import socket
import struct
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.agent.harness import (
    Agent,
    TcpOrigin,
    UdpOrigin,
    tcp_exchange,
    tcp_refused,
    udp_exchange,
    wait_until,
)
from tests.ports import AGENT_FEATURES, free_port

PT_APP = "pt.example.com"
ACL_APP = "acl.example.com"
LB_APP = "lb.example.com"


def rule(protocol: str, edge: int, origin: dict[str, Any], port: int, **extra: Any) -> dict:
    return {
        "protocol": protocol,
        "edge_ports": [[edge, edge]],
        "origin_ports": [port, port],
        "origin": origin,
        **extra,
    }


def ip_origin(host: str) -> dict[str, Any]:
    return {"type": "ip", "targets": [{"host": host}], "health_check": None}


class World:
    """One agent and the origins of the three applications under test."""

    def __init__(self, tmp: Path) -> None:
        p = {name: free_port(AGENT_FEATURES) for name in ("control", *map(str, range(16)))}
        # specific bind addresses; wildcard listeners are covered by
        # tests/agent/test_udp_destination.py
        self.agent = Agent(
            tmp / "agent",
            "--bind",
            "127.0.0.1",
            "--bind",
            "::1",
            "--drain-timeout",
            "1s",
            control_port=p["control"],
        )
        self.edge = {k: p[str(i)] for i, k in enumerate(("v1", "v2", "u2", "spp", "sppe"))}
        self.edge |= {"acl_tcp": p["5"], "acl_udp": p["6"], "lb": p["7"], "domain": p["15"]}
        o = {k: p[str(i + 8)] for i, k in enumerate(("v1", "v2", "u2", "spp", "sppe", "acl", "lb"))}
        self.origins: dict[str, Any] = {
            "v1": TcpOrigin("127.0.0.1", o["v1"], proxy_header=True),
            "v2": TcpOrigin("127.0.0.1", o["v2"], proxy_header=True),
            "u2": UdpOrigin("127.0.0.1", o["u2"], header="proxy_v2"),
            "spp": UdpOrigin("127.0.0.1", o["spp"], header="spp"),
            "sppe": UdpOrigin("127.0.0.1", o["sppe"], header="spp", echo_spp=True),
            "acl_tcp": TcpOrigin("127.0.0.1", o["acl"]),
            "acl_udp": UdpOrigin("127.0.0.1", o["acl"]),
            "lb_a": TcpOrigin("127.0.0.2", o["lb"], name="A"),
            "lb_b": TcpOrigin("127.0.0.3", o["lb"], name="B"),
        }
        self.lb_port = o["lb"]
        self.apps = {
            PT_APP: {
                "ipv6": True,
                "rules": [
                    rule(
                        "tcp",
                        self.edge["v1"],
                        ip_origin("127.0.0.1"),
                        o["v1"],
                        passthrough="proxy_v1",
                    ),
                    rule(
                        "tcp",
                        self.edge["v2"],
                        ip_origin("127.0.0.1"),
                        o["v2"],
                        passthrough="proxy_v2",
                    ),
                    rule(
                        "udp",
                        self.edge["u2"],
                        ip_origin("127.0.0.1"),
                        o["u2"],
                        passthrough="proxy_v2",
                    ),
                    rule(
                        "udp", self.edge["spp"], ip_origin("127.0.0.1"), o["spp"], passthrough="spp"
                    ),
                    rule(
                        "udp",
                        self.edge["sppe"],
                        ip_origin("127.0.0.1"),
                        o["sppe"],
                        passthrough="spp",
                    ),
                ],
            },
            ACL_APP: {
                "ipv6": True,
                "acl": [
                    {"action": "allow", "sources": ["127.0.0.2"]},
                    {"action": "block", "sources": ["127.0.0.0/8", "::1/128"]},
                ],
                "rules": [
                    rule("tcp", self.edge["acl_tcp"], ip_origin("127.0.0.1"), o["acl"]),
                    rule("udp", self.edge["acl_udp"], ip_origin("127.0.0.1"), o["acl"]),
                ],
            },
            LB_APP: {
                "rules": [
                    rule(
                        "tcp",
                        self.edge["lb"],
                        {
                            "type": "load_balancer",
                            "steering": "weighted",
                            "targets": [
                                {"host": "127.0.0.2", "weight": 3},
                                {"host": "127.0.0.3", "weight": 1},
                            ],
                            "health_check": {
                                "interval_ms": 100,
                                "timeout_ms": 200,
                                "healthy": 2,
                                "unhealthy": 2,
                            },
                        },
                        o["lb"],
                    ),
                    rule(
                        "tcp",
                        self.edge["domain"],
                        {
                            "type": "domain",
                            "targets": [{"host": "localhost"}],
                            "health_check": None,
                        },
                        o["acl"],
                    ),
                ]
            },
        }

    def start(self) -> None:
        for origin in self.origins.values():
            origin.start()
        self.agent.start()
        self.agent.apply(self.apps)

    def stop(self) -> None:
        self.agent.stop()
        for origin in self.origins.values():
            origin.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("features-e2e"))
    try:
        w.start()
        yield w
    finally:
        log = w.agent.log()
        w.stop()
        print(log[-4000:])


# -- client-IP passthrough -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "version", "client_src", "dest_host", "family"),
    [
        ("v1", 1, "127.0.0.2", "127.0.0.1", "TCP4"),
        ("v1", 1, "::1", "::1", "TCP6"),
        ("v2", 2, "127.0.0.3", "127.0.0.1", "TCP4"),
        ("v2", 2, "::1", "::1", "TCP6"),
    ],
)
def test_tcp_origin_reads_the_client_address(
    world: World, kind: str, version: int, client_src: str, dest_host: str, family: str
) -> None:
    origin = world.origins[kind]
    before = len(origin.headers)
    edge = world.edge[kind]
    payload = b"hello through the proxy " * 100
    reply, client = tcp_exchange((dest_host, edge), payload, source=client_src)
    assert reply == payload  # the origin consumed the header; the client never sees it
    assert wait_until(lambda: len(origin.headers) > before, 5), "the origin to record the header"
    header = origin.headers[-1]
    assert (header.version, header.command, header.family) == (version, "PROXY", family)
    assert header.src == client
    assert header.dst == (dest_host, edge)
    assert origin.errors == []


@pytest.mark.parametrize(
    ("client_src", "dest_host", "family"),
    [("127.0.0.2", "127.0.0.1", "UDP4"), ("::1", "::1", "UDP6")],
)
def test_udp_origin_reads_a_v2_header_on_every_datagram(
    world: World, client_src: str, dest_host: str, family: str
) -> None:
    origin = world.origins["u2"]
    before = len(origin.headers)
    payloads = [f"datagram {i}".encode() for i in range(3)]
    replies, client = udp_exchange((dest_host, world.edge["u2"]), payloads, source=client_src)
    assert replies == payloads  # headers are not sent back to the client
    headers = origin.headers[before:]
    assert len(headers) == 3
    for header in headers:
        assert (header.version, header.command, header.family) == (2, "PROXY", family)
        assert header.src == client
        assert header.dst == (dest_host, world.edge["u2"])


def spp_by_hand(client: tuple[str, int], proxy: tuple[str, int]) -> bytes:
    def addr16(host: str) -> bytes:
        if ":" in host:
            return socket.inet_pton(socket.AF_INET6, host)
        return b"\x00" * 10 + b"\xff\xff" + socket.inet_aton(host)

    return (
        b"\x56\xec"
        + addr16(client[0])
        + addr16(proxy[0])
        + struct.pack("!H", client[1])
        + struct.pack("!H", proxy[1])
    )


@pytest.mark.parametrize(("client_src", "dest_host"), [("127.0.0.3", "127.0.0.1"), ("::1", "::1")])
def test_spp_header_byte_by_byte(world: World, client_src: str, dest_host: str) -> None:
    origin = world.origins["spp"]
    before = len(origin.received)
    payloads = [b"first", b"second"]
    replies, client = udp_exchange((dest_host, world.edge["spp"]), payloads, source=client_src)
    assert replies == payloads
    expected = spp_by_hand(client, (dest_host, world.edge["spp"]))
    for datagram, payload in zip(origin.received[before:], payloads, strict=True):
        assert len(datagram) == 38 + len(payload)
        assert datagram[:38] == expected
        assert datagram[38:] == payload


def test_spp_headers_echoed_by_the_origin_are_stripped(world: World) -> None:
    replies, _ = udp_exchange(("127.0.0.1", world.edge["sppe"]), [b"ping", b"pong"])
    assert replies == [b"ping", b"pong"]
    assert len(world.origins["sppe"].received) >= 2


# -- IP access control -----------------------------------------------------------------------


def counters(world: World, app: str, index: int) -> dict[str, int]:
    return world.agent.status(app)["rules"][index]["counters"]


def test_acl_tcp_allows_and_refuses_by_source(world: World) -> None:
    origin = world.origins["acl_tcp"]
    dest = ("127.0.0.1", world.edge["acl_tcp"])
    assert tcp_exchange(dest, b"allowed", source="127.0.0.2")[0] == b"allowed"
    accepted = origin.accepted
    denied = counters(world, ACL_APP, 0)["acl_denials"]
    assert tcp_refused(dest, source="127.0.0.3")
    assert tcp_refused(("::1", world.edge["acl_tcp"]), source="::1")
    assert tcp_exchange(dest, b"still allowed", source="127.0.0.2")[0] == b"still allowed"
    assert origin.accepted == accepted + 1  # only the allowed one reached the origin
    assert counters(world, ACL_APP, 0)["acl_denials"] == denied + 2


def test_acl_udp_drops_blocked_datagrams(world: World) -> None:
    origin = world.origins["acl_udp"]
    edge = world.edge["acl_udp"]
    replies, _ = udp_exchange(("127.0.0.1", edge), [b"a1", b"a2"], source="127.0.0.2")
    assert replies == [b"a1", b"a2"]
    received = len(origin.received)
    denied = counters(world, ACL_APP, 1)["acl_denials"]
    for source, host in (("127.0.0.3", "127.0.0.1"), ("::1", "::1")):
        replies, _ = udp_exchange((host, edge), [b"b1", b"b2"], source=source, timeout=0.3)
        assert replies == []
    assert len(origin.received) == received
    # the first datagram times out unanswered, so the second is never sent: one per source
    assert counters(world, ACL_APP, 1)["acl_denials"] == denied + 2


# -- load balancer -----------------------------------------------------------------------------


def lb_round(world: World, n: int) -> Counter[bytes]:
    got: Counter[bytes] = Counter()
    for _ in range(n):
        reply, _ = tcp_exchange(("127.0.0.1", world.edge["lb"]), b"")
        got[reply] += 1
    return got


def origin_health(world: World) -> dict[str, bool]:
    rows = world.agent.status(LB_APP)["rules"][0]["origins"]
    return {row["address"]: row["healthy"] for row in rows}


def test_load_balancer_failover_and_return(world: World) -> None:
    got = lb_round(world, 40)
    assert got == {b"A": 30, b"B": 10}, got  # smooth weighted round-robin is exact

    world.origins["lb_b"].stop()
    # from the moment B stops, no connection fails: a refused connect moves on to A
    got = lb_round(world, 20)
    assert got == {b"A": 20}, got
    assert wait_until(lambda: origin_health(world) == {"127.0.0.2": True, "127.0.0.3": False}, 5), (
        "B marked down"
    )
    failures = counters(world, LB_APP, 0)["origin_connect_failures"]
    assert lb_round(world, 40) == {b"A": 40}
    assert counters(world, LB_APP, 0)["origin_connect_failures"] == failures  # B is not tried

    world.origins["lb_b"] = TcpOrigin("127.0.0.3", world.lb_port, name="B").start()
    started = time.monotonic()
    assert wait_until(lambda: all(origin_health(world).values()), 5), "B back up"
    assert time.monotonic() - started >= 0.1  # two good checks at 100 ms intervals
    got = lb_round(world, 200)
    assert got[b"A"] + got[b"B"] == 200
    assert abs(got[b"B"] / 200 - 0.25) <= 0.05, got


def test_no_healthy_origin_closes_the_client_and_counts(world: World) -> None:
    for name in ("lb_a", "lb_b"):
        world.origins[name].stop()
    try:
        assert wait_until(lambda: not any(origin_health(world).values()), 5), "both marked down"
        before = counters(world, LB_APP, 0)
        assert tcp_refused(("127.0.0.1", world.edge["lb"]), source="127.0.0.2")
        after = counters(world, LB_APP, 0)
        assert after["no_healthy_origin"] == before["no_healthy_origin"] + 1
        assert after["origin_connect_failures"] == before["origin_connect_failures"]
    finally:
        world.origins["lb_a"] = TcpOrigin("127.0.0.2", world.lb_port, name="A").start()
        world.origins["lb_b"] = TcpOrigin("127.0.0.3", world.lb_port, name="B").start()
    assert wait_until(lambda: all(origin_health(world).values()), 5), "both back up"


def test_hostname_origin_resolves_through_the_hosts_file(world: World) -> None:
    reply, _ = tcp_exchange(("127.0.0.1", world.edge["domain"]), b"via localhost")
    assert reply == b"via localhost"
    [row] = world.agent.status(LB_APP)["rules"][1]["origins"]
    assert (row["host"], row["address"], row["healthy"]) == ("localhost", "127.0.0.1", True)


# -- metrics -------------------------------------------------------------------------------------


def test_metrics_endpoint(world: World) -> None:
    dest = ("127.0.0.1", world.edge["acl_tcp"])
    tcp_exchange(dest, b"x", source="127.0.0.2")
    assert tcp_refused(dest, source="127.0.0.3")
    status, headers, body = world.agent.get("/metrics")
    assert status == 200
    content_type = {k.lower(): v for k, v in headers.items()}["content-type"]
    assert content_type.startswith("text/plain; version=0.0.4")
    samples = {}
    edge_ports = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            names = {k: v for k, v in s.labels.items() if k not in ("edge_ports", "comment")}
            samples[(s.name, tuple(sorted(names.items())))] = s.value
            if "edge_ports" in s.labels:
                edge_ports[(names["app"], names["rule"])] = s.labels["edge_ports"]
    assert edge_ports[(ACL_APP, "0")] == str(world.edge["acl_tcp"])
    acl_rule = (("app", ACL_APP), ("protocol", "tcp"), ("rule", "0"))
    assert samples[("l4agent_connections_total", acl_rule)] >= 2
    assert samples[("l4agent_acl_denials_total", acl_rule)] >= 1
    assert samples[("l4agent_listeners_bound", acl_rule)] == 2  # IPv4 and IPv6
    lb_rule = (("app", LB_APP), ("protocol", "tcp"), ("rule", "0"))
    for address in ("127.0.0.2", "127.0.0.3"):
        key = tuple(sorted((*lb_rule, ("host", address), ("address", address))))
        assert samples[("l4agent_origin_healthy", key)] in (0.0, 1.0)
