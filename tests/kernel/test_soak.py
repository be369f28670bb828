"""Soak: established kernel-path flows held through many changes of the real agent.

The flows are the point of the kernel path's promise (docs/kernel-fast-path.md,
"Hitless change, drains and restarts"): a reconfiguration rebuilds the table and
conntrack keeps each flow's NAT binding, and an agent that dies or stops leaves the
table to the kernel until the next agent reconciles it. So FLOWS connections opened
through the agent (`--fast-path on`, in the agent namespace) must each echo every
byte after every one of the reconfigurations (another rule of the carrying
application, another application, the carrying rule's comment) and every restart
(SIGKILL and SIGTERM in turn, each followed by a start on the same state directory).

CI size: 200 flows, 20 reconfigurations and 3 restarts; `L4PLAN_RELIABILITY_TRIALS=full`
(or the three variables below) runs the documented 5,000 flows, 50 and 10.
"""

from __future__ import annotations

import signal
import socket
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.kernel.netns import AGENT4_C, ORIGIN4, EchoServer, Topology, read_line
from tests.kernel.test_agent_e2e import RunningAgent, paths
from tests.kernel.test_forwarding import rule
from tests.reliability.figures import report, trials
from tests.reliability.support import nofile

# part of the reliability suite (`pytest -m reliability`, README "Reliability")
pytestmark = pytest.mark.reliability

RECONFIGURATIONS = trials("L4PLAN_RELIABILITY_KERNEL_RECONFIGURATIONS", 20, 50)
RESTARTS = trials("L4PLAN_RELIABILITY_KERNEL_RESTARTS", 3, 10)
FLOWS = trials("L4PLAN_RELIABILITY_KERNEL_FLOWS", 200, 5000)
CARRYING = "soak.example"
OTHER_APP = "other.example"


def carrying_spec(comment: str, extra_rule: bool) -> dict[str, Any]:
    """The application whose rule (3050 → 5050) carries the held flows."""
    rules = [rule("tcp", [[3050, 3050]], [5050, 5050], [ORIGIN4[0]])]
    rules[0]["comment"] = comment
    if extra_rule:
        rules.append(rule("udp", [[3052, 3052]], [5052, 5052], [ORIGIN4[1]]))
    return {"rules": rules}


OTHER_SPEC = {"rules": [rule("tcp", [[3051, 3051]], [5051, 5051], [ORIGIN4[2]])]}


def reconfigure(agent: RunningAgent, trial: int, state: dict[str, bool]) -> None:
    """One Config.Apply of three kinds in turn; none touches the carrying rule's ports."""
    kind = trial % 3
    upsert: list[dict[str, Any]] = []
    delete: list[str] = []
    if kind == 0:  # another rule of the carrying application comes or goes
        state["extra"] = not state["extra"]
        upsert.append({"name": CARRYING, "spec": carrying_spec(state["comment"], state["extra"])})
    elif kind == 1:  # another application comes or goes
        if state["other"]:
            delete.append(OTHER_APP)
        else:
            upsert.append({"name": OTHER_APP, "spec": OTHER_SPEC})
        state["other"] = not state["other"]
    else:  # the carrying rule's comment changes
        state["comment"] = f"soak trial {trial}"  # type: ignore[assignment]
        upsert.append({"name": CARRYING, "spec": carrying_spec(state["comment"], state["extra"])})
    agent.call("apply", expected_revision=None, upsert=upsert, delete=delete,
               request_id=str(uuid.uuid4()))  # fmt: skip


def echoes(sock: socket.socket, payload: bytes) -> bool:
    """Whether the flow still carries `payload` both ways, byte for byte."""
    try:
        sock.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                return False
            got += chunk
        return got == payload
    except OSError:
        return False


def test_held_flows_survive_reconfigurations_and_restarts(
    topo: Topology, origins: EchoServer, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    started: list[RunningAgent] = []
    lost: set[int] = set()
    checks = 0

    def start() -> RunningAgent:
        agent = RunningAgent(topo, state_dir, "on")
        started.append(agent)
        agent.wait_serving()
        return agent

    with nofile(2 * FLOWS + 1024), ExitStack() as held_flows:  # client and origin ends
        try:
            agent = start()
            state: dict[str, Any] = {"extra": False, "other": False, "comment": "soak"}
            agent.apply({CARRYING: carrying_spec(state["comment"], state["extra"])})
            assert paths(agent) == ["kernel"]
            flows = [held_flows.enter_context(topo.client.connect(AGENT4_C, 3050))
                     for _ in range(FLOWS)]  # fmt: skip
            for sock in flows:
                assert read_line(sock).split()[:2] == [ORIGIN4[0], "5050"]

            def check(step: str) -> None:
                nonlocal checks
                checks += 1
                for i, sock in enumerate(flows):
                    if i not in lost and not echoes(sock, f"{step} flow {i};".encode() * 50):
                        lost.add(i)

            restart_every = max(1, RECONFIGURATIONS // max(1, RESTARTS))
            restarts = 0
            for trial in range(RECONFIGURATIONS):
                reconfigure(agent, trial, state)
                check(f"reconfiguration {trial}")
                if (trial + 1) % restart_every == 0 and restarts < RESTARTS:
                    sig = signal.SIGKILL if restarts % 2 == 0 else signal.SIGTERM
                    agent.stop(sig)
                    check(f"agent stopped by {sig.name}")  # the kernel forwards alone
                    agent = start()  # reconciles the table from config.json
                    check(f"restart {restarts}")
                    restarts += 1
            while restarts < RESTARTS:  # fewer reconfigurations than restarts asked
                agent.stop(signal.SIGKILL if restarts % 2 == 0 else signal.SIGTERM)
                agent = start()
                check(f"restart {restarts}")
                restarts += 1
            figure = report(
                "kernel-flows-through-change",
                f"{len(lost)} lost of {FLOWS} over {RECONFIGURATIONS} reconfigurations "
                f"and {restarts} restarts",
            )
            assert not lost, f"{figure}; flows {sorted(lost)} lost ({checks} checks)"
        finally:
            for running in started:
                running.stop(signal.SIGKILL)


def test_flow_check_reports_a_flow_that_loses_a_byte() -> None:
    """`echoes` (the soak's check of each flow) fails on a peer that drops one byte or
    closes early, and passes on one that echoes everything (a test of the test)."""
    import threading

    def peer(sock: socket.socket, keep: int) -> None:
        with sock:
            data = b""
            while len(data) < 100:
                data += sock.recv(100 - len(data))
            sock.sendall(data[:keep])

    for keep, expected in ((100, True), (99, False), (0, False)):
        ours, theirs = socket.socketpair()
        ours.settimeout(10)
        thread = threading.Thread(target=peer, args=(theirs, keep), daemon=True)
        thread.start()
        with ours:
            assert echoes(ours, b"x" * 100) is expected, keep
        thread.join(10)
