"""The real `l4plan-agent` with `--fast-path`, started inside the agent namespace.

Skipped while the agent has no ``--fast-path`` flag. Each test starts the agent as
a subprocess (``ip netns exec``), drives it with the l4plan client from a thread in
the same namespace, sends traffic from the client namespace, and kills the agent
in a `finally`; deleting the namespaces removes the agent's table.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from l4agent.kernel import Runner

from tests.kernel.netns import AGENT4_C, ORIGIN4, EchoServer, Topology, read_line, tcp_hello
from tests.kernel.test_forwarding import rule
from tests.kernel.test_lifecycle import roundtrip

AGENT = os.path.join(os.path.dirname(sys.executable), "l4plan-agent")
IP = shutil.which("ip") or "ip"  # absolute: a test runs the agent with a PATH lacking nft
CONTROL = "127.0.0.1:7700"


class RunningAgent:
    def __init__(
        self,
        topo: Topology,
        state: Path,
        mode: str,
        env: dict[str, str] | None = None,
        extra: list[str] | None = None,
    ) -> None:
        self.topo = topo
        argv = [IP, "netns", "exec", topo.agent.name, AGENT, "--control", CONTROL]
        argv += ["--state-dir", str(state), "--fast-path", mode, "--drain-timeout", "1s"]
        argv += extra or []
        self.log = state.parent / f"agent-{uuid.uuid4().hex[:6]}.log"
        self._out = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT, env=env)

    def client(self) -> Any:
        from l4plan.agents.client import AgentClient

        return AgentClient(f"http://{CONTROL}", token=None, timeout=10.0)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.topo.agent.call(lambda: getattr(self.client(), method)(*args, **kwargs))

    def wait_serving(self) -> None:
        for _ in range(150):  # bounded: 15 s
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited: {self.log.read_text()}")
            try:
                if self.call("health").get("status") == "SERVING":
                    return
            except Exception:
                pass
            time.sleep(0.1)
        raise AssertionError(f"agent never served: {self.log.read_text()}")

    def apply(self, apps: dict[str, dict[str, Any]]) -> Any:
        upsert = [{"name": n, "spec": s} for n, s in apps.items()]
        return self.call("apply", expected_revision=None, upsert=upsert, delete=[],
                         request_id=str(uuid.uuid4()))  # fmt: skip

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=15)
        self._out.close()
        return code


@pytest.fixture
def agents(topo: Topology, tmp_path: Path) -> Iterator[list[RunningAgent]]:
    started: list[RunningAgent] = []
    try:
        yield started
    finally:
        for agent in started:
            agent.stop(signal.SIGKILL)


SPEC = {"rules": [rule("tcp", [[3050, 3050]], [5050, 5050], [ORIGIN4[0]]),
                  rule("tcp", [[3051, 3051]], [5051, 5051], [ORIGIN4[0]])]}  # fmt: skip
SPEC["rules"][1]["passthrough"] = "proxy_v2"


def paths(agent: RunningAgent) -> list[str]:
    status = agent.call("status")
    return [r["path"] for app in status["apps"] for r in app["rules"]]


def test_fast_path_on_forwards_in_the_kernel_and_survives_sigkill(
    topo: Topology, origins: EchoServer, agents: list[RunningAgent], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    agent = RunningAgent(topo, state, "on")
    agents.append(agent)
    agent.wait_serving()
    assert "kernel_path" in agent.call("info")["capabilities"]
    agent.apply({"k.example": SPEC})
    assert paths(agent) == ["kernel", "relay"]  # proxy_v2 needs the relay
    with topo.client.connect(AGENT4_C, 3050) as held:
        assert read_line(held).split()[:2] == [ORIGIN4[0], "5050"]
        agent.stop(signal.SIGKILL)
        roundtrip(held, b"no agent" * 100)  # the kernel keeps forwarding
        assert tcp_hello(topo.client, AGENT4_C, 3050)[0] == ORIGIN4[0]
        again = RunningAgent(topo, state, "on")
        agents.append(again)
        again.wait_serving()  # reconciled the table from config.json
        roundtrip(held, b"restarted" * 100)
        assert paths(again) == ["kernel", "relay"]
    runner = Runner(topo.agent.name)
    tables = [o["table"]["name"] for o in runner.nft_list("tables") if "table" in o]
    assert len(tables) == 1 and tables[0].startswith("l4plan_")
    again.stop(signal.SIGKILL)
    off = RunningAgent(topo, state, "off")  # off: the leftover table must not steal traffic
    agents.append(off)
    off.wait_serving()
    assert [o for o in runner.nft_list("tables") if "table" in o] == []
    assert paths(off) == ["relay", "relay"]
    assert tcp_hello(topo.client, AGENT4_C, 3050)[0] == ORIGIN4[0]  # now via the relay


def test_auto_falls_back_to_the_relay_without_nft_and_on_refuses(
    topo: Topology, origins: EchoServer, agents: list[RunningAgent], tmp_path: Path
) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    env = {**os.environ, "PATH": str(bare)}
    agent = RunningAgent(topo, tmp_path / "auto", "auto", env)
    agents.append(agent)
    agent.wait_serving()
    assert "kernel_path" not in agent.call("info")["capabilities"]
    agent.apply({"k.example": SPEC})
    assert paths(agent) == ["relay", "relay"]
    assert tcp_hello(topo.client, AGENT4_C, 3050)[0] == ORIGIN4[0]  # via the relay
    assert "nft" in agent.log.read_text()  # the one line saying why
    refused = RunningAgent(topo, tmp_path / "on", "on", env)
    agents.append(refused)
    assert refused.proc.wait(timeout=30) == 1
    assert "nft" in refused.log.read_text()


def test_counters_reconfiguration_and_drain_through_the_agent_with_workers(
    topo: Topology, origins: EchoServer, agents: list[RunningAgent], tmp_path: Path
) -> None:
    agent = RunningAgent(topo, tmp_path / "w", "on", extra=["--workers", "2"])
    agents.append(agent)
    agent.wait_serving()
    agent.apply({"k.example": SPEC})  # the worker leaves the kernel rule to the kernel
    with topo.client.connect(AGENT4_C, 3050) as held:
        read_line(held)
        roundtrip(held, b"count me" * 1000)
        for _ in range(30):  # counters are read every 2 s; bounded: 6 s
            rule0 = agent.call("status")["apps"][0]["rules"][0]
            if rule0["counters"]["bytes_in"] > 8000:
                break
            time.sleep(0.2)
        assert rule0["path"] == "kernel"
        assert rule0["counters"]["connections_total"] == 1
        assert rule0["counters"]["connections_active"] == 1
        other = rule("tcp", [[3052, 3052]], [5052, 5052], [ORIGIN4[1]])
        agent.apply({"k.example": {"rules": [SPEC["rules"][0], other]}})  # a rebuild
        roundtrip(held, b"kept")
        assert tcp_hello(topo.client, AGENT4_C, 3052)[:2] == [ORIGIN4[1], "5052"]
        agent.apply({"k.example": {"rules": [other]}})  # 3050 leaves: its flow drains
        roundtrip(held, b"draining")
        held.settimeout(2)
        # --drain-timeout 1s, then the next refresh (every second) deletes the entry and
        # the agent's host resets the flow; bounded: 50 x 0.1 s
        for _ in range(50):
            time.sleep(0.1)
            try:
                roundtrip(held, b"still?")
            except OSError:
                break
        else:
            raise AssertionError("the drained flow was never ended")
