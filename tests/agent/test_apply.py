"""Config.Apply semantics through a real agent: hitless changes, draining, all-or-nothing
binding, durability across kill -9, revisions, idempotency, dry runs and deadlines."""

from __future__ import annotations

import json
import socket
import time

import pytest

from l4plan.agents.errors import AgentError
from tests.agent.harness import (
    Agent,
    Origins,
    app,
    block,
    port,
    recv_all,
    refused,
    rule,
    tcp_roundtrip,
    udp_roundtrip,
    wait_until,
)


def echo_once(conn: socket.socket, payload: bytes) -> bytes:
    conn.sendall(payload)
    return conn.recv(1000)


SPLICE = pytest.mark.parametrize("flags", [(), ("--splice",)], ids=["protocol", "splice"])


@SPLICE
def test_connections_survive_a_change_to_another_rule(
    agent_factory, origins: Origins, flags
) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory(*flags)
    e1, e2, o1, o2, o3 = (port() for _ in range(5))
    for o in (o1, o2, o3):
        origins.tcp(o, tag=True)
    agent.apply({"hitless.example.com": app(rule("tcp", e1, o1), rule("tcp", e2, o2))})
    with socket.create_connection(("127.0.0.1", e1), timeout=5) as kept:
        assert kept.recv(100) == f"port={o1}\n".encode()
        with socket.create_connection(("127.0.0.1", e2), timeout=5) as changed:
            assert changed.recv(100) == f"port={o2}\n".encode()
            # rule 1 now points at another origin; rule 0 is untouched
            agent.apply({"hitless.example.com": app(rule("tcp", e1, o1), rule("tcp", e2, o3))})
            assert echo_once(kept, b"still here") == b"still here"
            # the changed rule applies to new connections; the open one keeps its origin
            assert echo_once(changed, b"old origin") == b"old origin"
            assert tcp_roundtrip(e2, b"").startswith(f"port={o3}".encode())
    assert agent.client.info()["revision"] == 2


@SPLICE
def test_removed_listener_drains_then_closes(agent_factory, origins: Origins, flags) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--drain-timeout", "1s", *flags)
    e1, e2, origin = port(), port(), port()
    origins.tcp(origin)
    agent.apply({"drain.example.com": app(rule("tcp", e1, origin), rule("tcp", e2, origin))})
    with socket.create_connection(("127.0.0.1", e2), timeout=5) as open_conn:
        assert echo_once(open_conn, b"before") == b"before"
        agent.apply({"drain.example.com": app(rule("tcp", e1, origin))})
        removed_at = time.monotonic()
        assert refused(e2)  # stops accepting at once
        assert echo_once(open_conn, b"during drain") == b"during drain"
        status = agent.client.status()
        assert status["draining"] == {"listeners": 1, "connections": 1}
        assert recv_all(open_conn) == b""  # closed at the drain timeout
        waited = time.monotonic() - removed_at
    assert 0.8 < waited < 3.0
    assert agent.client.status()["draining"] == {"listeners": 0, "connections": 0}
    assert tcp_roundtrip(e1, b"kept") == b"kept"


def test_port_taken_fails_and_keeps_the_old_configuration(agent: Agent, origins: Origins) -> None:
    e1, e2, taken, origin = port(), port(), port(), port()
    origins.tcp(origin)
    agent.apply({"a.example.com": app(rule("tcp", e1, origin))})
    with socket.create_server(("127.0.0.1", taken)):  # another process holds this port
        with pytest.raises(AgentError) as info:
            agent.apply(
                {
                    "a.example.com": app(rule("tcp", e1, origin), rule("tcp", e2, origin)),
                    "b.example.com": app(rule("tcp", [[taken, taken]], origin)),
                }
            )
        error = info.value
        assert error.status == "FAILED_PRECONDITION"
        assert str(taken) in error.message
        assert [(d["port"], d["protocol"], d["app"]) for d in error.details] == [
            (taken, "tcp", "b.example.com")
        ]
        assert error.details[0]["field"] == "upsert[1].spec.rules[0].edge_ports"
        # nothing changed: old listener serves, e2 was released, revision unchanged
        assert tcp_roundtrip(e1, b"old") == b"old"
        assert refused(e2)
        assert agent.client.info()["revision"] == 1
        assert [a["name"] for a in agent.client.list_apps()["apps"]] == ["a.example.com"]
    # and once the port is free, the same change goes through
    agent.apply({"b.example.com": app(rule("tcp", [[taken, taken]], origin))})
    assert tcp_roundtrip(taken, b"now") == b"now"


def test_udp_port_taken(agent: Agent, origins: Origins) -> None:
    edge, origin = port(), port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("127.0.0.1", edge))
        with pytest.raises(AgentError) as info:
            agent.apply({"u.example.com": app(rule("udp", edge, origin))})
    assert info.value.status == "FAILED_PRECONDITION"
    assert info.value.details[0]["port"] == edge
    assert agent.client.info()["revision"] == 0


def test_kill_9_after_acknowledged_apply(agent_factory, origins: Origins, tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "durable"
    agent = agent_factory(state_dir=state)
    tcp_edge, udp_edge, origin = port(), port(), port()
    origins.tcp(origin)
    origins.udp_echo(origin)
    spec = app(rule("tcp", tcp_edge, origin), rule("udp", udp_edge, origin), ipv6=True)
    first = agent.apply({"durable.example.com": spec}, request_id="durable-1")
    node_id = agent.client.info()["node_id"]
    agent.kill()  # kill -9 right after the acknowledgement
    restarted = agent_factory(state_dir=state)
    info = restarted.client.info()
    assert info["revision"] == first["revision"] == 1
    assert info["node_id"] == node_id
    assert tcp_roundtrip(tcp_edge, b"after restart") == b"after restart"
    assert tcp_roundtrip(tcp_edge, b"v6", host="::1") == b"v6"
    assert udp_roundtrip(udp_edge, b"u") == f"{origin}|u".encode()
    # a retry of the acknowledged request after the crash does not apply it twice
    again = restarted.apply({"durable.example.com": spec}, request_id="durable-1")
    assert again == first
    assert restarted.client.info()["revision"] == 1


def test_restore_with_a_port_taken_reports_and_retries(
    agent_factory, origins: Origins, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "restore"
    agent = agent_factory(state_dir=state)
    e1, e2, origin = port(), port(), port()
    origins.tcp(origin)
    agent.apply({"r.example.com": app(rule("tcp", e1, origin), rule("tcp", e2, origin))})
    agent.kill()
    squatter = socket.create_server(("127.0.0.1", e2))
    restarted = agent_factory(state_dir=state)
    try:
        listed = restarted.client.list_apps()["apps"][0]
        assert [(d["port"], d["protocol"]) for d in listed["bind_errors"]] == [(e2, "tcp")]
        rules = restarted.client.status()["apps"][0]["rules"]
        assert rules[1]["listeners"]["bound"] == 0 and rules[1]["listeners"]["failed"]
        assert tcp_roundtrip(e1, b"fine") == b"fine"
    finally:
        squatter.close()
    assert wait_until(lambda: not restarted.client.list_apps()["apps"][0]["bind_errors"], 12)
    assert tcp_roundtrip(e2, b"bound later") == b"bound later"


def test_revision_checks_and_idempotency(agent: Agent, origins: Origins) -> None:
    edge, origin = port(), port()
    spec = app(rule("tcp", edge, origin))
    first = agent.apply({"i.example.com": spec}, expected_revision=0, request_id="req-1")
    assert first["revision"] == 1 and first["changed"]
    assert first["results"][0]["action"] == "create"
    # the same request again: the first result, no second change
    assert agent.apply({"i.example.com": spec}, expected_revision=0, request_id="req-1") == first
    assert agent.client.info()["revision"] == 1
    # a new request based on a stale revision
    with pytest.raises(AgentError) as info:
        agent.apply({"i.example.com": spec}, expected_revision=0, request_id="req-2")
    assert info.value.status == "ABORTED"
    assert info.value.data["current_revision"] == 1
    # the request id reused for something else
    with pytest.raises(AgentError) as info:
        agent.apply({}, ["i.example.com"], expected_revision=1, request_id="req-1")
    assert info.value.status == "ALREADY_EXISTS"
    # applying the same spec again changes nothing and keeps the revision
    same = agent.apply({"i.example.com": spec}, expected_revision=1)
    assert not same["changed"] and same["revision"] == 1
    assert same["results"][0]["action"] == "none"
    # deleting an unknown application is not an error (already gone)
    gone = agent.apply({}, ["never.example.com"], expected_revision=1)
    assert gone["results"] == [{"name": "never.example.com", "action": "none", "spec_hash": None}]
    deleted = agent.apply({}, ["i.example.com"], expected_revision=1)
    assert deleted["revision"] == 2 and deleted["results"][0]["action"] == "delete"
    assert refused(edge)


def test_raw_duplicate_request_changes_once(agent: Agent) -> None:
    """The acceptance check on the wire: the same Config.Apply body sent twice."""
    edge = port()
    params = {
        "expected_revision": 0,
        "upsert": [{"name": "dup.example.com", "spec": app(rule("tcp", edge, port()))}],
        "request_id": "same-request",
    }
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "Config.Apply", "params": params})
    replies = [agent.post(body.encode())[1] for _ in range(2)]
    assert replies[0] == replies[1]
    assert replies[0]["result"]["revision"] == 1
    # the same change spelled with the defaults written out is the same request
    again = agent.client.apply(
        expected_revision=0,
        upsert=params["upsert"],  # type: ignore[arg-type]
        delete=[],
        request_id="same-request",
        dry_run=False,
    )
    assert again == replies[0]["result"]
    assert agent.client.info()["revision"] == 1


def test_dry_run_changes_nothing(agent: Agent) -> None:
    edge, origin = port(), port()
    result = agent.apply({"dry.example.com": app(rule("tcp", edge, origin))}, dry_run=True)
    assert result["dry_run"] and result["changed"]
    assert result["revision"] == 0
    assert result["listeners"] == {"added": 1, "removed": 0, "kept": 0}
    assert refused(edge)
    assert agent.client.list_apps() == {"revision": 0, "apps": []}


def test_deadline_exceeded_changes_nothing(agent: Agent) -> None:
    edge = port()
    params = {
        "upsert": [{"name": "late.example.com", "spec": app(rule("tcp", edge, port()))}],
        "request_id": "late",
    }
    reply = agent.rpc("Config.Apply", params, **{"L4-Timeout-Ms": "0"})
    assert reply["error"]["data"]["status"] == "DEADLINE_EXCEEDED"
    assert refused(edge)
    assert agent.client.info()["revision"] == 0
    bad = agent.rpc("Config.Apply", params, **{"L4-Timeout-Ms": "soon"})
    assert bad["error"]["data"]["status"] == "INVALID_ARGUMENT"


def test_conflicting_applications(agent: Agent) -> None:
    a, b = block(2), port()
    agent.apply({"one.example.com": app(rule("tcp", [[a, a + 1]], b))})
    with pytest.raises(AgentError) as info:
        agent.apply({"two.example.com": app(rule("tcp", a + 1, b))})
    assert info.value.status == "FAILED_PRECONDITION"
    assert f"tcp port {a + 1}" in info.value.message
    assert info.value.details[0]["field"] == "upsert[0].spec.rules[0].edge_ports"
    # TCP and UDP on one port do not conflict
    agent.apply({"two.example.com": app(rule("udp", a + 1, b))})
    # moving a port between applications in one apply is fine
    agent.apply(
        {
            "one.example.com": app(rule("tcp", a, b)),
            "two.example.com": app(rule("udp", a + 1, b), rule("tcp", a + 1, b)),
        }
    )
    assert agent.client.info()["revision"] == 3


def test_listener_limit(agent_factory) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--max-listeners", "4")
    first = block(5)
    with pytest.raises(AgentError) as info:
        agent.apply({"big.example.com": app(rule("tcp", [[first, first + 4]], port()))})
    assert info.value.status == "RESOURCE_EXHAUSTED"
    assert "limit is 4" in info.value.message
    assert agent.client.info()["revision"] == 0


def test_udp_listener_removed_and_readded_while_draining(agent_factory, origins: Origins) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--drain-timeout", "5s")
    edge, other, origin = port(), port(), port()
    origins.udp_echo(origin)
    origins.tcp(origin)
    agent.apply({"u.example.com": app(rule("udp", edge, origin), rule("tcp", other, origin))})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(2)
        c.sendto(b"1", ("127.0.0.1", edge))
        assert c.recvfrom(100)[0] == f"{origin}|1".encode()
        agent.apply({"u.example.com": app(rule("tcp", other, origin))})
        c.sendto(b"2", ("127.0.0.1", edge))  # the existing flow drains
        assert c.recvfrom(100)[0] == f"{origin}|2".encode()
        with pytest.raises(TimeoutError):  # a new client gets no flow
            udp_roundtrip(edge, b"new", timeout=0.5)
        agent.apply({"u.example.com": app(rule("udp", edge, origin), rule("tcp", other, origin))})
        assert udp_roundtrip(edge, b"back") == f"{origin}|back".encode()


@SPLICE
def test_sigterm_drains_and_exits_zero(agent_factory, origins: Origins, flags) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--drain-timeout", "5s", *flags)
    edge, origin = port(), port()
    origins.tcp(origin)
    agent.apply({"t.example.com": app(rule("tcp", edge, origin))})
    conn = socket.create_connection(("127.0.0.1", edge), timeout=5)
    assert echo_once(conn, b"a") == b"a"
    assert agent.proc is not None
    agent.proc.terminate()
    assert wait_until(lambda: refused(edge), 3)  # stops accepting at once
    assert echo_once(conn, b"b") == b"b"  # the open connection is drained
    conn.close()  # the last connection ends: the agent exits without waiting 5 s
    assert agent.proc.wait(timeout=4) == 0
