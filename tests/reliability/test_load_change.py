"""Load through change (issue 16, item 3).

TCP: N connections are opened through one rule of a "carrying" application and
held while 50 Config.Apply calls change another rule of that application, other
applications (created, changed, deleted) and the carrying rule's own comment. Each
connection echoes once before, a sample echoes between applies, and all echo again
at the end: every one must still carry bytes (0 lost).

UDP: a flood from many source ports against --udp-max-flows 1000: the flow table
stays at its bound (evictions counted), the agent's memory grows less than a stated
figure, and a legitimate flow that keeps talking keeps getting its replies.
"""

from __future__ import annotations

import random
import selectors
import socket
import time
from pathlib import Path
from typing import Any

from tests.agent.harness import Origins
from tests.reliability.figures import report, trials
from tests.reliability.support import (
    Agent,
    agent,
    app,
    free,
    nofile,
    process_rss_kib,
    rule,
    tcp_echo,
)

CONNECTIONS = trials("L4PLAN_RELIABILITY_CONNECTIONS", 1000, 5000)
APPLIES = 50
UDP_SOURCES = trials("L4PLAN_RELIABILITY_UDP_SOURCES", 5000, 20000)
UDP_MAX_FLOWS = 1000
# agent RSS growth allowed for a flood of any size against a 1,000-flow table: a flow
# holds a socket and a few small objects (about 2 KiB), so the bounded table is ~2 MiB;
# the rest is allocator slack
UDP_RSS_LIMIT_KIB = 32 * 1024


def echo_all(socks: list[socket.socket], payload: bytes, timeout: float = 30) -> list[int]:
    """Send `payload` on every socket and read it back; the indexes that failed."""
    failed: set[int] = set()
    pending: dict[int, bytes] = {}
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        try:
            s.sendall(payload)
        except OSError:
            failed.add(i)
            continue
        pending[i] = b""
        sel.register(s, selectors.EVENT_READ, i)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            i = key.data
            try:
                chunk = socks[i].recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                failed.add(i)
                pending.pop(i, None)
                sel.unregister(socks[i])
                continue
            pending[i] += chunk
            if len(pending[i]) >= len(payload):
                if pending.pop(i) != payload:
                    failed.add(i)
                sel.unregister(socks[i])
    failed |= set(pending)
    sel.close()
    return sorted(failed)


def open_connections(port: int, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(True)
        socks.append(s)
    return socks


def changes(
    carry_port: int, origin: int, spare: list[int], step: int
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The upserts and deletes of apply number `step`."""
    carrying = rule("tcp", carry_port, origin)
    carrying["comment"] = f"carrying, apply {step}"
    other = rule("tcp", spare[step % 2], origin)  # another rule of the same application
    upsert = {
        "carry.example.com": app(carrying, other),
        f"other{step % 3}.example.com": app(rule("tcp", spare[2 + step % 3], origin)),
    }
    upsert["changed.example.com"] = app(rule("udp", spare[5], origin), keepalive=step % 2 == 1)
    delete = [f"other{(step + 1) % 3}.example.com"]
    return upsert, delete


def carry_through_change(
    node: Agent, origin: int, n: int, name: str, *, restart: bool = False
) -> dict[str, Any]:
    """Open `n` connections through the carrying rule, run the applies, check them;
    with `restart`, the agent is also killed (SIGKILL) and started again before the
    last check (only the kernel path keeps established flows through that)."""
    carry_port = free()
    spare = [free() for _ in range(6)]
    node.client = node.new_client(timeout=60.0)  # an apply may be slow on a loaded machine
    upsert, _ = changes(carry_port, origin, spare, 0)
    node.apply(upsert)
    socks = open_connections(carry_port, n)
    try:
        lost_at_start = echo_all(socks, b"before")
        rnd = random.Random(3)
        lost_between: set[int] = set()
        for step in range(1, APPLIES + 1):
            upsert, delete = changes(carry_port, origin, spare, step)
            node.apply(upsert, delete)
            sample = rnd.sample(range(n), min(50, n))
            lost_between |= {sample[i] for i in echo_all([socks[j] for j in sample], b"during")}
        if restart:
            node.kill()
            node.client = node.new_client(timeout=60.0)
            node.start()
        lost_at_end = echo_all(socks, b"after")
        status = node.client.status(names=["carry.example.com"])
    finally:
        for s in socks:
            s.close()
    lost = set(lost_at_start) | lost_between | set(lost_at_end)
    counters = status["apps"][0]["rules"][0]["counters"]
    through = f"{APPLIES} applies" + (" and a SIGKILL restart" if restart else "")
    report(
        name,
        f"{n - len(lost)}/{n} connections carried through {through}, {len(lost)} lost"
        f" (before the applies {len(lost_at_start)}, sampled during {len(lost_between)},"
        f" after {len(lost_at_end)}; origin connect failures"
        f" {counters['origin_connect_failures']})",
    )
    active = counters["connections_active"]
    path = status["apps"][0]["rules"][0].get("path", "relay")
    return {"lost": sorted(lost), "active": active, "revision": status["revision"], "path": path}


def test_connections_survive_fifty_applies(tmp_path: Path, origins: Origins) -> None:
    origin = free()
    tcp_echo(origins, origin)
    with nofile(4 * CONNECTIONS + 1024):
        node = agent(tmp_path, "agent", "--drain-timeout", "1s")
        try:
            node.start()
            result = carry_through_change(node, origin, CONNECTIONS, "tcp-held-through-applies")
        finally:
            node.kill()
    assert result["lost"] == [], f"{len(result['lost'])} connections lost"
    assert result["active"] == CONNECTIONS
    assert result["revision"] == APPLIES + 1


def test_a_lost_connection_is_counted(tmp_path: Path, origins: Origins) -> None:
    """The counting itself: connections through a rule that an apply removes are
    reported lost (after the drain timeout resets them)."""
    origin = free()
    origins.tcp(origin)
    node = agent(tmp_path, "agent", "--drain-timeout", "0s")
    try:
        node.start()
        port = free()
        node.apply({"a.example.com": app(rule("tcp", port, origin))})
        socks = open_connections(port, 20)
        assert echo_all(socks, b"x") == []
        node.apply(delete=["a.example.com"])
        lost = echo_all(socks, b"y", timeout=10)
        for s in socks:
            s.close()
    finally:
        node.kill()
    assert len(lost) == 20


# ---- UDP flood ------------------------------------------------------------------------


def flood(port: int, sources: int, legit: socket.socket) -> tuple[int, int]:
    """One datagram from each of `sources` source ports, the legitimate client sending
    (and expecting a reply) every 100 of them. Returns (replies, asked)."""
    replies = asked = 0
    batch: list[socket.socket] = []
    legit.settimeout(2)
    for i in range(sources):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"flood", ("127.0.0.1", port))
        batch.append(s)
        if len(batch) >= 200:
            for b in batch:
                b.close()
            batch = []
        if i % 100 == 0:
            asked += 1
            legit.sendto(f"legit {i}".encode(), ("127.0.0.1", port))
            try:
                while True:
                    data = legit.recv(2048)
                    if data.endswith(f"legit {i}".encode()):
                        replies += 1
                        break
            except TimeoutError:
                pass
    for b in batch:
        b.close()
    return replies, asked


def udp_counters(node: Agent) -> dict[str, int]:
    return node.client.status()["apps"][0]["rules"][0]["counters"]


def udp_violations(
    counters: dict[str, int], evicted: int, growth_kib: int, replies: int, asked: int
) -> list[str]:
    found = []
    if counters["udp_flows_active"] > UDP_MAX_FLOWS:
        found.append(f"flow table at {counters['udp_flows_active']}, over {UDP_MAX_FLOWS}")
    if evicted < (UDP_SOURCES - UDP_MAX_FLOWS) * 0.9:  # the kernel may drop some datagrams
        found.append(f"only {evicted} evictions for {UDP_SOURCES} new flows")
    if growth_kib >= UDP_RSS_LIMIT_KIB:
        found.append(f"RSS grew {growth_kib} KiB")
    if replies < asked - 1:  # one reply may race its own flow's eviction
        found.append(f"legitimate flow got {replies}/{asked} replies")
    return found


def test_udp_flood_against_a_bounded_flow_table(tmp_path: Path, origins: Origins) -> None:
    origin, edge = free(), free()
    origins.udp_echo(origin)
    node = agent(
        tmp_path, "agent", "--udp-max-flows", str(UDP_MAX_FLOWS), "--udp-idle-timeout", "60s"
    )
    try:
        node.start()
        node.apply({"u.example.com": app(rule("udp", edge, origin))})
        legit = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        legit.bind(("127.0.0.1", 0))
        assert node.proc is not None
        # warm up with one table's worth of flows, so that the baseline already holds a
        # full table
        flood(edge, UDP_MAX_FLOWS, legit)
        evictions_before = udp_counters(node)["udp_flow_evictions"]
        rss_before = process_rss_kib(node.proc.pid)
        replies, asked = flood(edge, UDP_SOURCES, legit)
        rss_after = process_rss_kib(node.proc.pid)
        counters = udp_counters(node)
        legit.close()
    finally:
        node.kill()
    growth = rss_after - rss_before
    evicted = counters["udp_flow_evictions"] - evictions_before
    report(
        "udp-flood",
        f"{UDP_SOURCES} source ports: flows active {counters['udp_flows_active']}"
        f" (bound {UDP_MAX_FLOWS}), evictions {evicted},"
        f" RSS growth {growth / 1024:.1f} MiB (limit {UDP_RSS_LIMIT_KIB // 1024}),"
        f" legitimate flow {replies}/{asked} replies",
    )
    assert udp_violations(counters, evicted, growth, replies, asked) == []


def test_udp_checks_report_an_unbounded_table() -> None:
    counters = {"udp_flows_active": UDP_MAX_FLOWS + 1}
    assert len(udp_violations(counters, 0, UDP_RSS_LIMIT_KIB, 1, 10)) == 4
