"""The connect timeout: a target that never answers the handshake is given up after
`--connect-timeout`, the next target is tried, and a pool with no live target closes
the client."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from tests.agent.harness import Origins, app, port, rule


@contextlib.contextmanager
def blackhole(host: str, blackhole_port: int) -> Iterator[None]:
    """A listener whose accept queue is full: further SYNs are dropped, so a connect
    to it hangs until the connecting side gives up."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, blackhole_port))
    listener.listen(0)
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):  # bounded: the queue of listen(0) holds one or two
            filler = socket.socket()
            filler.settimeout(0.3)
            fillers.append(filler)
            try:
                filler.connect((host, blackhole_port))
            except TimeoutError:
                break
        else:
            pytest.skip("the kernel kept accepting handshakes; no blackhole possible")
        yield
    finally:
        for s in fillers:
            s.close()
        listener.close()


def pool(*hosts: str) -> dict:
    return {
        "type": "load_balancer",
        "steering": "failover",  # in order: the dead target first
        "targets": [{"host": h, "weight": 1} for h in hosts],
        "health_check": None,
    }


def counters(agent, name: str) -> dict:  # type: ignore[no-untyped-def]
    (entry,) = agent.rpc("Status.Get", {"names": [name]})["result"]["apps"]
    return entry["rules"][0]["counters"]


def test_a_target_that_never_answers_fails_over_after_the_connect_timeout(
    agent_factory, origins: Origins
) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--connect-timeout", "300ms")
    edge, origin = port(), port()
    origins.tcp(origin, "127.0.0.1")
    with blackhole("127.0.0.2", origin):
        spec = rule("tcp", edge, origin)
        spec["origin"] = pool("127.0.0.2", "127.0.0.1")
        agent.apply({"to.example.com": app(spec)})
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", edge), timeout=30) as conn:
            conn.sendall(b"ping")
            assert conn.recv(10) == b"ping"
        # far below the kernel's own connect timeout (over a minute), whatever the load
        assert 0.25 <= time.monotonic() - started < 20
        assert counters(agent, "to.example.com")["origin_connect_failures"] >= 1


def test_no_live_target_closes_the_client_after_the_connect_timeout(
    agent_factory,
) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--connect-timeout", "300ms")
    edge, origin = port(), port()
    with blackhole("127.0.0.2", origin):
        agent.apply({"dead.example.com": app(rule("tcp", edge, origin, host="127.0.0.2"))})
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", edge), timeout=30) as conn:
            conn.sendall(b"ping")
            with contextlib.suppress(ConnectionResetError):  # a reset is closed too
                assert conn.recv(10) == b""
        # far below the kernel's own connect timeout (over a minute), whatever the load
        assert 0.25 <= time.monotonic() - started < 20
        assert counters(agent, "dead.example.com")["origin_connect_failures"] >= 1
