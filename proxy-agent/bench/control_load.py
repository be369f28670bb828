"""The agent's control API under hostile callers: what it costs the data plane.

    python proxy-agent/bench/control_load.py [--slow 300] [--silent 300]

Starts the real agent (python -m l4agent) with one TCP rule to an echo origin, then:

- huge-apply: a 7.6 MB `Config.Apply` (8 rules x 65,535 single-port ranges) while a
  prober opens proxied connections one after the other: the longest round trip is
  how long forwarding stalled;
- many-apps: 10,000 applications in one dry-run upsert, measured the same way;
- request-log: eight no-op applies that each delete 10,000 absent names: growth of
  config.json and of the agent's RSS;
- slow / silent: N connections sending one header byte per second (or nothing), and
  Health.Check calls on fresh connections meanwhile: how many are answered.

Figures are for docs/agent.md ("Limits of one request", "Slow and silent clients").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(control: int, message: Any, timeout: float = 300.0) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{control}/rpc",
        data=json.dumps(message, separators=(",", ":")).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _rule(protocol: str, edge: list[list[int]], origin: int) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "edge_ports": edge,
        "origin_ports": [origin, origin],
        "origin": {"type": "ip", "targets": [{"host": "127.0.0.1", "weight": 1}]},
    }


def _apply(upsert: list[dict[str, Any]], delete: list[str], rid: str, **extra: Any) -> Any:
    params = {"request_id": rid, "upsert": upsert, "delete": delete, **extra}
    return {"jsonrpc": "2.0", "id": 1, "method": "Config.Apply", "params": params}


class Agent:
    def __init__(self, state_dir: str) -> None:
        self.control = _free_port()
        self.state_dir = state_dir
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "proxy-agent")])
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "l4agent", "--control", f"127.0.0.1:{self.control}"),
                *("--state-dir", state_dir, "--bind", "127.0.0.1", "--log-level", "warning"),
            ],
            env=env,
        )
        for _ in range(200):
            time.sleep(0.05)
            with contextlib.suppress(OSError):
                if self.health(2.0):
                    return
        raise RuntimeError("the agent did not start")

    def health(self, timeout: float) -> bool:
        message = {"jsonrpc": "2.0", "id": 1, "method": "Health.Check"}
        return _post(self.control, message, timeout)["result"]["status"] == "SERVING"

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


class Prober(threading.Thread):
    """New proxied connections back to back; `worst` is the longest round trip."""

    def __init__(self, edge: int) -> None:
        super().__init__(daemon=True)
        self.edge = edge
        self.worst = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            with socket.create_connection(("127.0.0.1", self.edge), timeout=120) as s:
                s.sendall(b"ping")
                s.recv(16)
            self.worst = max(self.worst, time.monotonic() - started)
            time.sleep(0.005)


def _echo(port: int) -> None:
    server = socket.create_server(("127.0.0.1", port))

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def stall(agent: Agent, edge: int, message: Any) -> tuple[float, float, str]:
    prober = Prober(edge)
    prober.start()
    time.sleep(0.3)
    started = time.monotonic()
    reply = _post(agent.control, message)
    took = time.monotonic() - started
    time.sleep(0.3)
    prober.stop.set()
    prober.join(120)
    outcome = reply["error"]["data"]["status"] if "error" in reply else "ok"
    return prober.worst, took, outcome


def request_log(agent: Agent) -> tuple[int, int]:
    path = Path(agent.state_dir) / "config.json"
    size, rss = path.stat().st_size, agent.rss_kib()
    names = [f"absent{i}.example" for i in range(10000)]
    for i in range(8):
        _post(agent.control, _apply([], names, f"noop-{i}"))
    return path.stat().st_size - size, agent.rss_kib() - rss


def clients(agent: Agent, count: int, slow: bool, calls: int) -> int:
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", agent.control), timeout=5)
        socks.append(s)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(1.0):
            for s in socks:
                with contextlib.suppress(OSError):
                    s.send(b"X")

    if slow:
        threading.Thread(target=trickle, daemon=True).start()
    answered = 0
    for _ in range(calls):
        with contextlib.suppress(OSError, ValueError, KeyError):
            if agent.health(5.0):
                answered += 1
        time.sleep(0.2)
    stop.set()
    for s in socks:
        s.close()
    return answered


def apply_scenarios(agent: Agent, edge: int) -> None:
    huge = [
        _rule("tcp" if i % 2 else "udp", [[p, p] for p in range(1, 65536)], 9) for i in range(8)
    ]
    message = _apply([{"name": "huge.example", "spec": {"rules": huge}}], [], "huge")
    size = len(json.dumps(message, separators=(",", ":")))
    worst, took, outcome = stall(agent, edge, message)
    print(
        f"huge-apply ({size / 1e6:.1f} MB): forwarding stalled {worst:.3f}s, "
        f"answer after {took:.2f}s: {outcome}"
    )
    many = [
        {"name": f"a{i}.example", "spec": {"rules": [_rule("tcp", [[40000 + i] * 2], 9)]}}
        for i in range(10000)
    ]
    worst, took, outcome = stall(agent, edge, _apply(many, [], "many", dry_run=True))
    print(
        f"many-apps (10,000, dry run): forwarding stalled {worst:.3f}s, "
        f"answer after {took:.2f}s: {outcome}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow", type=int, default=300)
    parser.add_argument("--silent", type=int, default=300)
    parser.add_argument(
        "scenarios", nargs="*", default=["apply", "request-log", "clients"], help="what to run"
    )
    args = parser.parse_args()
    origin, edge = _free_port(), _free_port()
    _echo(origin)
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(tmp)
        try:
            probe = {
                "name": "probe.example",
                "spec": {"rules": [_rule("tcp", [[edge, edge]], origin)]},
            }
            _post(agent.control, _apply([probe], [], "probe"))
            if "apply" in args.scenarios:
                apply_scenarios(agent, edge)
            if "request-log" in args.scenarios:
                grown, rss = request_log(agent)
                print(
                    f"request-log: 8 no-op deletes of 10,000 names: config.json "
                    f"+{grown / 1024:.1f} KiB, RSS +{rss / 1024:.1f} MiB"
                )
            if "clients" in args.scenarios:
                answered = clients(agent, args.slow, True, 35)
                print(
                    f"slow clients ({args.slow}, 1 byte/s): {answered} of 35 Health.Check answered"
                )
                answered = clients(agent, args.silent, False, 5)
                print(f"silent clients ({args.silent}): {answered} of 5 Health.Check answered")
        finally:
            agent.stop()


if __name__ == "__main__":
    main()
