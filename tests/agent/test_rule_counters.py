"""Per-rule counters follow the rule (its protocol and edge ports), not its place in
the list, and /metrics names rules by what an operator recognises."""

from __future__ import annotations

import socket
import urllib.request
from contextlib import ExitStack

from prometheus_client.parser import text_string_to_metric_families

from tests.agent.harness import Agent, Origins, app, port, rule, wait_until

HELD = 20


def rules_by_comment(agent: Agent, name: str) -> dict[str, dict]:  # type: ignore[type-arg]
    [status] = agent.client.status([name])["apps"]
    return {r["comment"]: r for r in status["rules"]}


def commented(comment: str, *args, **kwargs) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return {**rule(*args, **kwargs), "comment": comment}


def test_counters_follow_a_rule_when_another_is_inserted_before_it(
    agent: Agent, origins: Origins
) -> None:
    origin, carrier_port, new_port = port(), port(), port()
    origins.tcp(origin)
    carrier = commented("carrier", "tcp", carrier_port, origin)
    agent.apply({"counted.example": app(carrier)})
    with ExitStack() as stack:
        for _ in range(HELD):
            s = stack.enter_context(socket.create_connection(("127.0.0.1", carrier_port), 5))
            s.sendall(b"x")
            assert s.recv(1) == b"x"
        assert wait_until(
            lambda: (
                rules_by_comment(agent, "counted.example")["carrier"]["counters"][
                    "connections_active"
                ]
                == HELD
            )
        )
        new = commented("new", "tcp", new_port, origin)
        agent.apply({"counted.example": app(new, carrier)})
        got = rules_by_comment(agent, "counted.example")
        assert got["carrier"]["index"] == 1
        assert got["carrier"]["counters"]["connections_active"] == HELD
        assert got["carrier"]["counters"]["connections_total"] == HELD
        assert got["carrier"]["edge_ports"] == [[carrier_port, carrier_port]]
        assert got["new"]["counters"]["connections_active"] == 0
        assert got["new"]["counters"]["connections_total"] == 0

        body = urllib.request.urlopen(f"{agent.endpoint}/metrics", timeout=5).read().decode()
        active = {
            (s.labels["rule"], s.labels["edge_ports"], s.labels["comment"]): s.value
            for family in text_string_to_metric_families(body)
            for s in family.samples
            if s.name == "l4agent_connections_active" and s.labels["app"] == "counted.example"
        }
        assert active == {
            ("0", str(new_port), "new"): 0,
            ("1", str(carrier_port), "carrier"): HELD,
        }
    assert wait_until(
        lambda: (
            rules_by_comment(agent, "counted.example")["carrier"]["counters"]["connections_active"]
            == 0
        )
    )
    assert rules_by_comment(agent, "counted.example")["new"]["counters"]["connections_active"] == 0
