"""The agent run exactly as examples/systemd/l4plan-agent.service runs it: the
ExecStartPre= check passes without serving, ExecStart= serves real traffic through an
applied rule, and KillSignal= (SIGTERM) drains as docs/agent.md documents: an open
connection keeps working until it ends or --drain-timeout passes, new connections are
refused, and the agent exits 0 within TimeoutStopSec=."""

from __future__ import annotations

import select
import signal
import socket
import time
from pathlib import Path

import pytest
from l4agent.settings import parse_duration

from tests.agent.harness import app, refused, rule, tcp_roundtrip, wait_until
from tests.e2e.fleet import echo
from tests.ports import SERVICE, free_port
from tests.service import unit
from tests.service.conftest import Node, UnitAgent


def drain_timeout(node: Node) -> float:
    return parse_duration(unit.flag(node.argv("ExecStart"), "--drain-timeout"))


def stop_timeout(node: Node) -> float:
    return unit.seconds(node.unit.value("TimeoutStopSec"))


def serve_one_rule(agent: UnitAgent, origins) -> int:  # type: ignore[no-untyped-def]
    """A TCP rule onto an echo origin, proven with one round trip; its edge port."""
    origin, edge = free_port(SERVICE), free_port(SERVICE)
    origins.tcp(origin)
    result = agent.apply({"svc.example.com": app(rule("tcp", edge, origin))})
    assert result["revision"] == 1, result
    assert tcp_roundtrip(edge, b"through the unit") == b"through the unit"
    return edge


def test_the_check_passes_and_serves_nothing(node: Node) -> None:
    run = node.run("ExecStartPre")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    [line] = run.stdout.splitlines()
    assert "configuration OK" in line and f"127.0.0.1:{node.control_port}" in line
    assert "revision 0" in line
    assert list(node.state_dir.iterdir()) == []  # no lock taken, no node id made
    assert node.token not in run.stdout


def test_the_unit_serves_traffic_and_drains_on_sigterm(started: UnitAgent, node: Node, origins):  # type: ignore[no-untyped-def]
    assert started.endpoint.startswith("https://")  # the unit's TLS credentials
    edge = serve_one_rule(started, origins)
    assert node.run("ExecStartPre").returncode == 0  # a running agent's config checks OK
    with socket.create_connection(("127.0.0.1", edge), timeout=10) as open_conn:
        assert echo(open_conn, b"before") == b"before"
        assert started.proc is not None
        signalled = time.monotonic()
        started.proc.send_signal(signal.Signals[node.unit.value("KillSignal")])
        assert wait_until(lambda: refused(edge), timeout=20), started.log()
        assert started.client.health()["status"] == "NOT_SERVING"
        assert echo(open_conn, b"during the drain") == b"during the drain"
        assert started.proc.poll() is None  # waiting for this connection
    code = started.proc.wait(timeout=stop_timeout(node))
    elapsed = time.monotonic() - signalled
    assert code == 0, started.log()
    assert elapsed < drain_timeout(node), elapsed  # gone once the last connection ended
    log = started.log()
    assert f"draining for up to {drain_timeout(node):.1f}s" in log and "stopped" in log
    assert node.token not in log


@pytest.mark.timeout(300)  # waits out the unit's 30 s drain
def test_the_drain_ends_at_the_drain_timeout(started: UnitAgent, node: Node, origins):  # type: ignore[no-untyped-def]
    edge = serve_one_rule(started, origins)
    drain, limit = drain_timeout(node), stop_timeout(node)
    assert limit > drain
    with socket.create_connection(("127.0.0.1", edge), timeout=10) as open_conn:
        assert echo(open_conn, b"before") == b"before"
        assert started.proc is not None
        signalled = time.monotonic()
        started.proc.send_signal(signal.SIGTERM)
        assert wait_until(lambda: refused(edge), timeout=20), started.log()
        last_answer = 0.0
        # one exchange about every half second until the agent closes the connection
        for _ in range(int(limit * 2) + 10):
            try:
                if echo(open_conn, b"still here") != b"still here":
                    break
            except OSError:  # reset by the agent at the end of the drain
                break
            last_answer = time.monotonic() - signalled
            readable, _, _ = select.select([open_conn], [], [], 0.5)
            if readable:  # closed (EOF or reset) while idle
                break
        code = started.proc.wait(timeout=limit)
        exited = time.monotonic() - signalled
    assert code == 0, started.log()
    assert last_answer > drain - 2, (last_answer, drain)  # it worked until the end
    assert drain - 1 < exited < limit, (exited, drain, limit)


def worker_totals(agent: UnitAgent) -> dict[int, int]:
    return {w["index"]: w["connections_total"] for w in agent.client.status()["workers"]}


def test_sigterm_to_the_agent_alone_drains_its_workers(node: Node, origins, monkeypatch):  # type: ignore[no-untyped-def]
    """KillMode=mixed: SIGTERM reaches the control process only; connections held by
    a worker process drain too, and every process is gone at the exit."""
    monkeypatch.setenv("L4PLAN_AGENT_WORKERS", "2")  # as agent.env may set it
    agent = node.agent()
    held: dict[int, socket.socket] = {}  # process index -> an open connection it serves
    try:
        agent.start(timeout=60)
        edge = serve_one_rule(agent, origins)
        pids = {w["pid"] for w in agent.client.status()["workers"]}
        assert len(pids) == 2
        for _ in range(60):  # the kernel spreads connections; open until both hold one
            before = worker_totals(agent)
            conn = socket.create_connection(("127.0.0.1", edge), timeout=10)
            assert echo(conn, b"hold") == b"hold"
            [index] = [i for i, total in worker_totals(agent).items() if total > before[i]]
            if index in held:
                conn.close()
            else:
                held[index] = conn
            if len(held) == 2:
                break
        assert sorted(held) == [0, 1]
        assert agent.proc is not None
        signalled = time.monotonic()
        agent.proc.send_signal(signal.SIGTERM)
        # every process stopped accepting: many connects in a row are all refused
        assert wait_until(lambda: all(refused(edge) for _ in range(20)), timeout=20)
        for conn in held.values():
            assert echo(conn, b"draining") == b"draining"
        assert agent.proc.poll() is None
        for conn in held.values():
            conn.close()
        code = agent.proc.wait(timeout=stop_timeout(node))
        assert code == 0, agent.log()
        assert time.monotonic() - signalled < drain_timeout(node)
        assert wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids), 10)
    finally:
        for conn in held.values():
            conn.close()
        agent.kill()
