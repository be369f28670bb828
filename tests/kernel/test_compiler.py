"""The sans-IO parts as pure functions: eligibility, the compiled transaction,
conntrack parsing, drain arithmetic and the capability check. No root needed."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from l4agent.kernel import compile_table, eligible, table_name
from l4agent.kernel.conntrack import ENDED_STATES, RulePorts, for_ports, parse, parse_line
from l4agent.kernel.driver import _minus
from l4agent.kernel.nft import Runner, capability, has_cap_net_admin

TABLE = "l4plan_n1"


def rule(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "protocol": "tcp",
        "edge_ports": [[3050, 3052]],
        "origin_ports": [5050, 5052],
        "passthrough": "off",
        "origin": {"type": "ip", "steering": "weighted", "health_check": None,
                   "targets": [{"host": "198.51.100.2", "weight": 1}]},
    }  # fmt: skip
    base.update(over)
    return base


def pool(*targets: tuple[str, int], steering: str = "weighted") -> dict[str, Any]:
    return {"type": "load_balancer", "steering": steering, "health_check": None,
            "targets": [{"host": h, "weight": w} for h, w in targets]}  # fmt: skip


def dnat_of(compiled: Any, family: str = "ip") -> list[dict[str, Any]]:
    """The dnat statements of the rules' `dnat_rN` chains."""
    found = []
    for cmd in compiled.transaction["nftables"]:
        body = cmd.get("add", {}).get("rule")
        if body and body["chain"].startswith("dnat_r"):
            for stmt in body["expr"]:
                if "dnat" in stmt and stmt["dnat"]["family"] == family:
                    found.append(stmt["dnat"])
    return found


def maps_of(compiled: Any) -> dict[str, dict[str, Any]]:
    return {
        body["name"]: body
        for cmd in compiled.transaction["nftables"]
        if (body := cmd.get("add", {}).get("map"))
    }


def rules_of(compiled: Any, chain: str) -> list[list[dict[str, Any]]]:
    return [
        cmd["add"]["rule"]["expr"]
        for cmd in compiled.transaction["nftables"]
        if cmd.get("add", {}).get("rule", {}).get("chain") == chain
    ]


# ---- eligibility -----------------------------------------------------------------


def test_eligibility_reasons() -> None:
    assert eligible(rule()) is None
    assert "proxy_v2" in (eligible(rule(passthrough="proxy_v2")) or "")
    assert "spp" in (eligible(rule(protocol="udp", passthrough="spp")) or "")
    lc = eligible(rule(origin=pool(("198.51.100.2", 1), steering="least_connections")))
    assert lc and lc.startswith("steering least_connections")
    assert "ipv6" in (eligible(rule(), ipv6=True) or "")  # IPv4 origin, IPv6 listeners
    assert eligible(rule(origin=pool(("2001:db8::2", 1)))) is not None
    named = rule(origin=pool(("game.example.net", 1)))
    assert eligible(named) is None  # hostnames pass until their addresses are known
    assert "not resolved" in (eligible(named, resolved={}) or "")
    both = {"game.example.net": ["192.0.2.9", "2001:db8::9"]}
    assert eligible(named, ipv6=True, resolved=both) is None
    assert eligible(named, ipv6=True, resolved={"game.example.net": ["192.0.2.9"]})


def test_table_name_is_a_valid_nft_identifier() -> None:
    assert table_name("62d2389f-12de-4453-92E9-1d3d5cbb1f09") == (
        "l4plan_62d2389f_12de_4453_92e9_1d3d5cbb1f09"
    )


# ---- the transaction -------------------------------------------------------------


def test_transaction_replaces_only_the_agents_table_atomically() -> None:
    compiled = compile_table(TABLE, [("a.example", {"rules": [rule()]})])
    cmds = compiled.transaction["nftables"]
    assert cmds[0] == {"metainfo": {"json_schema_version": 1}}
    table = {"family": "inet", "name": TABLE}
    assert cmds[1:4] == [{"add": {"table": table}}, {"delete": {"table": table}},
                         {"add": {"table": table}}]  # fmt: skip
    for cmd in cmds[4:]:
        (body,) = cmd["add"].values()
        assert body["family"] == "inet" and body["table"] == TABLE
    assert "flush" not in json.dumps(cmds) and "ruleset" not in json.dumps(cmds)
    hooks = {(b["name"], b.get("hook")) for c in cmds if (b := c.get("add", {}).get("chain"))}
    assert {
        ("dnat_pre", "prerouting"),
        ("dnat_out", "output"),
        ("snat_post", "postrouting"),
    } <= hooks


def test_port_mappings() -> None:
    apps = [("m.example", {"rules": [
        rule(),  # offset
        rule(edge_ports=[[3060, 3060]], origin_ports=[6000, 6009]),  # client hash
        rule(edge_ports=[[3070, 3070], [3080, 3090]], origin_ports=[7000, 7000]),  # list → one
        rule(edge_ports=[[3100, 3101]], origin_ports=None),  # same port
    ]})]  # fmt: skip
    offset, hashed, single, same = dnat_of(compile_table(TABLE, apps))
    assert offset["port"]["map"]["key"] == {"payload": {"protocol": "tcp", "field": "dport"}}
    assert offset["port"]["map"]["data"]["set"] == [[3050, 5050], [3051, 5051], [3052, 5052]]
    jhash = hashed["port"]["map"]["key"]["jhash"]
    assert jhash["mod"] == 10 and jhash["expr"] == {"payload": {"protocol": "ip", "field": "saddr"}}
    assert hashed["port"]["map"]["data"]["set"][0] == [0, 6000]
    assert single["port"] == 7000
    assert "port" not in same
    dispatch = maps_of(compile_table(TABLE, apps))["dnat_tcp"]
    assert dispatch["map"] == "verdict" and dispatch["elem"][2:4] == [
        [3070, {"jump": {"target": "dnat_r2"}}],
        [{"range": [3080, 3090]}, {"jump": {"target": "dnat_r2"}}],
    ]


def test_weighted_pool_is_a_numgen_map_and_weight_zero_is_left_out() -> None:
    spec = {"rules": [rule(origin=pool(("198.51.100.2", 3), ("198.51.100.3", 1),
                                       ("198.51.100.4", 0)))]}  # fmt: skip
    (dnat,) = dnat_of(compile_table(TABLE, [("w.example", spec)]))
    assert dnat["addr"]["map"]["key"] == {"numgen": {"mode": "random", "mod": 4}}
    assert dnat["addr"]["map"]["data"]["set"] == [
        [{"range": [0, 2]}, "198.51.100.2"],
        [3, "198.51.100.3"],
    ]


def test_a_hostnames_weight_is_shared_among_its_addresses() -> None:
    spec = {"rules": [rule(origin=pool(("two.test", 1), ("198.51.100.9", 1)))]}
    resolved = {"two.test": ["198.51.100.2", "198.51.100.3"]}
    compiled = compile_table(TABLE, [("h.example", spec)], resolved)
    slots = compiled.rules[("h.example", 0)].targets["ipv4"]
    assert slots == [("198.51.100.2", 1), ("198.51.100.3", 1), ("198.51.100.9", 2)]


def test_failover_and_health() -> None:
    targets = pool(("198.51.100.2", 1), ("198.51.100.3", 1), steering="failover")
    spec = {"rules": [rule(origin=targets)]}
    (dnat,) = dnat_of(compile_table(TABLE, [("f.example", spec)]))
    assert dnat["addr"] == "198.51.100.2"
    down = {("f.example", 0, "198.51.100.2"): False}
    (dnat,) = dnat_of(compile_table(TABLE, [("f.example", spec)], health=down))
    assert dnat["addr"] == "198.51.100.3"
    down[("f.example", 0, "198.51.100.3")] = False
    compiled = compile_table(TABLE, [("f.example", spec)], health=down)
    assert dnat_of(compiled) == []
    (refusal,) = rules_of(compiled, "dnat_r0")
    assert refusal[-2:] == [{"counter": "r0_nohealthy"}, {"reject": {"type": "tcp reset"}}]
    udp = {"rules": [rule(protocol="udp", origin=targets)]}
    (refusal,) = rules_of(compile_table(TABLE, [("f.example", udp)], health=down), "dnat_r0")
    assert refusal[-1] == {"drop": None}


def test_acl_sets_in_priority_order() -> None:
    acl = [{"action": "allow", "sources": ["192.0.2.7", "10.0.0.0/8", "10.1.0.0/16"]},
           {"action": "block", "sources": ["0.0.0.0/0", "::/0"]}]  # fmt: skip
    compiled = compile_table(TABLE, [("a.example", {"ipv6": False, "acl": acl, "rules": [rule()]})])
    sets = {b["name"]: b for c in compiled.transaction["nftables"]
            if (b := c.get("add", {}).get("set"))}  # fmt: skip
    assert sets["a0_e0_4"]["elem"] == [  # overlapping sources merged, as interval sets need
        {"prefix": {"addr": "10.0.0.0", "len": 8}},
        {"prefix": {"addr": "192.0.2.7", "len": 32}},
    ]
    assert sets["a0_e1_6"]["type"] == "ipv6_addr"
    allow, block = rules_of(compiled, "acl_r0")  # IPv6 entries skipped: no IPv6 listener
    assert allow[-1] == {"return": None} and allow[0]["match"]["right"] == "@a0_e0_4"
    assert block[-2:] == [{"counter": "r0_deny"}, {"reject": {"type": "tcp reset"}}]


def test_ineligible_rules_are_skipped_with_their_reason() -> None:
    spec = {"rules": [rule(), rule(edge_ports=[[4000, 4000]], passthrough="proxy_v1")]}
    compiled = compile_table(TABLE, [("s.example", spec)])
    assert list(compiled.rules) == [("s.example", 0)]
    assert "proxy_v1" in compiled.skipped[("s.example", 1)]


def test_bind_restricts_the_edge_addresses_per_family() -> None:
    acl, dnat = rules_of(compile_table(TABLE, []), "dnat_pre")  # the ACL first, then DNAT
    assert acl[0]["match"]["left"] == {"fib": {"result": "type", "flags": ["daddr"]}}
    assert (acl[-1], dnat[-1]) == ({"jump": {"target": "acl"}}, {"jump": {"target": "dnat"}})
    compiled = compile_table(TABLE, [], bind={"ipv4": "192.0.2.1", "ipv6": "::"})
    v4, _, v6, _ = rules_of(compiled, "dnat_pre")
    daddr = {"payload": {"protocol": "ip", "field": "daddr"}}
    assert v4[0]["match"] == {"op": "==", "left": daddr, "right": "192.0.2.1"}
    assert v6[0]["match"]["right"] == "ipv6" and "fib" in v6[1]["match"]["left"]


# ---- conntrack and drains --------------------------------------------------------

TOOL_LINE = (
    "tcp      6 431999 ESTABLISHED src=192.0.2.2 dst=192.0.2.1 sport=40000 dport=3050 "
    "src=198.51.100.2 dst=198.51.100.1 sport=5050 dport=40000 [ASSURED] mark=0 use=1"
)
PROC_LINE = ("ipv6     10 udp      17 28 src=2001:db8:1::2 dst=2001:db8:1::1 sport=5353 "
             "dport=4060 [UNREPLIED] src=2001:db8:1::1 dst=2001:db8:1::2 sport=4060 dport=5353 "
             "mark=0 zone=0 use=2")  # fmt: skip


def test_conntrack_lines() -> None:
    entry = parse_line(TOOL_LINE)
    assert entry is not None
    summary = (entry.family, entry.protocol, entry.state, entry.dport)
    assert summary == ("ipv4", "tcp", "ESTABLISHED", 3050)
    assert entry.translated
    local = parse_line(PROC_LINE)
    assert local is not None and local.family == "ipv6" and local.state is None
    assert not local.translated  # a flow to a local socket, not one of the kernel path
    assert for_ports([entry, local], "tcp", [(3050, 3050)]) == [entry]
    assert for_ports([entry, local], "udp", [(4060, 4060)]) == []
    assert parse_line("icmp 1 29 src=192.0.2.2 dst=192.0.2.1 type=8 code=0 id=1") is None


TCP_STATES = ("SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK",
              "TIME_WAIT", "CLOSE", "SYN_SENT2")  # fmt: skip


def test_active_only_drops_exactly_the_entries_in_an_ended_state() -> None:
    """The line filter (a regular expression, before parsing) and the parsed state
    agree, in both formats, for every TCP state and for UDP (no state)."""
    lines = [TOOL_LINE.replace("ESTABLISHED", s) for s in TCP_STATES]
    lines += ["ipv4     2 " + line for line in lines] + [PROC_LINE]
    every = parse("\n".join(lines))
    active = parse("\n".join(lines), active_only=True)
    assert len(every) == len(lines)
    assert active == [e for e in every if e.state not in ENDED_STATES]
    assert {e.state for e in active} == {"SYN_SENT", "SYN_RECV", "ESTABLISHED", "SYN_SENT2", None}


def test_rule_ports_find_an_entry_s_rule_by_protocol_and_edge_port() -> None:
    ports = RulePorts([
        ("a", "tcp", [(80, 80), (100, 200)]),
        ("b", "tcp", [(81, 99)]),
        ("c", "udp", [(100, 200)]),
    ])  # fmt: skip
    found = {p: ports.owner("tcp", p) for p in (79, 80, 81, 99, 100, 150, 200, 201)}
    assert found == {79: None, 80: "a", 81: "b", 99: "b", 100: "a", 150: "a", 200: "a", 201: None}
    assert ports.owner("udp", 80) is None and ports.owner("udp", 200) == "c"
    assert ports.owner("sctp", 100) is None
    entry = parse_line(TOOL_LINE)  # tcp, translated, original destination port 3050
    local = parse_line(PROC_LINE)  # udp to 4060, not translated
    assert entry is not None and local is not None
    counted = RulePorts([("r", "tcp", [(3000, 4000)]), ("u", "udp", [(4060, 4060)])])
    assert counted.count([entry, entry, local]) == {"r": 2}


def test_drain_keeps_only_ports_no_rule_owns_again() -> None:
    live = {("tcp", 3051), ("udp", 3052)}
    assert _minus("tcp", [(3050, 3053)], live) == [(3050, 3050), (3052, 3053)]
    assert _minus("udp", [(3052, 3052)], live) == []


# ---- capability ------------------------------------------------------------------


def test_capability_without_nft_on_path(tmp_path: Any) -> None:
    assert capability(Runner(), path=str(tmp_path)) == (
        "nft (nftables) is not installed or not on PATH"
    )


def test_cap_net_admin_is_read_from_capeff(tmp_path: Any) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapEff:\t0000000000000000\n")
    assert has_cap_net_admin(str(status)) is False
    status.write_text("Name:\tx\nCapEff:\t0000000000001000\n")
    assert has_cap_net_admin(str(status)) is True


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop a capability")
def test_capability_without_cap_net_admin_names_the_privilege() -> None:
    import subprocess
    import sys

    code = "from l4agent.kernel import capability; print(capability())"
    argv = ["setpriv", "--inh-caps=-all", "--bounding-set=-net_admin", sys.executable, "-c", code]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
    except FileNotFoundError:
        pytest.skip("setpriv (util-linux) is not installed")
    assert "CAP_NET_ADMIN" in out


def test_kernel_stats_under_the_relays_counter_names() -> None:
    from l4agent.dataplane.stats import COUNTERS, GAUGES, RuleStats
    from l4agent.kernel.driver import as_rule_counters

    names = ("bytes_in", "bytes_out", "packets_in", "packets_out", "flows_active", "flows_total")
    stats = dict(zip(names, (10, 20, 1, 2, 3, 4), strict=True))
    stats.update(acl_denials=5, no_healthy_origin=6)
    tcp = as_rule_counters(stats, "tcp")
    assert tcp["connections_total"] == 15 and tcp["connections_active"] == 3
    udp = as_rule_counters(stats, "udp")
    assert (udp["datagrams_in"], udp["udp_flows_total"], udp["udp_flows_active"]) == (1, 4, 3)
    assert set(tcp) | set(udp) <= set(COUNTERS) | set(GAUGES)
    merged = RuleStats("udp")
    merged.add(udp)
    assert merged.bytes_out == 20


def test_with_only_a_family_without_addresses_refuses_instead_of_moving_the_rule() -> None:
    spec = {"ipv6": True, "rules": [rule(origin=pool(("dual.test", 1)))]}
    resolved = {"dual.test": ["198.51.100.2"]}  # the IPv6 answer went away
    free = compile_table(TABLE, [("o.example", spec)], resolved)
    assert ("o.example", 0) in free.skipped  # would now be a relay rule
    pinned = compile_table(TABLE, [("o.example", spec)], resolved, only={("o.example", 0)})
    assert pinned.rules[("o.example", 0)].targets == {"ipv4": [("198.51.100.2", 1)], "ipv6": []}
    v4, v6 = rules_of(pinned, "dnat_r0")
    assert "dnat" in v4[-1] and v6[-2:] == [{"counter": "r0_nohealthy"},
                                             {"reject": {"type": "tcp reset"}}]  # fmt: skip


def test_work_per_packet_does_not_grow_with_the_rules() -> None:
    acl = [{"action": "block", "sources": ["192.0.2.0/24"]}]
    rules = [rule(edge_ports=[[4000 + i, 4000 + i]], origin_ports=None,
                  protocol="udp" if i % 2 else "tcp") for i in range(30)]  # fmt: skip
    compiled = compile_table(TABLE, [("n.example", {"acl": acl, "rules": rules})])
    assert len(compiled.rules) == 30
    # one lookup per protocol where each packet or new flow goes through
    assert len(rules_of(compiled, "count")) == 4  # tcp/udp x original/reply
    assert len(rules_of(compiled, "dnat")) == len(rules_of(compiled, "acl")) == 2
    assert len(rules_of(compiled, "snat_post")) == 2
    maps = maps_of(compiled)
    assert maps["count_tcp_in"]["elem"][:2] == [[4000, "r0_in"], [4002, "r2_in"]]
    assert maps["count_udp_out"]["elem"][0] == [4001, "r1_out"]
    assert maps["acl_udp"]["elem"][0] == [4001, {"jump": {"target": "acl_r1"}}]
    chains = {b["name"]: b for c in compiled.transaction["nftables"]
              if (b := c.get("add", {}).get("chain")) and "hook" in b}  # fmt: skip
    # base chains: NAT ones see a flow's first packet; only two filter chains see all
    assert sorted(n for n, b in chains.items() if b["type"] == "filter") == [
        "count_in", "count_post"]  # fmt: skip
    (count_in,) = rules_of(compiled, "count_in")
    assert count_in[1] == {"match": {"op": "in", "left": {"ct": {"key": "status"}},
                                     "right": "dnat"}}  # fmt: skip
