"""`KernelPath`: the kernel path in an event loop, with real DNS answers (a hosts
file), real active health checks (`OriginPool`) and reserving sockets.

The event loop runs in a thread inside the agent namespace, so the pools' health
checks and the reserving sockets live where an agent would run.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from l4agent.dataplane.origins import OriginPool
from l4agent.dataplane.resolver import Resolver
from l4agent.kernel import KernelForwarder
from l4agent.kernel.path import KernelPath, ReserveFailure

from tests.kernel.netns import AGENT4_C, ORIGIN4, EchoServer, Topology, echo, read_line, tcp_hello
from tests.kernel.test_forwarding import rule
from tests.kernel.test_lifecycle import roundtrip


def write_hosts(path: Path, address: str) -> None:
    path.write_text(f"{address} origin.test\n")
    st = path.stat()  # the resolver reloads on a change of mtime
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_a_dns_change_rebuilds_the_table_and_keeps_open_flows(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder, tmp_path: Path
) -> None:
    hosts = tmp_path / "hosts"
    write_hosts(hosts, ORIGIN4[0])
    spec = {"rules": [rule("tcp", [[3050, 3050]], [5050, 5050], [{"host": "origin.test"}])]}

    async def scenario() -> None:
        path = KernelPath(kernel, Resolver(hosts_file=hosts, nameservers=["127.0.0.1"]))
        try:
            await path.commit(await path.prepare([("dns.example", spec)]))
            assert path.path_of("dns.example", 0) == "kernel"
            assert await path.refresh() is False  # nothing changed
            held = await asyncio.to_thread(topo.client.connect, AGENT4_C, 3050)
            with held:
                assert read_line(held).split()[0] == ORIGIN4[0]
                write_hosts(hosts, ORIGIN4[1])
                for _ in range(40):  # the resolver re-reads the hosts file every second
                    if await path.refresh():
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("the new answer never rebuilt the table")
                assert (await asyncio.to_thread(tcp_hello, topo.client, AGENT4_C, 3050))[0] == (
                    ORIGIN4[1]
                )
                await asyncio.to_thread(roundtrip, held, b"old origin still" * 100)
        finally:
            await path.close()

    topo.agent.call(asyncio.run, scenario())


def test_active_health_checks_move_new_flows_to_the_next_target(
    topo: Topology, kernel: KernelForwarder
) -> None:
    # only the second origin answers on 7000: the first fails its health checks
    targets = [{"host": ORIGIN4[0]}, {"host": ORIGIN4[1]}]
    r = rule("tcp", [[3070, 3070]], [7000, 7000], targets, steering="failover")
    check = {"interval_ms": 100, "timeout_ms": 100, "healthy": 1, "unhealthy": 1}
    r["origin"]["health_check"] = check
    spec = {"rules": [r]}
    outcome: dict[str, Any] = {}

    async def scenario() -> None:
        pool = OriginPool(r["origin"], Resolver(hosts_file=None), health_port=7000)
        path = KernelPath(kernel, Resolver(hosts_file=None))
        try:
            # targets start up (as on the relay): the first flow goes to the first
            # target, which refuses it, and the kernel does not retry elsewhere
            await path.commit(await path.prepare([("hc.example", spec)], {("hc.example", 0): pool}))
            try:
                await asyncio.to_thread(tcp_hello, topo.client, AGENT4_C, 3070)
            except ConnectionRefusedError:
                outcome["first"] = "refused"
            pool.start()
            for _ in range(60):  # bounded: 60 x 50 ms
                await asyncio.sleep(0.05)
                if await path.refresh():
                    break
            outcome["health"] = {row["address"]: row["healthy"] for row in pool.health()}
            hello = await asyncio.to_thread(tcp_hello, topo.client, AGENT4_C, 3070)
            outcome["second"] = hello[0]
        finally:
            await pool.close()
            await path.close()

    with echo(topo.origin, [("tcp", ORIGIN4[1], 7000)]):
        topo.agent.call(asyncio.run, scenario())
    assert outcome == {
        "first": "refused",
        "health": {ORIGIN4[0]: False, ORIGIN4[1]: True},
        "second": ORIGIN4[1],
    }


def test_a_port_in_use_fails_the_prepare_and_changes_nothing(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    spec = {"rules": [rule("udp", [[4050, 4051]], [5050, 5051], [ORIGIN4[0]])]}

    async def scenario() -> None:
        path = KernelPath(kernel, Resolver(hosts_file=None))
        squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        squatter.bind(("0.0.0.0", 4051))
        try:
            with pytest.raises(ReserveFailure) as failure:
                await path.prepare([("busy.example", spec)])
            assert failure.value.failures[0][0] == ("udp", 4051, "ipv4")
            assert "Address already in use" in str(failure.value)
            assert kernel.compiled is None and path.reserved == {}
            squatter.close()
            await path.commit(await path.prepare([("busy.example", spec)]))
            assert set(path.reserved) == {("udp", 4050, "ipv4"), ("udp", 4051, "ipv4")}
            taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            with pytest.raises(OSError), taken:  # the rule's ports stay ours
                taken.bind(("0.0.0.0", 4050))
            await path.commit(await path.prepare([]))
            assert path.reserved == {}  # a removed rule releases its ports
        finally:
            squatter.close()
            await path.close()

    topo.agent.call(asyncio.run, scenario())
