"""A blackholed origin address (issue 16, item 2): SYNs that vanish on the way.

The agent runs in its own network namespace (tests/kernel/netns.py: client ⇄ agent ⇄
origin) with --fast-path off, so every rule goes through the relay. In the origin
namespace one address drops every packet sent to it (an nftables table there, gone
with the namespace), a second address refuses (nothing listens), a third serves an
echo origin. Clients of the blackholed rule must be closed after the connect timeout
and counted as connect_timeout, the refusing rule's as connect_failed, and an echo
loop through the good rule must not fail meanwhile.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.agent.harness import app, rule, wait_until
from tests.kernel.netns import (
    AGENT4_C,
    ORIGIN4,
    EchoServer,
    Namespace,
    Topology,
    missing_privileges,
    read_line,
)
from tests.kernel.test_agent_e2e import RunningAgent
from tests.reliability.figures import report
from tests.reliability.support import free
from tests.reliability.test_bad_origins import (
    CLIENTS,
    close_reasons,
    closed_after,
    reason_problems,
)

CONNECT = 1.0
GOOD, BLACKHOLE, REFUSING = ORIGIN4
REASON = {"blackhole": "closes_connect_timeout", "refused": "closes_connect_failed"}
LIMIT = {"blackhole": CONNECT + 2.0, "refused": 2.0}
DROP = f"""table inet blackhole {{
  chain input {{ type filter hook input priority 0; policy accept; ip daddr {BLACKHOLE} drop; }}
}}
"""


@pytest.fixture
def netbench(tmp_path: Path) -> Iterator[dict[str, Any]]:
    reason = missing_privileges()
    if reason:
        pytest.skip(reason)
    topo = Topology()
    node: RunningAgent | None = None
    server: EchoServer | None = None
    try:
        origin_port = free()
        server = EchoServer(topo.origin, [("tcp", GOOD, origin_port)])
        _nft(topo.origin, DROP)
        flags = ["--idle-timeout", "5s", "--connect-timeout", f"{CONNECT:g}s"]
        node = RunningAgent(topo, tmp_path / "state", "off", extra=flags)
        node.wait_serving()
        edges = {"good": free(), "blackhole": free(), "refused": free()}
        hosts = {"good": GOOD, "blackhole": BLACKHOLE, "refused": REFUSING}
        node.apply(
            {
                f"{k}.example.com": app(rule("tcp", edges[k], origin_port, host=hosts[k]))
                for k in edges
            }
        )
        # enough threads in the client namespace for every client at once and the loop
        clients = Namespace(topo.client.name, create=False, threads=2 * CLIENTS + 2)
        try:
            yield {"clients": clients, "agent": node, "edges": edges}
        finally:
            clients.close(delete=False)
    finally:
        if node is not None:
            node.stop()
        if server is not None:
            server.close()
        topo.close()


def _nft(ns: Namespace, ruleset: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", ns.name, "nft", "-f", "-"],
        input=ruleset, text=True, check=True, capture_output=True, timeout=20,
    )  # fmt: skip


def closed_after_in(ns: Namespace, port: int) -> float:
    """closed_after for a client in `ns`, through the agent's address there."""
    return ns.call(closed_after, port, AGENT4_C)


def echo_once(ns: Namespace, port: int) -> bool:
    def client() -> bool:
        try:
            with socket.create_connection((AGENT4_C, port), timeout=5) as s:
                read_line(s)  # the echo origin's greeting
                s.sendall(b"x" * 64)
                got = b""
                while len(got) < 64:
                    chunk = s.recv(64 - len(got))
                    if not chunk:
                        return False
                    got += chunk
                return got == b"x" * 64
        except OSError:
            return False

    return ns.call(client)


def test_a_blackholed_address_is_a_connect_timeout(netbench: dict[str, Any]) -> None:
    clients, node, edges = netbench["clients"], netbench["agent"], netbench["edges"]
    ok = failed = 0
    stop = threading.Event()

    def loop() -> None:
        nonlocal ok, failed
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            if echo_once(clients, edges["good"]):
                ok += 1
            else:
                failed += 1

    echo = threading.Thread(target=loop, daemon=True)
    echo.start()
    kinds = ("blackhole", "refused")
    with ThreadPoolExecutor(len(kinds) * CLIENTS) as pool:
        futures = {k: [pool.submit(closed_after_in, clients, edges[k]) for _ in range(CLIENTS)]
                   for k in kinds}  # fmt: skip
        times = {k: [f.result() for f in fs] for k, fs in futures.items()}
    stop.set()
    echo.join(10)
    found: dict[str, dict[str, int]] = {}

    def settled() -> bool:
        apps = node.call("status")["apps"]
        found.update({a["name"].split(".")[0]: a["rules"][0]["counters"] for a in apps})
        return not any(found[k]["connections_active"] for k in kinds)

    wait_until(settled, timeout=30)
    problems = [f"{k}: closed after {max(t):.1f} s (limit {LIMIT[k]:.1f} s)"
                for k, t in times.items() if max(t) > LIMIT[k]]  # fmt: skip
    problems += reason_problems(found, REASON, CLIENTS)
    if failed or not ok:
        problems.append(f"echo loop through the good rule: {failed} failed, {ok} ok")
    report(
        "bad-origins-netns-blackhole",
        ", ".join(f"{k} {max(t):.1f} s" for k, t in times.items())
        + f" (max of {CLIENTS} clients each); "
        + "; ".join(f"{k} {close_reasons(found[k])}" for k in (*kinds, "good"))
        + f"; good rule {ok}/{ok + failed} echoes ok",
    )
    assert not problems, problems
