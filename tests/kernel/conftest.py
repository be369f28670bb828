"""Fixtures of the kernel-path tests: namespaces, origins and the agent's table.

Every fixture removes what it made in a `finally`, also when the test fails:
deleting the namespaces removes their veths, addresses, nftables tables and
conntrack entries, so nothing outside them is ever touched.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from l4agent.kernel import KernelForwarder, Runner

from tests.kernel.netns import ORIGIN4, ORIGIN6, EchoServer, Topology, echo, missing_privileges

TABLE = "l4plan_testnode"


@pytest.fixture
def topo() -> Iterator[Topology]:
    reason = missing_privileges()
    if reason:
        pytest.skip(reason)
    topology = Topology()
    try:
        yield topology
    finally:
        topology.close()


@pytest.fixture
def origins(topo: Topology) -> Iterator[EchoServer]:
    """TCP and UDP echo origins on 5050-5052 and 6000-6009 of every origin address."""
    endpoints = [
        (proto, address, port)
        for address in [*ORIGIN4, *ORIGIN6]
        for port in [3050, 5050, 5051, 5052, *range(6000, 6010)]
        for proto in ("tcp", "udp")
    ]
    with echo(topo.origin, endpoints) as server:
        yield server


@pytest.fixture
def kernel(topo: Topology) -> Iterator[KernelForwarder]:
    forwarder = KernelForwarder(TABLE, Runner(topo.agent.name), drain_timeout=0.5)
    try:
        yield forwarder
    finally:
        forwarder.remove()
