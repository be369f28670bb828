"""UDP flows: one upstream socket per client address, idle expiry, bounded flow table."""

from __future__ import annotations

import socket
import time

from tests.agent.harness import Agent, Origins, app, port, rule, wait_until


def counters(agent: Agent, name: str) -> dict[str, int]:
    return agent.client.status([name])["apps"][0]["rules"][0]["counters"]  # type: ignore[no-any-return]


def client_socket() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.bind(("127.0.0.1", 0))
    return s


def test_one_flow_per_client_address(shared_agent: Agent, shared_origins: Origins) -> None:
    edge, origin = port(), port()
    echo = shared_origins.udp_echo(origin)
    shared_agent.apply({"flows.example.com": app(rule("udp", edge, origin))})
    clients = [client_socket() for _ in range(3)]
    try:
        for i in range(4):  # several datagrams each, both ways
            for n, c in enumerate(clients):
                c.sendto(f"{n}:{i}".encode(), ("127.0.0.1", edge))
                assert c.recvfrom(100)[0] == f"{origin}|{n}:{i}".encode()
    finally:
        for c in clients:
            c.close()
    c = counters(shared_agent, "flows.example.com")
    assert c["udp_flows_total"] == 3
    assert c["datagrams_in"] == c["datagrams_out"] == 12
    # each flow has its own upstream socket: the origin saw three source addresses
    assert len(echo.senders) == 3


def test_flows_expire_when_idle(agent_factory, origins: Origins) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--udp-idle-timeout", "300ms")
    edge, origin = port(), port()
    echo = origins.udp_echo(origin)
    agent.apply({"idle.example.com": app(rule("udp", edge, origin))})
    with client_socket() as c:
        c.sendto(b"a", ("127.0.0.1", edge))
        assert c.recvfrom(100)[0] == f"{origin}|a".encode()
        assert counters(agent, "idle.example.com")["udp_flows_active"] == 1
        assert wait_until(
            lambda: counters(agent, "idle.example.com")["udp_flows_active"] == 0, timeout=3
        )
        c.sendto(b"b", ("127.0.0.1", edge))  # a new flow, with a new upstream socket
        assert c.recvfrom(100)[0] == f"{origin}|b".encode()
    assert counters(agent, "idle.example.com")["udp_flows_total"] == 2
    assert len(echo.senders) == 2


def test_flow_table_is_bounded(agent_factory, origins: Origins) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--udp-max-flows", "4")
    edge, origin = port(), port()
    origins.udp_echo(origin)
    agent.apply({"bounded.example.com": app(rule("udp", edge, origin))})
    clients = [client_socket() for _ in range(10)]
    try:
        for c in clients:
            c.sendto(b"x", ("127.0.0.1", edge))
            assert c.recvfrom(100)[0] == f"{origin}|x".encode()
            time.sleep(0.01)
        c = counters(agent, "bounded.example.com")
        assert c["udp_flows_active"] == 4
        assert c["udp_flow_evictions"] == 6
        # the most recent clients still have their flows; an evicted one gets a new one
        clients[-1].sendto(b"y", ("127.0.0.1", edge))
        assert clients[-1].recvfrom(100)[0] == f"{origin}|y".encode()
        assert counters(agent, "bounded.example.com")["udp_flows_total"] == 10
        clients[0].sendto(b"z", ("127.0.0.1", edge))
        assert clients[0].recvfrom(100)[0] == f"{origin}|z".encode()
        assert counters(agent, "bounded.example.com")["udp_flows_total"] == 11
    finally:
        for c in clients:
            c.close()


def test_large_datagrams(shared_agent: Agent, shared_origins: Origins) -> None:
    edge, origin = port(), port()
    shared_origins.udp_echo(origin)
    shared_agent.apply({"big.example.com": app(rule("udp", edge, origin))})
    payload = bytes(range(256)) * 200  # 51200 bytes
    with client_socket() as c:
        c.sendto(payload, ("127.0.0.1", edge))
        assert c.recvfrom(65535)[0] == f"{origin}|".encode() + payload


def test_a_flow_outlives_its_origin_being_down(
    shared_agent: Agent, shared_origins: Origins
) -> None:
    """The origin port refuses the first datagram (ICMP port unreachable on the flow's
    upstream socket); once the origin is up, the same flow carries the next one."""
    edge, origin = port(), port()
    shared_agent.apply({"later.example.com": app(rule("udp", edge, origin))})
    with client_socket() as c:
        c.settimeout(0.5)
        c.sendto(b"early", ("127.0.0.1", edge))
        try:
            c.recvfrom(100)
            raise AssertionError("an answer came from an origin that is not there")
        except TimeoutError:
            pass
        shared_origins.udp_echo(origin)
        c.settimeout(3)
        c.sendto(b"late", ("127.0.0.1", edge))
        assert c.recvfrom(100)[0] == f"{origin}|late".encode()
    assert counters(shared_agent, "later.example.com")["udp_flows_total"] == 1
