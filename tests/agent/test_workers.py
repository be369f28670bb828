"""--workers N: several processes share every listener (SO_REUSEPORT); one control API;
a Config.Apply reaches all of them, all or nothing."""

from __future__ import annotations

import os
import signal
import socket

import pytest

from l4plan.agents.errors import AgentError
from tests.agent.harness import (
    Agent,
    Origins,
    app,
    port,
    rule,
    tcp_roundtrip,
    udp_roundtrip,
    wait_until,
)


def per_worker(agent: Agent) -> dict[int, dict[str, object]]:
    return {w["index"]: w for w in agent.client.status()["workers"]}


def test_two_workers_serve_and_see_every_apply(agent_factory, origins: Origins) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--workers", "2")
    e1, e2, origin = port(), port(), port()
    origins.tcp(origin)
    origins.udp_echo(origin)
    agent.apply({"w.example.com": app(rule("tcp", e1, origin))})
    workers = per_worker(agent)
    assert sorted(workers) == [0, 1]
    assert len({w["pid"] for w in workers.values()}) == 2
    assert {w["revision"] for w in workers.values()} == {1}
    # new connections are spread over both processes by the kernel
    for i in range(40):
        assert tcp_roundtrip(e1, b"%d" % i) == b"%d" % i
    workers = per_worker(agent)
    assert all(w["connections_total"] > 0 for w in workers.values()), workers
    assert sum(w["connections_total"] for w in workers.values()) == 40
    counters = agent.client.status()["apps"][0]["rules"][0]["counters"]
    assert counters["connections_total"] == 40  # summed over the processes
    # an apply is visible in both: the new listener serves from both processes
    agent.apply({"w.example.com": app(rule("tcp", e1, origin), rule("tcp", e2, origin))})
    assert {w["revision"] for w in per_worker(agent).values()} == {2}
    before = {i: w["connections_total"] for i, w in per_worker(agent).items()}
    for i in range(40):
        assert tcp_roundtrip(e2, b"n%d" % i) == b"n%d" % i
    after = per_worker(agent)
    assert all(after[i]["connections_total"] > before[i] for i in after), after
    # UDP flows too (each client address sticks to one process)
    udp_edge = port()
    agent.apply({"u.example.com": app(rule("udp", udp_edge, origin))})
    for _ in range(10):
        assert udp_roundtrip(udp_edge, b"d") == f"{origin}|d".encode()


def test_all_or_nothing_across_workers(agent_factory, origins: Origins) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--workers", "2")
    edge, taken, origin = port(), port(), port()
    origins.tcp(origin)
    agent.apply({"a.example.com": app(rule("tcp", edge, origin))})
    with socket.create_server(("127.0.0.1", taken)), pytest.raises(AgentError) as info:
        agent.apply({"b.example.com": app(rule("tcp", taken, origin))})
    assert info.value.status == "FAILED_PRECONDITION"
    assert {w["revision"] for w in per_worker(agent).values()} == {1}
    for i in range(10):
        assert tcp_roundtrip(edge, b"%d" % i) == b"%d" % i


def test_a_dead_worker_is_restarted_with_the_current_configuration(
    agent_factory, origins: Origins
) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--workers", "2")
    edge, origin = port(), port()
    origins.tcp(origin)
    agent.apply({"r.example.com": app(rule("tcp", edge, origin))})
    old_pid = per_worker(agent)[1]["pid"]
    os.kill(old_pid, signal.SIGKILL)  # type: ignore[arg-type]
    assert wait_until(
        lambda: per_worker(agent)[1]["alive"] and per_worker(agent)[1]["pid"] != old_pid, 10
    )
    assert per_worker(agent)[1]["revision"] == 1
    for i in range(20):
        assert tcp_roundtrip(edge, b"%d" % i) == b"%d" % i
    assert per_worker(agent)[1]["connections_total"] > 0


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_workers_exit_with_the_agent(agent_factory) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--workers", "3")
    pids = [w["pid"] for w in per_worker(agent).values()]
    assert len(pids) == 3
    assert agent.terminate() == 0
    assert wait_until(lambda: all(gone(p) for p in pids[1:]), 10)


def test_workers_leave_when_the_control_process_is_killed(
    agent_factory, origins: Origins, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "orphans"
    agent = agent_factory("--workers", "2", state_dir=state)
    edge, origin = port(), port()
    origins.tcp(origin)
    agent.apply({"o.example.com": app(rule("tcp", edge, origin))})
    worker_pid = per_worker(agent)[1]["pid"]
    assert agent.proc is not None
    agent.proc.kill()  # kill -9 of the control process only
    agent.proc.wait()
    # the orphaned worker notices, stops accepting and exits (nothing to drain)
    assert wait_until(lambda: gone(worker_pid), 10)
    restarted = agent_factory("--workers", "2", state_dir=state)
    assert {w["revision"] for w in per_worker(restarted).values()} == {1}
    for i in range(10):
        assert tcp_roundtrip(edge, b"%d" % i) == b"%d" % i
