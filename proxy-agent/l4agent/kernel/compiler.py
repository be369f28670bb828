"""Sans-IO compiler: application specs → one nftables JSON transaction.

The transaction replaces the agent's own table whole, in one atomic batch
(``add table; delete table; add table; …``: the leading ``add`` makes the
``delete`` valid when the table does not exist yet). netfilter applies a batch all
or nothing, and conntrack entries keep their NAT bindings across it, so flows that
are open keep going while every new flow sees the new rules.

Layout of the table (all chains ``policy accept``: the table only ever adds NAT,
counting and the ACL's refusals, it never drops what is not its own):

===============  ===========================  =============================================
chain            hook / priority              what it does
===============  ===========================  =============================================
``dnat_pre``     nat    prerouting  -100      flows addressed to this host → ``acl``,
                                              then → ``dnat``
``dnat_out``     nat    output      -100      the same for clients on this host (loopback)
``snat_post``    nat    postrouting  100      masquerade what ``dnat`` translated and
                                              sends off this host, so replies come back
                                              through it (not via ``lo``: an origin on
                                              this host answers the client directly)
``count_post``   filter postrouting  300      per-rule byte/packet counters, both
``count_in``     filter input        300      directions (input: not from ``lo``, which
                                              postrouting already counted)
===============  ===========================  =============================================

Per rule ``rN`` (N: position in the sorted list of compiled rules) there are named
counters ``rN_flows`` (new flows translated), ``rN_in`` / ``rN_out`` (client →
origin / origin → client, IP bytes including headers), ``rN_deny`` (ACL refusals)
and ``rN_nohealthy`` (new flows refused because no target was healthy), and the chains
``dnat_rN`` (and ``acl_rN`` when the application has an ACL).

The work per packet does not grow with the number of rules: the ``acl`` and ``dnat``
chains pick a rule's chain with one verdict-map lookup on the destination port
(``acl_tcp``, ``dnat_udp``, …), ``snat_post`` looks the original destination port up in
the set of edge ports (``edge_tcp``, …), and ``count`` adds a packet to its rule's
counter through one counter-map lookup (``count_tcp_in``, ``count_tcp_out``, …). Only
``count`` sees every packet of a translated flow; the NAT chains see a flow's first
packet only. That is why the ACL is judged there (a refused first packet leaves no
confirmed conntrack entry, so a retransmission is judged again) and not in filter
chains of its own, which every packet would enter only to stop at ``ct state new``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from l4agent.kernel.eligibility import eligible, target_addresses
from l4agent.kernel.targets import SADDR, Health, address_expr, pool, port_expr
from l4agent.spec.mapping import PortMap

FAMILY = "inet"
NFPROTO = {"ipv4": "ipv4", "ipv6": "ipv6"}
NAT_FAMILY = {"ipv4": "ip", "ipv6": "ip6"}
ADDR_TYPE = {"ipv4": "ipv4_addr", "ipv6": "ipv6_addr"}
DADDR = {"ipv4": ("ip", "daddr"), "ipv6": ("ip6", "daddr")}
COUNTER_KINDS = ("flows", "in", "out", "deny", "nohealthy")
BASE_CHAINS = (
    ("dnat_pre", "nat", "prerouting", -100),
    ("dnat_out", "nat", "output", -100),
    ("snat_post", "nat", "postrouting", 100),
    ("count_post", "filter", "postrouting", 300),
    ("count_in", "filter", "input", 300),
)

RuleKey = tuple[str, int]  # (application, rule index)
# a flow this (or another) table translated; the rules that use it also check the port
TRANSLATED = {"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}


@dataclass(slots=True)
class CompiledRule:
    app: str
    index: int
    rid: str  # "r0", "r1", …: the prefix of this rule's chains and counters
    protocol: str
    edge_ports: list[tuple[int, int]]
    families: tuple[str, ...]
    targets: dict[str, list[tuple[str, int]]]  # family → [(address, slots)] in use

    def counter(self, kind: str) -> str:
        return f"{self.rid}_{kind}"


@dataclass(slots=True)
class Compiled:
    table: str
    transaction: dict[str, Any]
    rules: dict[RuleKey, CompiledRule] = field(default_factory=dict)
    skipped: dict[RuleKey, str] = field(default_factory=dict)  # rule → why it stays on the relay


def always_healthy(app: str, index: int, address: str) -> bool:
    return True


def table_name(node: str) -> str:
    """``l4plan_<node>`` with the node id reduced to what nft accepts in a name."""
    safe = "".join(c if c.isalnum() else "_" for c in node.lower())
    return f"l4plan_{safe}"[:64]


def compile_table(
    table: str,
    apps: Sequence[tuple[str, dict[str, Any]]],
    resolved: Mapping[str, Sequence[str]] | None = None,
    health: Health | Mapping[tuple[str, int, str], bool] | None = None,
    *,
    bind: Mapping[str, str | None] | None = None,
    only: Collection[RuleKey] | None = None,
) -> Compiled:
    """The transaction that makes `table` forward every eligible rule of `apps`.

    `resolved` maps hostnames to addresses (IP literals need no entry); `health`
    answers whether an address of a rule's pool is healthy (default: all are).
    `bind` restricts the edge addresses per family (None or the wildcard: every
    local address), as the relay's ``--bind`` does.

    `only`: the rules the caller put on the kernel path when it applied them. Then
    the path of a rule never changes with a DNS answer: a family a hostname lost
    addresses for refuses new flows (counted as no healthy origin) instead of
    moving the rule to the relay behind the caller's back. Without `only`, every
    rule that is eligible with the current answers is compiled.
    """
    is_healthy = _health_fn(health)
    out = Compiled(table, {"nftables": []})
    cmds: list[dict[str, Any]] = out.transaction["nftables"]
    cmds.append({"metainfo": {"json_schema_version": 1}})
    tbl = {"family": FAMILY, "name": table}
    cmds += [{"add": {"table": tbl}}, {"delete": {"table": tbl}}, {"add": {"table": tbl}}]
    for name, kind, hook, prio in BASE_CHAINS:
        chain = {"family": FAMILY, "table": table, "name": name, "type": kind, "hook": hook,
                 "prio": prio, "policy": "accept"}  # fmt: skip
        cmds.append({"add": {"chain": chain}})
    for name in ("acl", "dnat", "count"):
        cmds.append({"add": {"chain": {"family": FAMILY, "table": table, "name": name}}})
    emit = _Emitter(table, cmds)
    for chain in ("dnat_pre", "dnat_out"):
        for match in _local_destination(bind):
            emit.rule(chain, [*match, _jump("acl")])
            emit.rule(chain, [*match, _jump("dnat")])
    emit.rule("count_post", [TRANSLATED, _jump("count")])
    emit.rule(
        "count_in", [_match({"meta": {"key": "iif"}}, "lo", "!="), TRANSLATED, _jump("count")]
    )

    dispatch = _Dispatch()
    n = 0
    for app_number, (app, spec) in enumerate(sorted(apps, key=lambda a: a[0])):
        fams = ("ipv4", "ipv6") if spec.get("ipv6", False) else ("ipv4",)
        acl_sets = _acl_sets(emit, f"a{app_number}", spec.get("acl"))
        for index, rule in enumerate(spec["rules"]):
            if only is not None:
                reason = eligible(rule) if (app, index) in only else "not on the kernel path"
            else:
                reason = eligible(rule, ipv6=spec.get("ipv6", False), resolved=resolved)
                if reason is None and any(
                    target_addresses(t["host"], resolved) is None for t in rule["origin"]["targets"]
                ):
                    reason = "origin hostname not resolved yet"
            if reason is not None:
                out.skipped[(app, index)] = reason
                continue
            compiled = _compile_rule(emit, f"r{n}", app, index, rule, fams, acl_sets,
                                     resolved, is_healthy)  # fmt: skip
            dispatch.add(compiled, with_acl=bool(acl_sets))
            out.rules[(app, index)] = compiled
            n += 1
    dispatch.emit(emit)
    return out


class _Dispatch:
    """Per protocol, the port → rule lookups that the shared chains make in one step:
    edge ports → ``acl_rN`` / ``dnat_rN`` chain (verdict maps), → ``rN_in`` / ``rN_out``
    counter (counter maps), and the set of edge ports (masquerade)."""

    def __init__(self) -> None:
        # protocol → [(edge port or range, rule, whether it has an ACL)]
        self.ports: dict[str, list[tuple[Any, CompiledRule, bool]]] = {}

    def add(self, rule: CompiledRule, *, with_acl: bool) -> None:
        entries = self.ports.setdefault(rule.protocol, [])
        for lo, hi in rule.edge_ports:
            entries.append((lo if lo == hi else {"range": [lo, hi]}, rule, with_acl))

    def emit(self, emit: _Emitter) -> None:
        """The maps and sets (after every chain they jump to), then the rules using them."""
        orig_dport = {"ct": {"key": "proto-dst", "dir": "original"}}
        off_host = _match({"meta": {"key": "oif"}}, "lo", "!=")
        for protocol, entries in sorted(self.ports.items()):
            dport = _payload(protocol, "dport")
            chains = {
                "acl": [[k, _jump(f"acl_{r.rid}")] for k, r, with_acl in entries if with_acl],
                "dnat": [[k, _jump(f"dnat_{r.rid}")] for k, r, _ in entries],
            }
            for chain, elems in chains.items():
                if elems:
                    name = f"{chain}_{protocol}"
                    emit.add("map", name=name, type="inet_service", map="verdict",
                             flags=["interval"], elem=elems)  # fmt: skip
                    emit.rule(chain, [{"vmap": {"key": dport, "data": f"@{name}"}}])
            # masquerade what was translated and leaves the host. A flow routed via lo
            # stays on this host, so its replies find the client without it; masquerading
            # it would need an address of global scope, and a namespace whose only
            # address is 127.0.0.1 has none (the kernel drops such a flow).
            name = f"edge_{protocol}"
            emit.add("set", name=name, type="inet_service", flags=["interval"],
                     elem=[k for k, _, _ in entries])  # fmt: skip
            emit.rule("snat_post", [TRANSLATED, _l4(protocol), _match(orig_dport, f"@{name}"),
                                    off_host, {"masquerade": None}])  # fmt: skip
            for kind, direction in (("in", "original"), ("out", "reply")):
                name = f"count_{protocol}_{kind}"
                elems = [[k, r.counter(kind)] for k, r, _ in entries]
                emit.add("map", name=name, type="inet_service", map="counter",
                         flags=["interval"], elem=elems)  # fmt: skip
                way = _match({"ct": {"key": "direction"}}, direction)
                counter = {"counter": {"map": {"key": orig_dport, "data": f"@{name}"}}}
                emit.rule("count", [_l4(protocol), way, counter])


def _jump(chain: str) -> dict[str, Any]:
    return {"jump": {"target": chain}}


def _l4(protocol: str) -> dict[str, Any]:
    return _match({"meta": {"key": "l4proto"}}, protocol)


class _Emitter:
    def __init__(self, table: str, cmds: list[dict[str, Any]]) -> None:
        self.table = table
        self.cmds = cmds

    def add(self, kind: str, **body: Any) -> None:
        self.cmds.append({"add": {kind: {"family": FAMILY, "table": self.table, **body}}})

    def rule(self, chain: str, expr: list[dict[str, Any]], comment: str | None = None) -> None:
        body: dict[str, Any] = {"chain": chain, "expr": expr}
        if comment:
            body["comment"] = comment[:120]
        self.add("rule", **body)


def _health_fn(health: Health | Mapping[tuple[str, int, str], bool] | None) -> Health:
    if health is None:
        return always_healthy
    if callable(health):
        return health
    table = health
    return lambda app, index, address: table.get((app, index, address), True)


def _payload(protocol: str, fieldname: str) -> dict[str, Any]:
    return {"payload": {"protocol": protocol, "field": fieldname}}


def _match(left: dict[str, Any], right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def _local_destination(bind: Mapping[str, str | None] | None) -> list[list[dict[str, Any]]]:
    """Matches for "addressed to this host" (one list of expressions per alternative):
    per family, the bound address, or every local address for a wildcard bind (the
    relay's default, ``0.0.0.0`` and ``::``)."""
    any_local = _match({"fib": {"result": "type", "flags": ["daddr"]}}, "local")
    if not bind:
        return [[any_local]]
    out: list[list[dict[str, Any]]] = []
    for family in ("ipv4", "ipv6"):
        address = bind.get(family)
        if address in (None, "", "0.0.0.0", "::"):
            out.append([_match({"meta": {"key": "nfproto"}}, NFPROTO[family]), any_local])
        else:
            out.append([_match(_payload(*DADDR[family]), address)])
    return out


def _acl_sets(
    emit: _Emitter, prefix: str, acl: list[dict[str, Any]] | None
) -> list[tuple[str, dict[str, str]]]:
    """One named set per ACL entry and family; [(action, {family: set name})]."""
    entries: list[tuple[str, dict[str, str]]] = []
    for e, entry in enumerate(acl or []):
        nets: dict[str, list[Any]] = {"ipv4": [], "ipv6": []}
        for source in entry["sources"]:
            net = ipaddress.ip_network(source, strict=False)
            nets["ipv6" if net.version == 6 else "ipv4"].append(net)
        names: dict[str, str] = {}
        for fam, found in nets.items():
            if not found:
                continue
            name = f"{prefix}_e{e}_{fam[-1]}"
            elems = [
                {"prefix": {"addr": str(n.network_address), "len": n.prefixlen}}
                for n in ipaddress.collapse_addresses(found)  # type: ignore[type-var]
            ]
            emit.add("set", name=name, type=ADDR_TYPE[fam], flags=["interval"], elem=elems)
            names[fam] = name
        entries.append((entry["action"], names))
    return entries


def _compile_rule(
    emit: _Emitter,
    rid: str,
    app: str,
    index: int,
    rule: dict[str, Any],
    fams: tuple[str, ...],
    acl_sets: list[tuple[str, dict[str, str]]],
    resolved: Mapping[str, Sequence[str]] | None,
    is_healthy: Health,
) -> CompiledRule:
    protocol = rule["protocol"]
    ports = [(lo, hi) for lo, hi in rule["edge_ports"]]
    compiled = CompiledRule(app, index, rid, protocol, ports, fams, {})
    comment = f"{app} rule {index}"
    for kind in COUNTER_KINDS:
        emit.add("counter", name=compiled.counter(kind))
    refuse = {"reject": {"type": "tcp reset"}} if protocol == "tcp" else {"drop": None}

    # ACL: first matching entry wins, default allow
    if acl_sets:
        chain = f"acl_{rid}"
        emit.add("chain", name=chain)
        for action, names in acl_sets:
            for fam, set_name in names.items():
                if fam not in fams:
                    continue
                saddr = _match(_payload(*SADDR[fam]), f"@{set_name}")
                if action == "allow":
                    emit.rule(chain, [saddr, {"return": None}], comment)
                else:
                    emit.rule(chain, [saddr, {"counter": compiled.counter("deny")}, refuse],
                              comment)  # fmt: skip

    # DNAT: one rule per family
    chain = f"dnat_{rid}"
    emit.add("chain", name=chain)
    portmap = PortMap(rule["edge_ports"], rule.get("origin_ports"))
    origin_ports = rule.get("origin_ports")
    # a dnat statement with a port needs the transport protocol matched in its rule
    l4 = _l4(protocol)
    for fam in fams:
        nfproto = _match({"meta": {"key": "nfproto"}}, NFPROTO[fam])
        slots = pool(app, index, rule["origin"], fam, resolved, is_healthy)
        compiled.targets[fam] = slots
        if not slots:
            emit.rule(chain, [nfproto, l4, {"counter": compiled.counter("nohealthy")}, refuse],
                      comment)  # fmt: skip
            continue
        dnat: dict[str, Any] = {"family": NAT_FAMILY[fam], "addr": address_expr(slots)}
        port = port_expr(portmap.kind, protocol, fam, ports, origin_ports)
        if port is not None:
            dnat["port"] = port
        emit.rule(chain, [nfproto, l4, {"counter": compiled.counter("flows")}, {"dnat": dnat}],
                  comment)  # fmt: skip
    return compiled
