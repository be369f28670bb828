"""The /metrics exposition, read back with prometheus-client's own text parser."""

from __future__ import annotations

import asyncio

from l4agent.control.metrics import exposition
from l4agent.dataplane.origins import OriginPool
from l4agent.dataplane.resolver import Resolver
from l4agent.dataplane.stats import Stats
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families


def samples(body: bytes) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def labels(app: str, rule: int, protocol: str, **extra: str) -> frozenset:
    ports = {"tcp": "80", "udp": "53,60-69"}[protocol]
    base = {"app": app, "rule": str(rule), "protocol": protocol, "edge_ports": ports}
    return frozenset({**base, "comment": extra.pop("comment", ""), **extra}.items())


def rules(*protocols: str) -> list[dict]:
    edge = {"tcp": [[80, 80]], "udp": [[53, 53], [60, 69]]}
    return [{"protocol": p, "edge_ports": edge[p], "comment": None} for p in protocols]


def test_counters_and_gauges_per_rule() -> None:
    stats = Stats()
    tcp, udp = stats.set_rules("play.example.com", rules("tcp", "udp"))
    tcp.connections_total, tcp.bytes_in, tcp.bytes_out, tcp.acl_denials = 7, 1000, 2000, 2
    tcp.connections_active, tcp.listeners_bound, tcp.no_healthy_origin = 3, 2, 1
    tcp.origin_connect_failures = 4
    udp.datagrams_in, udp.datagrams_out, udp.udp_flows_total = 10, 9, 5
    udp.udp_flows_active, udp.udp_flow_evictions = 2, 1
    body, content_type = exposition(stats)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    got = samples(body)
    t, u = labels("play.example.com", 0, "tcp"), labels("play.example.com", 1, "udp")
    expected = {
        ("l4agent_connections_total", t): 7,
        ("l4agent_bytes_total", t | {("direction", "client_to_origin")}): 1000,
        ("l4agent_bytes_total", t | {("direction", "origin_to_client")}): 2000,
        ("l4agent_acl_denials_total", t): 2,
        ("l4agent_connections_active", t): 3,
        ("l4agent_listeners_bound", t): 2,
        ("l4agent_no_healthy_origin_total", t): 1,
        ("l4agent_origin_connect_failures_total", t): 4,
        ("l4agent_datagrams_total", u | {("direction", "client_to_origin")}): 10,
        ("l4agent_datagrams_total", u | {("direction", "origin_to_client")}): 9,
        ("l4agent_udp_flows_total", u): 5,
        ("l4agent_udp_flows_active", u): 2,
        ("l4agent_udp_flow_evictions_total", u): 1,
    }
    for key, value in expected.items():
        assert got[key] == value, key
    assert got[("l4agent_build_info", frozenset({("version", "0.1.0")}))] == 1


def test_origin_health_series() -> None:
    stats = Stats()
    stats.set_rules("lb.example.com", rules("tcp"))

    async def health() -> list[dict]:
        pool = OriginPool(
            {"targets": [{"host": "127.0.0.2"}, {"host": "127.0.0.3"}]}, Resolver(), health_port=1
        )
        first, _ = await pool.candidates(("127.0.0.1", 1))
        first.failed()
        second = (await pool.candidates(("127.0.0.1", 1)))[0]
        second.connected()
        return pool.health()

    rows = asyncio.run(health())
    got = samples(exposition(stats, health={("lb.example.com", 0): rows})[0])
    down = labels("lb.example.com", 0, "tcp", host="127.0.0.2", address="127.0.0.2")
    up = labels("lb.example.com", 0, "tcp", host="127.0.0.3", address="127.0.0.3")
    assert got[("l4agent_origin_healthy", down)] == 0
    assert got[("l4agent_origin_failures_total", down)] == 1
    assert got[("l4agent_origin_healthy", up)] == 1
    assert got[("l4agent_origin_active_connections", up)] == 1


def test_label_values_are_escaped() -> None:
    stats = Stats()
    stats.set_rules('we"ird\\app\nname', [{**rules("tcp")[0], "comment": 'a "b"\\\n'}])
    got = samples(exposition(stats)[0])
    weird = labels('we"ird\\app\nname', 0, "tcp", comment='a "b"\\\n')
    assert got[("l4agent_connections_total", weird)] == 0


def test_global_registry_is_left_alone() -> None:
    before = set(REGISTRY._names_to_collectors)
    stats = Stats()
    stats.set_rules("a.example.com", rules("tcp"))
    exposition(stats)
    exposition(stats)
    assert set(REGISTRY._names_to_collectors) == before
    assert not any(name.startswith("l4agent") for name in before)


def test_empty_stats_still_expose_build_info() -> None:
    body, _ = exposition(Stats())
    assert b'l4agent_build_info{version="0.1.0"} 1.0' in body


def test_rules_keep_their_counters_by_identity_not_index() -> None:
    stats = Stats()
    [carrier] = stats.set_rules("a.example.com", rules("tcp"))
    carrier.connections_active = 50
    new = {"protocol": "tcp", "edge_ports": [[81, 81]], "comment": "new"}
    first, second = stats.set_rules("a.example.com", [new, rules("tcp")[0]])
    assert second is carrier and first.connections_active == 0
    [edited] = stats.set_rules("a.example.com", [{**rules("tcp")[0], "edge_ports": [[80, 81]]}])
    assert edited is not carrier and edited.edge_ports == "80-81"
