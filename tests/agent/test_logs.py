"""Structured logs: --log-format json writes one JSON object per line."""

from __future__ import annotations

import json

from tests.agent.harness import app, port, rule


def test_json_logs(agent_factory) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--log-format", "json", "--workers", "2")
    agent.apply({"log.example.com": app(rule("tcp", port(), port()))})
    assert agent.terminate() == 0
    lines = [line for line in agent.log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"ts", "level", "logger", "msg", "pid", "worker"} <= r.keys() for r in records)
    applied = [r for r in records if r.get("revision") == 1 and "applied" in r["msg"]]
    assert applied and applied[0]["results"][0]["name"] == "log.example.com"
    assert {r["worker"] for r in records} == {0, 1}
    assert records[-1]["msg"] == "stopped"
