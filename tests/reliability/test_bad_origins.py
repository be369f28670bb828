"""Origins that accept and never answer, that reset, that are blackholed (issue 16,
item 2): the client gets a timely close, counters say why, other rules unaffected.

One agent (--idle-timeout 2s, --connect-timeout 1s) carries a rule per kind of bad
origin and one to a good echo origin; an echo loop through the good rule runs the
whole time. Each rule's `closes_<reason>` counters must name why its clients were
closed (idle timeout, origin reset, connect timeout) and add up to its closed
connections, and the good rule must count only clients that closed.

Two blackholes, both SYNs the kernel drops so that a connect neither succeeds nor
fails until the agent gives up: here, on loopback, a listening socket that never
accepts with its backlog filled (an origin host that is up but overloaded); in
test_bad_origins_netns.py, an address whose network namespace drops every packet
(a dead host or a firewall), next to one that refuses.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.agent.harness import Origins, wait_until
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
KINDS = ("silent", "reset", "blackhole", "good")
# the reason each bad origin's clients must be counted under
REASON = {
    "silent": "closes_idle_timeout",
    "reset": "closes_origin_reset",
    "blackhole": "closes_connect_timeout",
}


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


def closed_after(port: int, host: str = "127.0.0.1") -> float:
    """Seconds until the agent closes a client that sent a few bytes (or 30 = never)."""
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(b"hello")
        try:
            while s.recv(4096):
                pass
        except (ConnectionResetError, TimeoutError):
            pass
    return time.monotonic() - started


FLAGS = ("--idle-timeout", "2s", "--connect-timeout", "1s", "--fast-path", "off")


class UncountingAgent(Agent):
    """The real agent with its close accounting (`relay.base.closed`) made a no-op
    before the relays import it: what the agent was before it counted close reasons."""

    PATCH = (
        "import runpy, l4agent.dataplane.relay.base as base; "
        "base.closed = lambda stats, reason: None; "
        "runpy.run_module('l4agent', run_name='__main__', alter_sys=True)"
    )

    def command(self) -> list[str]:
        argv = super().command()
        at = argv.index("-m")
        assert argv[at + 1] == "l4agent", argv
        return [*argv[:at], "-c", self.PATCH, *argv[at + 2 :]]


@contextlib.contextmanager
def bad_origins(node: Agent, origins: Origins) -> Iterator[dict[str, Any]]:
    """`node` started with a rule per bad origin and one to a good echo origin."""
    ports = {kind: free() for kind in KINDS}
    bad = {
        "silent": SilentOrigin(ports["silent"]),
        "reset": ResettingOrigin(ports["reset"]),
        "blackhole": BlackholeOrigin(ports["blackhole"]),
    }
    origins.tcp(ports["good"])
    edges = {kind: free() for kind in ports}
    try:
        node.start()
        node.apply({f"{k}.example.com": app(rule("tcp", edges[k], ports[k])) for k in ports})
        yield {"agent": node, "edges": edges}
    finally:
        node.kill()
        for origin in bad.values():
            origin.close()


@pytest.fixture
def bench(tmp_path: Path, origins: Origins) -> Iterator[dict[str, Any]]:
    with bad_origins(agent(tmp_path, "agent", *FLAGS), origins) as bench:
        yield bench


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


def close_reasons(counters: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counters.items() if k.startswith("closes_") and v}


def reason_problems(
    found: dict[str, dict[str, int]], expected: dict[str, str], clients: int
) -> list[str]:
    """What the close-reason counters get wrong: every client of a rule in `expected`
    counted under that reason, every rule's reasons adding up to its closed
    connections, and any other rule counting only clients that closed."""
    problems = []
    for kind, c in sorted(found.items()):
        reasons = close_reasons(c)
        ended = c["connections_total"] - c["connections_active"]
        if sum(reasons.values()) != ended:
            problems.append(f"{kind}: close reasons {reasons} for {ended} closed connections")
        if kind in expected and reasons.get(expected[kind], 0) != clients:
            problems.append(f"{kind}: {clients} clients, {expected[kind]} {reasons}")
        if kind not in expected and set(reasons) - {"closes_client"}:
            problems.append(f"{kind}: unaffected rule counts other closes: {reasons}")
    return problems


def wait_closed(node: Agent, kinds: Iterable[str]) -> dict[str, dict[str, int]]:
    """The counters once the agent holds no connection of these rules (it may count a
    close a moment after the client saw it), or as they are after 30 s."""
    found: dict[str, dict[str, int]] = {}

    def settled() -> bool:
        found.update(counters(node))
        return not any(found[k]["connections_active"] for k in kinds)

    wait_until(settled, timeout=30)
    return found


def test_counters_say_why_each_bad_origin_failed(bench: dict[str, Any]) -> None:
    node, edges = bench["agent"], bench["edges"]
    run_clients(edges)
    assert forwards(edges["good"])
    found = wait_closed(node, edges)
    problems = reason_problems(found, REASON, CLIENTS)
    report(
        "bad-origins-close-reasons",
        "; ".join(f"{k} {close_reasons(found[k])}" for k in KINDS),
    )
    assert not problems, problems


def test_reason_check_fails_on_an_agent_that_does_not_count_why(
    tmp_path: Path, origins: Origins
) -> None:
    """The same bench against the real agent with its close accounting disabled: the
    check reports every bad origin and every rule's missing reasons."""
    node = UncountingAgent(tmp_path / "uncounting", *FLAGS, control_port=free())
    with bad_origins(node, origins) as bench:
        run_clients(bench["edges"])
        assert forwards(bench["edges"]["good"])
        found = wait_closed(node, bench["edges"])
    assert found["silent"]["connections_total"] == CLIENTS  # the traffic did go through it
    problems = reason_problems(found, REASON, CLIENTS)
    for kind, reason in REASON.items():
        assert f"{kind}: {CLIENTS} clients, {reason} {{}}" in problems, problems
    assert any(p.startswith("good: close reasons {}") for p in problems), problems


def test_reason_check_reports_a_wrong_reason_and_a_missing_close() -> None:
    base = {"connections_total": 2, "connections_active": 0}
    found = {
        "reset": {**base, "closes_idle_timeout": 2},
        "good": {**base, "closes_client": 1, "closes_origin_reset": 1},
        "other": {**base, "closes_client": 1},
    }
    assert reason_problems(found, {"reset": "closes_origin_reset"}, 2) == [
        "good: unaffected rule counts other closes: {'closes_client': 1, 'closes_origin_reset': 1}",
        "other: close reasons {'closes_client': 1} for 2 closed connections",
        "reset: 2 clients, closes_origin_reset {'closes_idle_timeout': 2}",
    ]


def test_timing_check_reports_a_late_close() -> None:
    assert late({"reset": [0.1, 9.0]}, LIMIT) == ["reset: closed after 9.0 s (limit 2.0 s)"]
