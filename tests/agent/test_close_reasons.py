"""Why each relayed TCP connection ended: the rule's `closes_<reason>` counters
(docs/agent.md, "Counters"), one per accepted connection, on both TCP relay paths
(asyncio Protocols and --splice), with real clients and origins on loopback."""

from __future__ import annotations

import contextlib
import socket
import struct
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.agent.harness import Agent, Origins, app, port, recv_all, rule, wait_until
from tests.reliability.support import SilentOrigin

IDLE = "1s"
LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a RST


@pytest.fixture(scope="module", params=[(), ("--splice",)], ids=["protocol", "splice"])
def relay(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Agent]:
    flags = ("--idle-timeout", IDLE, "--drain-timeout", "300ms", "--fast-path", "off")
    agent = Agent(tmp_path_factory.mktemp("closes") / "state", *flags, *request.param)
    try:
        yield agent.start()
    finally:
        agent.kill()


class ThreadOrigin(SilentOrigin):
    """A TCP origin on 127.0.0.1 whose thread hands each accepted connection to
    `serve` (and closes it afterwards)."""

    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self.serve = serve
        self.port = port()
        super().__init__(self.port)

    def _run(self) -> None:
        while not self.stopped.is_set():
            with contextlib.suppress(OSError):
                conn, _ = self.sock.accept()
                conn.settimeout(5)
                with conn:
                    self.serve(conn)


def says_bye(conn: socket.socket) -> None:
    """The origin ends first: a line, then its FIN."""
    conn.sendall(b"bye\n")


def resets_after_data(conn: socket.socket) -> None:
    """The origin reads what the client sent, then resets the connection."""
    conn.recv(16)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)


def echo_then_close(edge: int) -> None:
    with socket.create_connection(("127.0.0.1", edge), timeout=5) as s:
        s.sendall(b"ping")
        assert s.recv(4) == b"ping"


def read_to_end(edge: int) -> None:
    with socket.create_connection(("127.0.0.1", edge), timeout=5) as s:
        assert recv_all(s) == b"bye\n"


def echo_then_reset(edge: int) -> None:
    s = socket.create_connection(("127.0.0.1", edge), timeout=5)
    s.sendall(b"ping")
    assert s.recv(4) == b"ping"
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    s.close()


def send_until_closed(edge: int) -> None:
    """Send a few bytes and wait until the agent closes the connection (FIN or RST)."""
    with socket.create_connection(("127.0.0.1", edge), timeout=10) as s:
        s.sendall(b"ping")
        with contextlib.suppress(ConnectionResetError):
            recv_all(s)


def echo_then_wait(edge: int) -> None:
    with socket.create_connection(("127.0.0.1", edge), timeout=10) as s:
        s.sendall(b"ping")
        assert s.recv(4) == b"ping"
        assert recv_all(s) == b""  # the idle timeout closed it


def counters(agent: Agent, name: str) -> dict[str, int]:
    return agent.client.status([name])["apps"][0]["rules"][0]["counters"]  # type: ignore[no-any-return]


def reasons(found: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in found.items() if k.startswith("closes_") and v}


def settles_on(agent: Agent, name: str, expected: dict[str, int]) -> dict[str, int]:
    """The rule's close reasons once they equal `expected`, else after 10 s."""
    found: dict[str, int] = {}

    def done() -> bool:
        found.update(counters(agent, name))
        return reasons(found) == expected and found["connections_active"] == 0

    wait_until(done, timeout=10)
    return reasons(found)


CASES: dict[str, tuple[str, Callable[[int], None], Any]] = {
    # reason: (origin, client, spec changes)
    "client": ("echo", echo_then_close, None),
    "origin": ("bye", read_to_end, None),
    "client_reset": ("echo", echo_then_reset, None),
    "origin_reset": ("reset", send_until_closed, None),
    "idle_timeout": ("echo", echo_then_wait, None),
    "connect_failed": ("none", send_until_closed, None),
    "no_healthy_origin": ("echo", send_until_closed, "weight 0"),
    "acl_denied": ("echo", send_until_closed, "blocked"),
}


@pytest.mark.parametrize("reason", CASES)
def test_a_close_is_counted_under_its_reason(relay: Agent, origins: Origins, reason: str) -> None:
    kind, client, change = CASES[reason]
    threads = {"bye": says_bye, "reset": resets_after_data}
    origin = ThreadOrigin(threads[kind]) if kind in threads else None
    origin_port = origin.port if origin else port()
    if kind == "echo":
        origins.tcp(origin_port)
    edge, name = port(), f"c{uuid.uuid4().hex[:8]}.example.com"
    spec = app(rule("tcp", edge, origin_port))
    if change == "weight 0":
        spec["rules"][0]["origin"]["targets"][0]["weight"] = 0
    if change == "blocked":
        spec["acl"] = [{"action": "block", "sources": ["127.0.0.0/8"]}]
    try:
        relay.apply({name: spec})
        client(edge)
        found = settles_on(relay, name, {f"closes_{reason}": 1})
    finally:
        if origin is not None:
            origin.close()
    assert found == {f"closes_{reason}": 1}


def test_a_connection_cut_at_the_end_of_a_drain(relay: Agent, origins: Origins) -> None:
    """Turning IPv6 off drains the rule's ::1 listener; a connection still open when
    the drain timeout ends is counted as drain_timeout (the rule, and its counters, stay)."""
    origin, edge, name = port(), port(), f"d{uuid.uuid4().hex[:8]}.example.com"
    origins.tcp(origin)
    relay.apply({name: app(rule("tcp", edge, origin), ipv6=True)})
    try:
        held = socket.create_connection(("::1", edge), timeout=5)
    except OSError as e:
        pytest.skip(f"no IPv6 loopback: {e}")
    with held:
        held.sendall(b"ping")
        assert held.recv(4) == b"ping"
        relay.apply({name: app(rule("tcp", edge, origin), ipv6=False)})
        found = settles_on(relay, name, {"closes_drain_timeout": 1})
        with contextlib.suppress(ConnectionResetError):
            assert recv_all(held) == b""
    assert found == {"closes_drain_timeout": 1}


def test_reasons_add_up_and_reach_the_metrics(relay: Agent, origins: Origins) -> None:
    """Five client closes and three refused connects: Status.Get's reasons add up to
    the closed connections and /metrics carries them as one labelled counter."""
    good, dead, edge, other = port(), port(), port(), port()
    origins.tcp(good)
    name = f"m{uuid.uuid4().hex[:8]}.example.com"
    relay.apply({name: app(rule("tcp", edge, good), rule("tcp", other, dead))})
    for _ in range(5):
        echo_then_close(edge)
    for _ in range(3):
        send_until_closed(other)
    assert settles_on(relay, name, {"closes_client": 5}) == {"closes_client": 5}
    rules = relay.client.status([name])["apps"][0]["rules"]
    refused = reasons(rules[1]["counters"])
    # the first failure takes the target out for a while: the others find no origin
    assert sum(refused.values()) == 3 and refused.get("closes_connect_failed", 0) >= 1
    assert set(refused) <= {"closes_connect_failed", "closes_no_healthy_origin"}
    body = urllib.request.urlopen(f"{relay.endpoint}/metrics", timeout=5).read().decode()
    closes = {
        (s.labels["rule"], s.labels["reason"]): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == "l4agent_connection_closes_total" and s.labels["app"] == name
    }
    assert closes[("0", "client")] == 5
    assert closes[("0", "origin_reset")] == 0
    assert {r: v for (i, r), v in closes.items() if i == "1" and v} == {
        k.removeprefix("closes_"): v for k, v in refused.items()
    }
