"""iperf3 through the kernel path vs routed without NAT vs the relay, in namespaces.

Not a test (no ``test_`` prefix): run it by hand as root,
``.venv/bin/python -m tests.kernel.bench_iperf [seconds]``. Every run crosses the
same two veth pairs and the agent namespace; "routed" only forwards, "kernel" adds
the agent's DNAT + masquerade (conntrack on every packet), "relay" is a real
``l4plan-agent`` started in the agent namespace with ``--fast-path off``. Prints
Gbit/s per run, interleaved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

from l4agent.kernel import KernelForwarder, Runner

from tests.kernel.netns import AGENT4_C, AGENT4_O, ORIGIN4, Topology


def iperf(topo: Topology, address: str, port: int, seconds: int, *extra: str) -> float:
    server = subprocess.Popen(
        ["ip", "netns", "exec", topo.origin.name, "iperf3", "-s", "-1", "-B", ORIGIN4[0], "-p",
         "5201"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.3)
        out = topo.client.sh("iperf3", "-c", address, "-p", str(port), "-t", str(seconds), "-J",
                             *extra)  # fmt: skip
        end = json.loads(out)["end"]
        summary = end.get("sum_received") or end["sum"]
        return float(summary["bits_per_second"]) / 1e9
    finally:
        server.kill()
        server.wait(timeout=10)


def start_relay(topo: Topology, state: str, spec: dict) -> subprocess.Popen[bytes]:
    from l4plan.agents.client import AgentClient

    agent = os.path.join(os.path.dirname(sys.executable), "l4plan-agent")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", topo.agent.name, agent, "--control", "127.0.0.1:7700",
         "--state-dir", state, "--fast-path", "off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def apply() -> None:
        client = AgentClient("http://127.0.0.1:7700", token=None, timeout=10.0)
        for _ in range(100):  # bounded: 10 s
            try:
                if client.health().get("status") == "SERVING":
                    break
            except Exception:
                pass
            time.sleep(0.1)
        upsert = [{"name": "relay.example", "spec": spec}]
        client.apply(expected_revision=None, upsert=upsert, delete=[],
                     request_id=str(uuid.uuid4()))  # fmt: skip

    topo.agent.call(apply)
    return proc


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    topo = Topology()
    try:
        topo.client.sh("ip", "route", "add", "198.51.100.0/24", "via", AGENT4_C)
        topo.origin.sh("ip", "route", "add", "192.0.2.0/24", "via", AGENT4_O)
        kernel = KernelForwarder("l4plan_bench", Runner(topo.agent.name))
        origin = {"type": "ip", "targets": [{"host": ORIGIN4[0]}]}
        edge = {"protocol": "tcp", "edge_ports": [[3050, 3050]], "origin_ports": [5201, 5201]}
        spec = {"rules": [{**edge, "passthrough": "off", "origin": origin}]}
        kernel.apply([("bench.example", spec)])
        relay_spec = {"rules": [{**spec["rules"][0], "edge_ports": [[3060, 3060]]}]}
        with tempfile.TemporaryDirectory() as state:
            relay = start_relay(topo, state, relay_spec)
            try:
                for streams in ("1", "4"):
                    for _ in range(2):  # interleaved
                        routed = iperf(topo, ORIGIN4[0], 5201, seconds, "-P", streams)
                        nat = iperf(topo, AGENT4_C, 3050, seconds, "-P", streams)
                        userspace = iperf(topo, AGENT4_C, 3060, seconds, "-P", streams)
                        print(f"{streams} stream(s): routed {routed:.2f}, kernel path {nat:.2f}, "
                              f"relay {userspace:.2f} Gbit/s; kernel/routed {nat / routed:.2f}, "
                              f"kernel/relay {nat / userspace:.2f}")  # fmt: skip
            finally:
                relay.terminate()
                relay.wait(timeout=30)
        print(json.dumps(kernel.stats()[("bench.example", 0)]))
    finally:
        topo.close()


if __name__ == "__main__":
    main()
