"""TCP relay behaviour: half-close both ways, large transfers (hash-checked) with
back-pressure, origin failures, idle timeout. Every test runs against both relay
paths: asyncio BufferedProtocols (the default) and os.splice (--splice)."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.agent.harness import (
    Agent,
    Origins,
    app,
    port,
    recv_all,
    rule,
    sha256,
    tcp_roundtrip,
    wait_until,
)


@pytest.fixture(scope="module", params=[(), ("--splice",)], ids=["protocol", "splice"])
def relay_flags(request: pytest.FixtureRequest) -> tuple[str, ...]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def shared_agent(
    tmp_path_factory: pytest.TempPathFactory, relay_flags: tuple[str, ...]
) -> Iterator[Agent]:
    agent = Agent(tmp_path_factory.mktemp("relay") / "state", *relay_flags)
    try:
        yield agent.start()
    finally:
        agent.kill()


def name() -> str:
    return f"t{uuid.uuid4().hex[:8]}.example.com"


def test_client_half_close_still_receives(shared_agent: Agent, shared_origins: Origins) -> None:
    edge, origin = port(), port()
    shared_origins.tcp(origin, eof_marker=b"<after-eof>")
    shared_agent.apply({name(): app(rule("tcp", edge, origin))})
    # the origin writes after the client's EOF reached it: that data must still arrive
    assert tcp_roundtrip(edge, b"hello") == b"hello<after-eof>"


def test_origin_half_close_still_receives(shared_agent: Agent) -> None:
    """The origin closes its write side first; the client can still send to it."""
    edge = port()
    received: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        origin = server.getsockname()[1]

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"greeting")
                conn.shutdown(socket.SHUT_WR)
                received.append(recv_all(conn))

        thread = threading.Thread(target=serve)
        thread.start()
        shared_agent.apply({name(): app(rule("tcp", edge, origin))})
        with socket.create_connection(("127.0.0.1", edge), timeout=5) as client:
            assert recv_all(client) == b"greeting"  # EOF from the origin arrives...
            client.sendall(b"late data")  # ...and the other direction still works
            client.shutdown(socket.SHUT_WR)
        thread.join(5)
    assert received == [b"late data"]


def test_proxy_v1_header_comes_first(shared_agent: Agent) -> None:
    edge = port()
    with socket.create_server(("127.0.0.1", 0)) as server:
        origin = server.getsockname()[1]
        shared_agent.apply({name(): app(rule("tcp", edge, origin, passthrough="proxy_v1"))})
        with socket.create_connection(("127.0.0.1", edge), timeout=5) as client:
            client.sendall(b"payload")
            client.shutdown(socket.SHUT_WR)
            conn, _ = server.accept()
            with conn:
                conn.settimeout(5)
                received = recv_all(conn)
            client_port = client.getsockname()[1]
    expected = f"PROXY TCP4 127.0.0.1 127.0.0.1 {client_port} {edge}\r\n".encode()
    assert received == expected + b"payload"


def _pump(host: str, edge: int, payload: bytes) -> bytes:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(20)
        s.connect((host, edge))

        def send() -> None:
            view = memoryview(payload)
            while view:
                view = view[s.send(view[: 1 << 18]) :]
            s.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        data = recv_all(s)
        sender.join(20)
    return data


def test_large_transfers_arrive_intact(shared_agent: Agent, shared_origins: Origins) -> None:
    edge, origin = port(), port()
    shared_origins.tcp(origin)
    shared_agent.apply({name(): app(rule("tcp", edge, origin), ipv6=True)})
    payload = os.urandom(24 << 20)
    started = time.monotonic()
    assert sha256(_pump("127.0.0.1", edge, payload)) == sha256(payload)
    assert sha256(_pump("::1", edge, payload[: 8 << 20])) == sha256(payload[: 8 << 20])
    assert time.monotonic() - started < 30


def test_slow_readers_get_every_byte_while_other_connections_are_relayed(
    shared_agent: Agent, shared_origins: Origins
) -> None:
    """Slow clients make the agent's writes to them queue while other connections keep
    reading: a queued write must keep the bytes it was given (the relay reads into one
    buffer per process and hands out slices of it), so each client must get back
    exactly what it sent through the echo origin."""
    edge, origin = port(), port()
    shared_origins.tcp(origin)
    shared_agent.apply({name(): app(rule("tcp", edge, origin))})
    payloads = [os.urandom(6 << 20) for _ in range(3)]
    received: list[bytes] = [b""] * len(payloads)

    def client(i: int) -> None:
        with socket.create_connection(("127.0.0.1", edge), timeout=20) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 10)
            sender = threading.Thread(
                target=lambda: (s.sendall(payloads[i]), s.shutdown(socket.SHUT_WR))
            )
            sender.start()
            chunks = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                chunk = s.recv(16 << 10)
                if not chunk:
                    break
                chunks.append(chunk)
                if i and len(chunks) % 8 == 0:
                    time.sleep(0.002)  # read slowly: the agent's writes to this client queue
            sender.join(20)
            received[i] = b"".join(chunks)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(payloads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    for i, payload in enumerate(payloads):
        assert len(received[i]) == len(payload), i
        assert sha256(received[i]) == sha256(payload), i


def test_back_pressure_bounds_buffering(shared_agent: Agent) -> None:
    """An origin that does not read: the agent stops reading the client instead of
    buffering without bound, so the client's send blocks."""
    edge = port()
    with socket.create_server(("127.0.0.1", 0)) as server:
        origin = server.getsockname()[1]
        shared_agent.apply({name(): app(rule("tcp", edge, origin))})
        with socket.create_connection(("127.0.0.1", edge), timeout=5) as client:
            conn, _ = server.accept()  # accepted, never read
            client.setblocking(False)
            sent = 0
            chunk = b"x" * 65536
            deadline = time.monotonic() + 5
            stalled_for = 0.0
            while time.monotonic() < deadline and stalled_for < 0.5:
                try:
                    sent += client.send(chunk)
                    stalled_for = 0.0
                except BlockingIOError:
                    time.sleep(0.05)
                    stalled_for += 0.05
            conn.close()
    # kernel buffers on both legs plus the agent's 1 MiB high-water mark; far below 64 MiB
    assert stalled_for >= 0.5
    assert sent < 64 << 20


def test_origin_refusing_closes_the_client(shared_agent: Agent) -> None:
    edge, origin = port(), port()  # nothing listens on origin
    spec_name = name()
    shared_agent.apply({spec_name: app(rule("tcp", edge, origin))})
    assert closed_by_peer(edge)
    counters = shared_agent.client.status([spec_name])["apps"][0]["rules"][0]["counters"]
    assert counters["origin_connect_failures"] == 1
    assert counters["connections_active"] == 0


def closed_by_peer(edge: int) -> bool:
    """Connect and wait: True when the agent closes (FIN or RST) without sending data."""
    with socket.create_connection(("127.0.0.1", edge), timeout=5) as client:
        try:
            return client.recv(10) == b""
        except ConnectionResetError:
            return True


def test_idle_timeout(agent_factory, origins: Origins, relay_flags: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--idle-timeout", "400ms", *relay_flags)
    edge, origin = port(), port()
    origins.tcp(origin)
    agent.apply({"idle.example.com": app(rule("tcp", edge, origin))})
    with socket.create_connection(("127.0.0.1", edge), timeout=5) as client:
        client.sendall(b"ping")
        assert client.recv(10) == b"ping"
        started = time.monotonic()
        assert recv_all(client) == b""  # closed by the agent
        idle = time.monotonic() - started
    assert 0.35 < idle < 2.0
    assert wait_until(
        lambda: agent.client.status()["apps"][0]["rules"][0]["counters"]["connections_active"] == 0
    )
