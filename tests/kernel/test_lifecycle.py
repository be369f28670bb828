"""Hitless change, drains, restarts and removal of the agent's table, with real flows.

The claim under test: conntrack entries keep their NAT bindings across a
flush+rebuild of the table, so a flow that is open when the table is replaced (by
the same process, or by a new one after the old was SIGKILLed) loses nothing.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from l4agent.kernel import KernelForwarder, Runner

from tests.agent.harness import wait_until
from tests.kernel.conftest import TABLE
from tests.kernel.netns import (
    AGENT4_C,
    ORIGIN4,
    EchoServer,
    Topology,
    read_line,
    tcp_hello,
    udp_ask,
)
from tests.kernel.test_forwarding import rule


def roundtrip(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        assert chunk, f"closed after {len(got)} of {len(payload)} bytes"
        got += chunk
    assert got == payload


def app(origin: str, *extra: dict) -> dict:
    return {"rules": [rule("tcp", [[3050, 3050]], [5050, 5050], [origin]),
                      rule("udp", [[3050, 3050]], [5050, 5050], [origin]), *extra]}  # fmt: skip


def test_open_flows_survive_rebuilds_and_keep_their_origin(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    kernel.apply([("hold.example", app(ORIGIN4[0]))])
    tcp = topo.client.connect(AGENT4_C, 3050)
    udp = topo.client.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert read_line(tcp).split()[0] == ORIGIN4[0]
        udp.settimeout(2)
        udp.connect((AGENT4_C, 3050))
        udp.send(b"open")
        assert udp.recv(1000).split()[0].decode() == ORIGIN4[0]
        for i in range(20):
            # every rebuild changes the rule's own origin and adds or drops another rule
            origin = ORIGIN4[1] if i % 2 else ORIGIN4[2]
            extra = [rule("tcp", [[3100 + i, 3100 + i]], [6000, 6000], [ORIGIN4[0]])][: i % 2]
            kernel.apply([("hold.example", app(origin, *extra))])
            roundtrip(tcp, f"tcp {i} ".encode() * 500)
            udp.send(f"udp {i}".encode())
            head, _, body = udp.recv(1000).partition(b"\n")
            assert head.split()[0].decode() == ORIGIN4[0] and body == f"udp {i}".encode()
            # new flows see the new rule at once
            assert tcp_hello(topo.client, AGENT4_C, 3050)[0] == origin
        stats = kernel.stats()[("hold.example", 0)]
        assert stats["flows_active"] >= 1
        assert stats["bytes_in"] > 20 * 3000  # carried across the 20 rebuilds
    finally:
        tcp.close()
        udp.close()


def test_a_removed_rule_drains_then_its_flows_are_ended(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    kernel.apply([("drain.example", app(ORIGIN4[0]))])
    with topo.client.connect(AGENT4_C, 3050) as tcp:
        read_line(tcp)
        kernel.apply([])  # the application is deleted
        assert kernel.draining() == (2, 1)  # tcp and udp 3050; one open TCP flow
        roundtrip(tcp, b"still here" * 100)  # the drain keeps it going
        with pytest.raises(OSError):
            tcp_hello(topo.client, AGENT4_C, 3050)  # no new flow is forwarded
        assert kernel.expire_drains(time.monotonic()) == 0  # not yet due
        assert kernel.expire_drains(time.monotonic() + 1.0) == 1
        assert kernel.drains == []
        tcp.settimeout(2)
        with pytest.raises(OSError):  # the agent host answers the orphaned flow with a reset
            roundtrip(tcp, b"gone")
            roundtrip(tcp, b"gone")


def test_a_drain_ends_all_its_flows_and_no_other(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    """Twenty open flows of a removed rule end together when its drain is due (one
    deletion per port); a flow of a rule that stays is left alone."""
    kept = rule("tcp", [[3060, 3060]], [5050, 5050], [ORIGIN4[0]])
    kernel.apply([("gone.example", app(ORIGIN4[0])), ("kept.example", {"rules": [kept]})])
    doomed = [topo.client.connect(AGENT4_C, 3050) for _ in range(20)]
    try:
        with topo.client.connect(AGENT4_C, 3060) as stays:
            for sock in [*doomed, stays]:
                read_line(sock)
            kernel.apply([("kept.example", {"rules": [kept]})])
            assert kernel.draining() == (2, 20)
            assert kernel.expire_drains(time.monotonic() + 1.0) == 20
            assert kernel.draining() == (0, 0)
            roundtrip(stays, b"the kept rule's flow goes on")
            for sock in doomed:
                sock.settimeout(2)
                with pytest.raises(OSError):  # reset by the agent host: no translation
                    roundtrip(sock, b"gone")
                    roundtrip(sock, b"gone")
    finally:
        for sock in doomed:
            sock.close()


def test_readding_a_draining_port_cancels_its_drain(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    kernel.apply([("drain.example", app(ORIGIN4[0]))])
    with topo.client.connect(AGENT4_C, 3050) as tcp:
        read_line(tcp)
        kernel.apply([])
        kernel.apply([("again.example", app(ORIGIN4[1]))])
        assert kernel.drains == []
        assert kernel.expire_drains(time.monotonic() + 60) == 0
        roundtrip(tcp, b"kept")


AGENT_STANDIN = """
import json, sys, time
from l4agent.kernel import KernelForwarder, Runner
apps = json.loads(sys.argv[3])
KernelForwarder(sys.argv[2], Runner(sys.argv[1])).reconcile([tuple(a) for a in apps])
print("ready", flush=True)
time.sleep(60)
"""


def test_flows_survive_a_sigkilled_writer_and_a_new_one_reconciles(
    topo: Topology, origins: EchoServer
) -> None:
    """The table belongs to the kernel: a process that built it and was SIGKILLed
    leaves it forwarding; the next one rebuilds it from the configuration."""
    apps = [["kill.example", app(ORIGIN4[0])]]
    argv = [sys.executable, "-c", AGENT_STANDIN, topo.agent.name, TABLE, json.dumps(apps)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        with topo.client.connect(AGENT4_C, 3050) as tcp:
            read_line(tcp)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            roundtrip(tcp, b"after kill" * 200)
            assert tcp_hello(topo.client, AGENT4_C, 3050)[0] == ORIGIN4[0]
            restarted = KernelForwarder(TABLE, Runner(topo.agent.name))
            restarted.reconcile([("kill.example", app(ORIGIN4[1]))])
            roundtrip(tcp, b"after restart" * 200)
            assert tcp_hello(topo.client, AGENT4_C, 3050)[0] == ORIGIN4[1]
            assert restarted.stats()[("kill.example", 0)]["flows_active"] >= 1
            assert restarted.remove() is True
            assert not Runner(topo.agent.name).table_exists(TABLE)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_remove_deletes_only_the_agents_table(topo: Topology, kernel: KernelForwarder) -> None:
    runner = Runner(topo.agent.name)
    other = {"nftables": [{"add": {"table": {"family": "inet", "name": "someone_else"}}}]}
    runner.nft_json(other)
    kernel.apply([("x.example", app(ORIGIN4[0]))])
    assert kernel.remove() is True
    assert kernel.remove() is False  # already gone: nothing to do
    names = [o["table"]["name"] for o in runner.nft_list("tables") if "table" in o]
    assert names == ["someone_else"]


def test_udp_flow_counts_and_conntrack(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    kernel.apply([("u.example", app(ORIGIN4[0]))])
    for _ in range(3):
        udp_ask(topo.client, AGENT4_C, 3050)
    stats = kernel.stats()[("u.example", 1)]
    assert stats["flows_total"] == 3 and stats["flows_active"] == 3
    assert stats["packets_in"] == 3 and stats["packets_out"] == 3


@pytest.mark.parametrize("tool", [True, False], ids=["conntrack-tool", "proc"])
def test_only_open_tcp_flows_count_as_active(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder, tool: bool
) -> None:
    """Three flows that ended (their entries linger in conntrack, in TIME_WAIT or
    CLOSE) are counted in flows_total only; two held open are also active."""
    kernel.conntrack.tool = tool
    kernel.apply([("t.example", app(ORIGIN4[0]))])
    for _ in range(3):
        tcp_hello(topo.client, AGENT4_C, 3050)
    with topo.client.connect(AGENT4_C, 3050) as a, topo.client.connect(AGENT4_C, 3050) as b:
        read_line(a)
        read_line(b)

        def counts() -> tuple[int, int]:
            stats = kernel.stats()[("t.example", 0)]
            return stats["flows_total"], stats["flows_active"]

        # until the closed flows' FINs reached conntrack
        assert wait_until(lambda: counts() == (5, 2), timeout=3), counts()


def test_flows_are_read_from_proc_without_the_conntrack_tool(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    kernel.conntrack.tool = False  # as on a host without Debian's conntrack package
    assert kernel.conntrack.source == "/proc/net/nf_conntrack"
    kernel.apply([("p.example", app(ORIGIN4[0]))])
    with topo.client.connect(AGENT4_C, 3050) as tcp:
        read_line(tcp)
        udp_ask(topo.client, AGENT4_C, 3050)
        stats = kernel.stats()
        assert stats[("p.example", 0)]["flows_active"] == 1
        assert stats[("p.example", 1)]["flows_active"] == 1
        kernel.apply([])
        assert kernel.expire_drains(time.monotonic() + 1.0) == 0  # cannot delete without it
        roundtrip(tcp, b"lives on until conntrack's own timeout")


def test_a_refused_batch_fails_prepare_and_changes_nothing(
    topo: Topology, origins: EchoServer, kernel: KernelForwarder
) -> None:
    from l4agent.kernel import NftError

    kernel.apply([("ok.example", app(ORIGIN4[0]))])
    tcp_hello(topo.client, AGENT4_C, 3050)
    broken = kernel.prepare([("ok.example", app(ORIGIN4[1]))])
    broken.compiled.transaction["nftables"].append({"add": {"rule": {"family": "inet",
        "table": TABLE, "chain": "no_such_chain", "expr": [{"accept": None}]}}})  # fmt: skip
    with pytest.raises(NftError):
        kernel.runner.nft_json(broken.compiled.transaction, check_only=True)
    with pytest.raises(NftError):  # a batch is all or nothing: the good part is not applied
        kernel.commit(broken)
    assert tcp_hello(topo.client, AGENT4_C, 3050)[0] == ORIGIN4[0]
    assert kernel.stats()[("ok.example", 0)]["flows_total"] == 2  # counted once, not twice


def test_forwarding_sysctls_are_read_inside_the_namespace(topo: Topology) -> None:
    agent = KernelForwarder(TABLE, Runner(topo.agent.name))
    assert agent.forwarding() == {"ipv4": True, "ipv6": True, "route_localnet": False}
    assert agent.forwarding_problems() == []
    origin = KernelForwarder(TABLE, Runner(topo.origin.name))
    problems = origin.forwarding_problems()
    assert len(problems) == 2 and problems[0].startswith("net.ipv4.ip_forward is 0")
