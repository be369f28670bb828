"""Origins that accept and never answer, that reset, that are blackholed (issue 16,
item 2): the client gets a timely close, counters say why, other rules unaffected.

One agent (--idle-timeout 2s, --connect-timeout 1s) carries a rule per kind of bad
origin and one to a good echo origin; an echo loop through the good rule runs the
whole time. The blackhole is a listening socket that never accepts, its backlog
filled first, so the kernel drops further SYNs and a connect neither succeeds nor
fails until the agent gives up.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.agent.harness import Origins
from tests.reliability.figures import report
from tests.reliability.support import (
    Agent,
    BlackholeOrigin,
    ResettingOrigin,
    SilentOrigin,
    agent,
    app,
    forwards,
    free,
    rule,
)

IDLE, CONNECT = 2.0, 1.0
# when each client must be closed at the latest: the idle check runs four times per
# timeout (docs/agent.md), plus scheduling slack on a loaded machine
LIMIT = {"silent": IDLE * 1.25 + 2.0, "reset": 2.0, "blackhole": CONNECT + 2.0}
CLIENTS = 5
BASELINE = {"listeners_bound", "connections_total", "connections_active", "bytes_in", "bytes_out"}


class EchoLoop:
    """Round trips through a good rule in a background thread until stopped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ok = self.failed = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 120
        while not self.stop.is_set() and time.monotonic() < deadline:
            if forwards(self.port, b"x" * 64, timeout=5):
                self.ok += 1
            else:
                self.failed += 1
            time.sleep(0.01)

    def finish(self) -> tuple[int, int]:
        self.stop.set()
        self.thread.join(10)
        return self.ok, self.failed


def closed_after(port: int) -> float:
    """Seconds until the agent closes a client that sent a few bytes (or 30 = never)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"hello")
        try:
            while s.recv(4096):
                pass
        except (ConnectionResetError, TimeoutError):
            pass
    return time.monotonic() - started


@pytest.fixture
def bench(tmp_path: Path, origins: Origins) -> Iterator[dict[str, Any]]:
    ports = {kind: free() for kind in ("silent", "reset", "blackhole", "good")}
    bad = {
        "silent": SilentOrigin(ports["silent"]),
        "reset": ResettingOrigin(ports["reset"]),
        "blackhole": BlackholeOrigin(ports["blackhole"]),
    }
    origins.tcp(ports["good"])
    node = agent(tmp_path, "agent", "--idle-timeout", "2s", "--connect-timeout", "1s")
    edges = {kind: free() for kind in ports}
    try:
        node.start()
        node.apply({f"{k}.example.com": app(rule("tcp", edges[k], ports[k])) for k in ports})
        yield {"agent": node, "edges": edges}
    finally:
        node.kill()
        for origin in bad.values():
            origin.close()


def counters(node: Agent) -> dict[str, dict[str, int]]:
    return {
        a["name"].split(".")[0]: a["rules"][0]["counters"] for a in node.client.status()["apps"]
    }


def run_clients(edges: dict[str, int]) -> dict[str, list[float]]:
    with ThreadPoolExecutor(3 * CLIENTS) as pool:
        futures = {
            kind: [pool.submit(closed_after, edges[kind]) for _ in range(CLIENTS)]
            for kind in ("silent", "reset", "blackhole")
        }
        return {kind: [f.result() for f in fs] for kind, fs in futures.items()}


def late(times: dict[str, list[float]], limit: dict[str, float]) -> list[str]:
    return [
        f"{kind}: closed after {max(ts):.1f} s (limit {limit[kind]:.1f} s)"
        for kind, ts in times.items()
        if max(ts) > limit[kind]
    ]


def test_bad_origins_close_clients_in_time(bench: dict[str, Any]) -> None:
    node, edges = bench["agent"], bench["edges"]
    loop = EchoLoop(edges["good"])
    times = run_clients(edges)
    ok, failed = loop.finish()
    found = counters(node)
    problems = late(times, LIMIT)
    if failed or not ok:
        problems.append(f"echo loop through the good rule: {failed} failed, {ok} ok")
    if found["blackhole"]["origin_connect_failures"] < CLIENTS:
        problems.append(f"blackhole counters: {found['blackhole']}")
    if any(found[k]["connections_active"] for k in ("silent", "reset", "blackhole")):
        problems.append(f"connections still open: {found}")
    report(
        "bad-origins-close",
        ", ".join(f"{k} {max(t):.1f} s" for k, t in times.items())
        + f" (max of {CLIENTS} clients each); good rule {ok}/{ok + failed} echoes ok",
    )
    assert not problems, problems


@pytest.mark.xfail(
    strict=True,
    reason="l4agent counts no reason for a close after the origin connected: a silent"
    " origin's clients are closed by the idle timeout (only a debug log line) and a"
    " resetting origin's at once, and Status.Get shows both as ordinary closed connections",
)
def test_counters_say_why_a_connected_origin_failed(bench: dict[str, Any]) -> None:
    node, edges = bench["agent"], bench["edges"]
    run_clients(edges)
    assert forwards(edges["good"])
    found = counters(node)
    normal = {k for k, v in found["good"].items() if v} | BASELINE
    for kind in ("silent", "reset"):
        reasons = {k for k, v in found[kind].items() if v} - normal
        assert reasons, f"{kind}: no counter says why ({found[kind]})"


def test_timing_check_reports_a_late_close() -> None:
    assert late({"reset": [0.1, 9.0]}, LIMIT) == ["reset: closed after 9.0 s (limit 2.0 s)"]
