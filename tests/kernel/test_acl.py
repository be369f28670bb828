"""WAF IP access control in the kernel: named sets in priority order, counted refusals.

TCP from a blocked source gets a reset at once (ConnectionRefusedError on the
client, no waiting for a timeout); UDP from a blocked source is dropped.
"""

from __future__ import annotations

import socket

import pytest
from l4agent.kernel import KernelForwarder

from tests.kernel.netns import (
    AGENT4_C,
    AGENT6_C,
    CLIENT4,
    EXTRA_CLIENTS4,
    ORIGIN4,
    ORIGIN6,
    EchoServer,
    Topology,
    tcp_hello,
    udp_ask,
)
from tests.kernel.test_forwarding import rule

ACL = [
    {"action": "allow", "sources": [CLIENT4, f"{EXTRA_CLIENTS4[0]}/32"]},
    {"action": "block", "sources": ["192.0.2.0/24", "2001:db8:1::/64"]},
]


def test_acl_allows_in_priority_order_and_resets_blocked_tcp(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    spec = {"acl": ACL, "rules": [rule("tcp", [[3050, 3050]], [5050, 5050], [ORIGIN4[0]])]}
    kernel.apply([("acl.example", spec)])
    assert tcp_hello(topo.client, AGENT4_C, 3050)[0] == ORIGIN4[0]  # allow before block
    assert tcp_hello(topo.client, AGENT4_C, 3050, source=EXTRA_CLIENTS4[0])[0] == ORIGIN4[0]
    for client in EXTRA_CLIENTS4[1:4]:
        with pytest.raises(ConnectionRefusedError):
            tcp_hello(topo.client, AGENT4_C, 3050, source=client)
    stats = kernel.stats()[("acl.example", 0)]
    assert stats["acl_denials"] == 3
    assert stats["flows_total"] == 2


def test_acl_drops_blocked_udp_and_covers_ipv6(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    dual = [{"host": "dual.test", "weight": 1}]
    spec = {
        "ipv6": True,
        "acl": ACL,
        "rules": [rule("udp", [[4050, 4050]], [5050, 5050], dual),
                  rule("tcp", [[4050, 4050]], [5050, 5050], dual)],
    }  # fmt: skip
    kernel.apply([("acl.example", spec)], {"dual.test": [ORIGIN4[1], ORIGIN6[1]]})
    assert udp_ask(topo.client, AGENT4_C, 4050)[0][0] == ORIGIN4[1]
    with topo.client.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((EXTRA_CLIENTS4[5], 0))
        sock.settimeout(0.3)
        for _ in range(2):
            sock.sendto(b"blocked", (AGENT4_C, 4050))
            with pytest.raises(socket.timeout):
                sock.recv(100)
    with pytest.raises(socket.timeout):  # 2001:db8:1::2 is in the blocked /64
        udp_ask(topo.client, AGENT6_C, 4050, timeout=0.3)
    with pytest.raises(ConnectionRefusedError):
        tcp_hello(topo.client, AGENT6_C, 4050)
    stats = kernel.stats()
    # a dropped datagram never confirms its conntrack entry, so each one is judged
    assert stats[("acl.example", 0)]["acl_denials"] == 3
    assert stats[("acl.example", 1)]["acl_denials"] == 1
    assert stats[("acl.example", 0)]["flows_total"] == 1
