"""Control work never stalls forwarding: a huge `Config.Apply` is parsed and validated
off the event loop that relays traffic, refused fast when it asks for more than the
agent allows, and proxied connections keep being served meanwhile."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

from tests.agent.harness import Agent, Origins, app, port, rule

# Wide enough for a loaded 2-core machine; before the fix the relay stalled for many
# seconds (24.5 s for the 7.6 MB apply below).
MAX_STALL = 1.0


class Prober:
    """New proxied connections, one after the other, each echoing a few bytes; records
    the longest round trip."""

    def __init__(self, edge: int) -> None:
        self.edge = edge
        self.worst = 0.0
        self.served = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                with socket.create_connection(("127.0.0.1", self.edge), timeout=60) as s:
                    s.sendall(b"ping")
                    if s.recv(16) != b"ping":
                        self.errors.append("wrong echo")
            except OSError as e:
                self.errors.append(repr(e))
            self.worst = max(self.worst, time.monotonic() - started)
            self.served += 1
            time.sleep(0.005)


def serving(agent: Agent, origins: Origins) -> int:
    origin, edge = port(), port()
    origins.tcp(origin)
    agent.apply({"probe.example": app(rule("tcp", edge, origin))})
    return edge


def post_json(agent: Agent, message: Any) -> tuple[float, Any]:
    body = json.dumps(message, separators=(",", ":")).encode()
    started = time.monotonic()
    _, reply = agent.post(body, timeout=180)
    return time.monotonic() - started, reply


def test_huge_apply_is_refused_fast_without_stalling_the_relay(
    agent: Agent, origins: Origins
) -> None:
    edge = serving(agent, origins)
    # 8 rules x 65,535 single-port ranges: about 7.6 MB, under the 8 MiB body limit
    rules = [
        rule("tcp" if i % 2 else "udp", [[p, p] for p in range(1, 65536)], 9) for i in range(8)
    ]
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "Config.Apply",
        "params": {
            "request_id": "huge",
            "upsert": [
                {
                    "name": "huge.example",
                    "spec": {"ipv6": False, "keepalive": False, "acl": None, "rules": rules},
                }
            ],
        },
    }
    with Prober(edge) as prober:
        while prober.served < 3:
            time.sleep(0.01)
        took, reply = post_json(agent, message)
        served_before = prober.served
        while prober.served < served_before + 3:
            time.sleep(0.01)
    assert not prober.errors
    assert prober.worst < MAX_STALL, f"forwarding stalled {prober.worst:.2f}s ({took:.2f}s apply)"
    error = reply["error"]
    assert error["data"]["status"] == "RESOURCE_EXHAUSTED", error
    assert "numbers" in error["message"] or "listen" in error["message"], error["message"]
    assert agent.client.info()["revision"] == 1


def test_ten_thousand_apps_dry_run_without_stalling_the_relay(
    agent: Agent, origins: Origins
) -> None:
    edge = serving(agent, origins)
    upsert = [
        {"name": f"a{i}.example", "spec": app(rule("tcp", 40000 + i, 9))} for i in range(10000)
    ]
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "Config.Apply",
        "params": {"request_id": "many", "upsert": upsert, "dry_run": True},
    }
    with Prober(edge) as prober:
        while prober.served < 3:
            time.sleep(0.01)
        took, reply = post_json(agent, message)
        served_before = prober.served
        while prober.served < served_before + 3:
            time.sleep(0.01)
    assert not prober.errors
    assert prober.worst < MAX_STALL, f"forwarding stalled {prober.worst:.2f}s ({took:.2f}s apply)"
    result = reply["result"]
    assert result["dry_run"] and len(result["results"]) == 10000
    assert result["listeners"]["added"] == 10000


def test_listener_count_is_checked_on_ranges(agent: Agent) -> None:
    """One range covering every port is refused by counting, not by listing ports."""
    spec = app(rule("tcp", [[1, 65535]], 9), rule("udp", [[1, 65535]], 9), ipv6=True)
    reply = agent.rpc(
        "Config.Apply", {"request_id": "wide", "upsert": [{"name": "w.example", "spec": spec}]}
    )
    error = reply["error"]
    assert error["data"]["status"] == "RESOURCE_EXHAUSTED"
    assert "262140 listening sockets" in error["message"], error["message"]
