"""Real traffic through the kernel path: client ns → agent ns (nftables) → origin ns.

Every test builds the agent's table with `KernelForwarder.apply` inside the agent
namespace and checks what the origin saw: which address and port got the flow,
and that its peer was the agent (masquerade), never the client.
"""

from __future__ import annotations

import collections
import socket

import pytest
from l4agent.kernel import KernelForwarder, Runner

from tests.kernel.netns import (
    AGENT4_C,
    AGENT4_O,
    AGENT6_C,
    AGENT6_O,
    EXTRA_CLIENTS4,
    ORIGIN4,
    ORIGIN6,
    EchoServer,
    Namespace,
    Topology,
    echo,
    read_line,
    tcp_hello,
    udp_ask,
)


def rule(protocol: str, edge: list[list[int]], origin_ports: list[int] | None, targets: list,
         steering: str = "weighted") -> dict:  # fmt: skip
    return {
        "protocol": protocol,
        "edge_ports": edge,
        "origin_ports": origin_ports,
        "passthrough": "off",
        "origin": {
            "type": "load_balancer" if len(targets) > 1 else "ip",
            "steering": steering,
            "health_check": None,
            "targets": [t if isinstance(t, dict) else {"host": t, "weight": 1} for t in targets],
        },
    }


def test_offset_mapping_3050_to_5050_through_a_real_connection(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    spec = {"rules": [rule("tcp", [[3050, 3052]], [5050, 5052], [ORIGIN4[0]])]}
    kernel.apply([("play.example.com", spec)])
    for edge, expected in ((3050, "5050"), (3051, "5051"), (3052, "5052")):
        origin_ip, origin_port, seen = tcp_hello(topo.client, AGENT4_C, edge)
        assert (origin_ip, origin_port) == (ORIGIN4[0], expected)
        assert seen == AGENT4_O  # masqueraded: replies must come back through the agent
    with topo.client.connect(AGENT4_C, 3050) as sock:
        read_line(sock)
        sock.sendall(b"x" * 100_000)
        got = b""
        while len(got) < 100_000:
            chunk = sock.recv(65536)
            assert chunk
            got += chunk
        assert got == b"x" * 100_000
    stats = kernel.stats()[("play.example.com", 0)]
    assert stats["flows_total"] == 4
    assert stats["bytes_in"] > 100_000 and stats["bytes_out"] > 100_000
    assert stats["packets_in"] > 0 and stats["packets_out"] > 0


def test_list_of_edge_ports_to_one_origin_port_and_same_port(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    spec = {
        "rules": [
            rule("tcp", [[3000, 3000], [3010, 3012]], [6000, 6000], [ORIGIN4[1]]),
            rule("tcp", [[6005, 6006]], None, [ORIGIN4[2]]),
        ]
    }
    kernel.apply([("a.example", spec)])
    for edge in (3000, 3011, 3012):
        assert tcp_hello(topo.client, AGENT4_C, edge)[:2] == [ORIGIN4[1], "6000"]
    assert tcp_hello(topo.client, AGENT4_C, 6006)[:2] == [ORIGIN4[2], "6006"]
    with pytest.raises(OSError):  # 3005 is in no rule: nothing listens in the agent ns
        tcp_hello(topo.client, AGENT4_C, 3005)


def test_weighted_pool_3_to_1_over_400_connections(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    targets = [{"host": ORIGIN4[0], "weight": 3}, {"host": ORIGIN4[1], "weight": 1},
               {"host": ORIGIN4[2], "weight": 0}]  # fmt: skip
    kernel.apply([("lb.example", {"rules": [rule("tcp", [[3050, 3050]], [5050, 5050], targets)]})])
    seen = collections.Counter(tcp_hello(topo.client, AGENT4_C, 3050)[0] for _ in range(400))
    # binomial(400, 0.75): mean 300, sd 8.7; 6 sd either side
    assert 248 <= seen[ORIGIN4[0]] <= 352, seen
    assert seen[ORIGIN4[0]] + seen[ORIGIN4[1]] == 400, seen  # weight 0 gets nothing
    assert kernel.stats()[("lb.example", 0)]["flows_total"] == 400


def test_client_hash_is_sticky_per_client_address(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    spec = {"rules": [rule("tcp", [[3060, 3060]], [6000, 6009], [ORIGIN4[0]])]}
    kernel.apply([("sticky.example", spec)])
    ports: dict[str, set[str]] = {}
    for client in EXTRA_CLIENTS4:
        for _ in range(3):
            port = tcp_hello(topo.client, AGENT4_C, 3060, source=client)[1]
            ports.setdefault(client, set()).add(port)
    assert all(len(p) == 1 for p in ports.values()), ports  # one client, one origin port
    used = {p for s in ports.values() for p in s}
    assert len(used) >= 4, used  # 20 clients spread over the 10 ports
    assert all(6000 <= int(p) <= 6009 for p in used)
    # the hash is seeded with a constant: a rebuilt table keeps every client's port
    kernel.apply([("sticky.example", spec)])
    for client in EXTRA_CLIENTS4[:5]:
        assert {tcp_hello(topo.client, AGENT4_C, 3060, source=client)[1]} == ports[client]


def test_udp_dnat_with_offset_and_single_port(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    spec = {
        "rules": [
            rule("udp", [[4050, 4052]], [5050, 5052], [ORIGIN4[0]]),
            rule("udp", [[4100, 4100]], [6003, 6003], [ORIGIN4[1]]),
        ]
    }
    kernel.apply([("udp.example", spec)])
    head, rest = udp_ask(topo.client, AGENT4_C, 4051, b"hello")
    assert head == [ORIGIN4[0], "5051", AGENT4_O] and rest == b"hello"
    head, _ = udp_ask(topo.client, AGENT4_C, 4100)
    assert head[:2] == [ORIGIN4[1], "6003"]
    stats = kernel.stats()[("udp.example", 0)]
    assert stats["flows_total"] == 1 and stats["packets_in"] == 1 and stats["packets_out"] == 1
    assert stats["flows_active"] == 1  # the UDP flow lives in conntrack until its timeout


def test_ipv6_tcp_and_udp(topo: Topology, origins: EchoServer, kernel: KernelForwarder) -> None:
    only6 = {
        "ipv6": True,
        "rules": [rule("tcp", [[3050, 3051]], [5050, 5051], [ORIGIN6[1]])],
    }
    compiled = kernel.apply([("v6.example", only6)])
    assert not compiled.rules  # an IPv6 origin cannot serve the IPv4 listeners: relay
    assert "ipv4" in compiled.skipped[("v6.example", 0)]
    dual = [{"host": "origin.test", "weight": 1}]
    spec = {
        "ipv6": True,
        "rules": [
            rule("tcp", [[3050, 3051]], [5050, 5051], dual),
            rule("udp", [[4060, 4060]], [6000, 6009], dual),
        ],
    }
    compiled = kernel.apply([("v6.example", spec)], {"origin.test": [ORIGIN4[2], ORIGIN6[1]]})
    assert set(compiled.rules) == {("v6.example", 0), ("v6.example", 1)}
    origin_ip, origin_port, seen = tcp_hello(topo.client, AGENT6_C, 3051)
    assert (origin_ip, origin_port, seen) == (ORIGIN6[1], "5051", AGENT6_O)
    assert tcp_hello(topo.client, AGENT4_C, 3050)[:2] == [ORIGIN4[2], "5050"]
    head, rest = udp_ask(topo.client, AGENT6_C, 4060, b"six")
    assert head[0] == ORIGIN6[1] and 6000 <= int(head[1]) <= 6009 and rest == b"six"


def test_loopback_and_local_clients_use_the_output_chain(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    """A client on the agent's host: to its own address towards a remote origin, and
    to 127.0.0.1 / ::1 towards an origin on the same host."""
    spec = {
        "ipv6": True,
        "rules": [
            rule("tcp", [[3050, 3050]], [5050, 5050], [{"host": "dual.test", "weight": 1}]),
            rule("tcp", [[3070, 3070]], [7070, 7070], [{"host": "localhost.test", "weight": 1}]),
            rule("udp", [[3071, 3071]], [7070, 7070], [{"host": "localhost.test", "weight": 1}]),
        ],
    }
    resolved = {"dual.test": [ORIGIN4[0], ORIGIN6[0]], "localhost.test": ["127.0.0.1", "::1"]}
    kernel.apply([("local.example", spec)], resolved)
    assert tcp_hello(topo.agent, AGENT4_O, 3050)[:2] == [ORIGIN4[0], "5050"]
    assert tcp_hello(topo.agent, AGENT6_C, 3050)[:2] == [ORIGIN6[0], "5050"]
    local = [("tcp", "127.0.0.1", 7070), ("tcp", "::1", 7070), ("udp", "127.0.0.1", 7070)]
    with echo(topo.agent, local):
        assert tcp_hello(topo.agent, "127.0.0.1", 3070)[:2] == ["127.0.0.1", "7070"]
        assert tcp_hello(topo.agent, "::1", 3070)[:2] == ["::1", "7070"]
        assert udp_ask(topo.agent, "127.0.0.1", 3071)[0][:2] == ["127.0.0.1", "7070"]
    stats = kernel.stats()[("local.example", 1)]
    assert stats["flows_total"] == 2 and stats["bytes_in"] > 0 and stats["bytes_out"] > 0


def test_a_host_whose_only_address_is_loopback_forwards_local_flows(topo: Topology) -> None:
    """Masquerade needs an address of global scope; a flow that stays on the host
    must not be masqueraded (a namespace with only 127.0.0.1 would drop it), and the
    origin sees the client's own address."""
    lonely = Namespace(f"{topo.agent.name}l")
    try:
        lonely.sh("ip", "link", "set", "lo", "up")
        forwarder = KernelForwarder("l4plan_lonely", Runner(lonely.name), drain_timeout=0.5)
        local = [{"host": "127.0.0.1", "weight": 1}]
        spec = {"rules": [rule("tcp", [[3070, 3070]], [7070, 7070], local),
                          rule("udp", [[3071, 3071]], [7070, 7070], local)]}  # fmt: skip
        forwarder.apply([("lonely.example", spec)], {})
        with echo(lonely, [("tcp", "127.0.0.1", 7070), ("udp", "127.0.0.1", 7070)]):
            assert tcp_hello(lonely, "127.0.0.1", 3070) == ["127.0.0.1", "7070", "127.0.0.1"]
            head, rest = udp_ask(lonely, "127.0.0.1", 3071, b"solo")
            assert head == ["127.0.0.1", "7070", "127.0.0.1"] and rest == b"solo"
        stats = forwarder.stats()
        assert stats[("lonely.example", 0)]["flows_total"] == 1
        assert stats[("lonely.example", 1)]["flows_total"] == 1
        forwarder.remove()
    finally:
        lonely.close()


def test_failover_uses_the_first_healthy_target_and_no_healthy_refuses(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    spec = {
        "rules": [
            rule("tcp", [[3050, 3050]], [5050, 5050], ORIGIN4, steering="failover"),
            rule("udp", [[3050, 3050]], [5050, 5050], ORIGIN4[:1]),
        ]
    }
    kernel.apply([("fo.example", spec)])
    assert {tcp_hello(topo.client, AGENT4_C, 3050)[0] for _ in range(10)} == {ORIGIN4[0]}
    down = {("fo.example", 0, ORIGIN4[0]): False}
    kernel.apply([("fo.example", spec)], health=down)
    assert {tcp_hello(topo.client, AGENT4_C, 3050)[0] for _ in range(10)} == {ORIGIN4[1]}
    down = {("fo.example", i, a): False for i in (0, 1) for a in ORIGIN4}
    kernel.apply([("fo.example", spec)], health=down)
    with pytest.raises(ConnectionRefusedError):  # a TCP reset, at once
        tcp_hello(topo.client, AGENT4_C, 3050)
    with pytest.raises(socket.timeout):  # UDP: dropped
        udp_ask(topo.client, AGENT4_C, 3050, timeout=0.3)
    stats = kernel.stats()
    assert stats[("fo.example", 0)]["no_healthy_origin"] == 1
    assert stats[("fo.example", 1)]["no_healthy_origin"] == 1
    assert stats[("fo.example", 0)]["flows_total"] == 20


def test_bind_address_limits_which_destinations_are_translated(
    topo: Topology, origins: EchoServer
) -> None:
    from l4agent.kernel import Runner

    bound = KernelForwarder("l4plan_bound", Runner(topo.agent.name), bind={"ipv4": AGENT4_C})
    try:
        bound.apply([("b.example", {"rules": [rule("tcp", [[3050, 3050]], None, [ORIGIN4[0]])]})])
        assert tcp_hello(topo.client, AGENT4_C, 3050)[0] == ORIGIN4[0]
        with pytest.raises(ConnectionRefusedError):  # the agent's other address: not bound
            tcp_hello(topo.agent, AGENT4_O, 3050)
    finally:
        bound.remove()


def test_forty_rules_each_flow_reaches_its_rule_and_its_counters(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    """The shared chains find a rule through maps keyed by edge port (one lookup per
    packet): with 40 rules on adjacent ports, each flow goes to its own rule's origin
    and is counted in that rule's counters only."""

    def spec(first: int, count: int) -> dict:
        rules = []
        for i in range(count):
            protocol = "tcp" if i % 2 == 0 else "udp"
            rules.append(rule(protocol, [[first + i] * 2], [6000 + i % 10] * 2, [ORIGIN4[i % 3]]))
        return {"rules": rules}

    kernel.apply([("many.example", spec(3100, 30)), ("more.example", spec(3200, 10))])
    used = {("many.example", 0), ("many.example", 17), ("many.example", 29), ("more.example", 4)}
    for app, i in sorted(used):
        edge = (3100 if app == "many.example" else 3200) + i
        expected = [ORIGIN4[i % 3], str(6000 + i % 10)]
        if i % 2 == 0:
            assert tcp_hello(topo.client, AGENT4_C, edge)[:2] == expected
        else:
            assert udp_ask(topo.client, AGENT4_C, edge)[0][:2] == expected
    stats = kernel.stats()
    assert len(stats) == 40
    for key, counted in stats.items():
        if key in used:
            assert counted["flows_total"] == 1, key
            assert counted["bytes_in"] > 0 and counted["bytes_out"] > 0, key
        else:
            assert counted["flows_total"] == counted["bytes_in"] == counted["bytes_out"] == 0, key
