"""iperf3 through the kernel path vs routed without NAT, in the test namespaces.

Not a test (no ``test_`` prefix): run it by hand as root,
``.venv/bin/python -m tests.kernel.bench_iperf [seconds]``. Both runs cross the same
two veth pairs and the agent namespace; "routed" only forwards, "kernel" adds the
agent's DNAT + masquerade (conntrack on every packet). Prints Gbit/s per run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

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
        for streams in ("1", "4"):
            for _ in range(2):  # interleaved
                routed = iperf(topo, ORIGIN4[0], 5201, seconds, "-P", streams)
                nat = iperf(topo, AGENT4_C, 3050, seconds, "-P", streams)
                print(f"{streams} stream(s): routed {routed:.2f} Gbit/s, kernel path "
                      f"{nat:.2f} Gbit/s, ratio {nat / routed:.2f}")  # fmt: skip
        print(json.dumps(kernel.stats()[("bench.example", 0)]))
    finally:
        topo.close()


if __name__ == "__main__":
    main()
