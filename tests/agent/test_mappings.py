"""Every port mapping (docs/architecture.md, "Contract: the agent application spec")
through a real agent, for TCP and UDP, on IPv4 and IPv6."""

from __future__ import annotations

import uuid

import pytest
from l4agent.spec.mapping import client_hash

from tests.agent.harness import (
    Agent,
    Origins,
    app,
    block,
    port,
    rule,
    tcp_roundtrip,
    udp_roundtrip,
)


def tag_of(edge_port: int, host: str = "127.0.0.1") -> int:
    """Connect through the agent to a tagging echo origin: the origin port that answered."""
    reply = tcp_roundtrip(edge_port, b"x", host=host)
    head, _, rest = reply.partition(b"\n")
    assert rest == b"x", reply
    return int(head.split(b"=")[1])


def udp_tag_of(edge_port: int, host: str = "127.0.0.1") -> int:
    reply = udp_roundtrip(edge_port, b"ping", host=host)
    origin_port, _, payload = reply.partition(b"|")
    assert payload == b"ping"
    return int(origin_port)


def name() -> str:
    return f"m{uuid.uuid4().hex[:8]}.example.com"


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_single_to_single(shared_agent: Agent, shared_origins: Origins, protocol: str) -> None:
    edge, origin = port(), port()
    serve(shared_origins, protocol, [origin])
    shared_agent.apply({name(): app(rule(protocol, edge, origin))})
    assert probe(protocol, edge) == origin


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_single_to_range_hashes_the_client(
    shared_agent: Agent, shared_origins: Origins, protocol: str
) -> None:
    edge, first = port(), block(4)
    serve(shared_origins, protocol, range(first, first + 4))
    shared_agent.apply({name(): app(rule(protocol, edge, [first, first + 3]))})
    expected = first + client_hash("127.0.0.1") % 4
    assert [probe(protocol, edge) for _ in range(5)] == [expected] * 5


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_range_to_single(shared_agent: Agent, shared_origins: Origins, protocol: str) -> None:
    edge, origin = block(3), port()
    serve(shared_origins, protocol, [origin])
    shared_agent.apply({name(): app(rule(protocol, [[edge, edge + 2]], origin))})
    assert {probe(protocol, p) for p in range(edge, edge + 3)} == {origin}


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_range_to_range_by_offset(
    shared_agent: Agent, shared_origins: Origins, protocol: str
) -> None:
    # the example 3000-3010 -> 5000-5010, shifted into the test port range
    edge, first = block(11), block(11)
    serve(shared_origins, protocol, range(first, first + 11))
    shared_agent.apply({name(): app(rule(protocol, [[edge, edge + 10]], [first, first + 10]))})
    assert probe(protocol, edge + 5) == first + 5
    assert {probe(protocol, edge + i) - first for i in (0, 1, 9, 10)} == {0, 1, 9, 10}


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_list_to_single(shared_agent: Agent, shared_origins: Origins, protocol: str) -> None:
    a, b, c, origin = port(), port(), block(2), port()
    edges = sorted([[a, a], [b, b], [c, c + 1]])
    serve(shared_origins, protocol, [origin])
    shared_agent.apply({name(): app(rule(protocol, edges, origin))})
    assert {probe(protocol, p) for p in (a, b, c, c + 1)} == {origin}


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_omitted_origin_port_keeps_the_port(
    shared_agent: Agent, shared_origins: Origins, protocol: str
) -> None:
    # the origin listens on the same port number on another loopback address
    edge = port()
    serve(shared_origins, protocol, [edge], host="127.0.0.2")
    shared_agent.apply({name(): app(rule(protocol, [[edge, edge + 0]], None, host="127.0.0.2"))})
    assert probe(protocol, edge) == edge


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_ipv6_listener(shared_agent: Agent, shared_origins: Origins, protocol: str) -> None:
    edge, origin = port(), port()
    serve(shared_origins, protocol, [origin])
    shared_agent.apply({name(): app(rule(protocol, edge, origin), ipv6=True)})
    assert probe(protocol, edge, host="::1") == origin
    assert probe(protocol, edge) == origin


def test_ipv6_is_off_unless_asked(shared_agent: Agent, shared_origins: Origins) -> None:
    edge, origin = port(), port()
    serve(shared_origins, "tcp", [origin])
    shared_agent.apply({name(): app(rule("tcp", edge, origin))})
    assert probe("tcp", edge) == origin
    with pytest.raises(ConnectionRefusedError):
        tcp_roundtrip(edge, b"x", host="::1")


def test_ipv6_origin(shared_agent: Agent, shared_origins: Origins) -> None:
    edge, origin = port(), port()
    shared_origins.tcp(origin, "::1", tag=True)
    shared_agent.apply({name(): app(rule("tcp", edge, origin, host="::1"))})
    assert probe("tcp", edge) == origin


def test_hostname_origin(shared_agent: Agent, shared_origins: Origins) -> None:
    edge, origin = port(), port()
    serve(shared_origins, "tcp", [origin])
    serve(shared_origins, "udp", [origin])
    spec = app(
        rule("tcp", edge, origin, host="localhost"), rule("udp", edge, origin, host="localhost")
    )
    shared_agent.apply({name(): spec})
    assert probe("tcp", edge) == origin
    assert probe("udp", edge) == origin


def serve(origins: Origins, protocol: str, ports: object, host: str = "127.0.0.1") -> None:
    for p in ports:  # type: ignore[attr-defined]
        if protocol == "tcp":
            origins.tcp(p, host, tag=True)
        else:
            origins.udp_echo(p, host)


def probe(protocol: str, edge_port: int, host: str = "127.0.0.1") -> int:
    if protocol == "tcp":
        return tag_of(edge_port, host)
    return udp_tag_of(edge_port, host)
