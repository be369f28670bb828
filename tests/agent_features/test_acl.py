"""ACL decisions: first match wins, default allow, both families, mapped IPv4, bad specs."""

from __future__ import annotations

import functools
import ipaddress
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from l4agent.dataplane.acl import Acl, AclSpecError


@functools.cache
def _net(source: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(source, strict=False)


def naive(rules: list[dict], ip: str) -> bool:
    """The definition, read literally: first rule with a containing source decides."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for rule in rules:
        for source in rule["sources"]:
            net = _net(source)
            if net.version == addr.version and addr in net:
                return rule["action"] == "allow"
    return True


SITE_RULES = [
    {"action": "allow", "sources": ["127.0.0.2/32", "2001:db8:100::/48"]},
    {"action": "block", "sources": ["127.0.0.0/24", "::1/128"]},
]


def test_null_acl_means_no_access_control() -> None:
    assert Acl.from_spec(None) is None


def test_first_match_wins_and_default_allows() -> None:
    acl = Acl.from_spec(SITE_RULES)
    assert acl is not None
    assert acl.allows("127.0.0.2")  # allowed before the block covering it
    assert not acl.allows("127.0.0.3")
    assert not acl.allows("::1")
    assert acl.allows("127.0.1.1")  # no rule: default allow
    assert acl.allows("2001:db8:100:ffff::1")
    assert acl.allows("::2")
    assert acl.allows("0.0.0.0") and acl.allows("255.255.255.255")


def test_ipv4_mapped_clients_are_judged_as_ipv4() -> None:
    acl = Acl.from_spec(SITE_RULES)
    assert acl is not None
    assert not acl.allows("::ffff:127.0.0.3")
    assert acl.allows("::ffff:127.0.0.2")
    # a mapped source in a rule means the IPv4 range
    mapped = Acl.from_spec([{"action": "block", "sources": ["::ffff:192.0.2.0/120"]}])
    assert mapped is not None and not mapped.allows("192.0.2.77")


def test_block_all_with_exceptions_and_whole_space_rules() -> None:
    acl = Acl.from_spec(
        [
            {"action": "block", "sources": ["10.0.0.5"]},
            {"action": "allow", "sources": ["10.0.0.0/8", "fe80::/10"]},
            {"action": "block", "sources": ["0.0.0.0/0", "::/0"]},
        ]
    )
    assert acl is not None
    assert not acl.allows("10.0.0.5")
    assert acl.allows("10.0.0.4") and acl.allows("10.255.255.255")
    assert not acl.allows("11.0.0.0") and not acl.allows("9.255.255.255")
    assert acl.allows("fe80::1%eth0")
    assert not acl.allows("::") and not acl.allows("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")


def test_host_bits_are_masked() -> None:
    acl = Acl.from_spec([{"action": "block", "sources": ["192.0.2.77/24"]}])
    assert acl is not None and not acl.allows("192.0.2.1")


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("all", "acl must be a list of rules"),
        ([{"action": "deny", "sources": []}], r"acl\[0\]\.action must be allow or block"),
        ([{"action": "allow"}], r"acl\[0\]\.sources must be a list"),
        (
            [{"action": "allow", "sources": []}, {"action": "block", "sources": ["10.0.0.0/33"]}],
            r"acl\[1\]\.sources\[0\]: '10\.0\.0\.0/33' is not an IPv4 or IPv6 CIDR",
        ),
        ([{"action": "allow", "sources": [7]}], r"acl\[0\]\.sources\[0\] must be a CIDR string"),
    ],
)
def test_bad_specs_name_the_rule_and_source(rules: object, message: str) -> None:
    with pytest.raises(AclSpecError, match=message):
        Acl.from_spec(rules)  # type: ignore[arg-type]


def test_non_ip_client_is_a_clear_error() -> None:
    acl = Acl.from_spec([])
    assert acl is not None
    with pytest.raises(ValueError, match=r"'example\.com' is not an IP address"):
        acl.allows("example.com")


def v4_net(draw_addr: int, prefix: int) -> str:
    return str(ipaddress.ip_network(f"{ipaddress.IPv4Address(draw_addr)}/{prefix}", strict=False))


# small address pools make overlaps and shared boundaries likely
v4_nets = st.builds(
    v4_net, st.integers(0, 2**32 - 1).map(lambda a: a & 0xFF0000FF), st.integers(0, 32)
)
v6_nets = st.builds(
    lambda a, p: str(ipaddress.ip_network(f"{ipaddress.IPv6Address(a)}/{p}", strict=False)),
    st.integers(0, 2**128 - 1).map(lambda a: a & (0xFFFF << 112 | 0xFF)),
    st.integers(0, 128),
)
rule_lists = st.lists(
    st.fixed_dictionaries(
        {
            "action": st.sampled_from(["allow", "block"]),
            "sources": st.lists(st.one_of(v4_nets, v6_nets), max_size=4),
        }
    ),
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(rule_lists, st.data())
def test_compiled_table_agrees_with_the_definition(rules: list[dict], data: st.DataObject) -> None:
    acl = Acl.from_spec(rules)
    assert acl is not None
    probes = []
    for rule in rules:  # the edges of every network, and just outside them
        for source in rule["sources"]:
            net = ipaddress.ip_network(source)
            lo, hi = int(net.network_address), int(net.broadcast_address)
            top = 2**net.max_prefixlen - 1
            make = type(net.network_address)
            probes += [make(x) for x in (lo, hi, max(lo - 1, 0), min(hi + 1, top))]
    probes += data.draw(st.lists(st.ip_addresses(), max_size=10))
    for ip in probes:
        assert acl.allows(str(ip)) == naive(rules, str(ip)), (rules, ip)


def test_ten_thousand_sources_agree_with_a_linear_scan() -> None:
    rng = random.Random(7)
    rules = [
        {
            "action": rng.choice(["allow", "block"]),
            "sources": [
                f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.0/24"
                for _ in range(10)
            ],
        }
        for _ in range(1000)
    ]
    started = time.perf_counter()
    acl = Acl.from_spec(rules)
    compile_s = time.perf_counter() - started
    assert acl is not None
    ips = [
        f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.1"
        for _ in range(50_000)
    ]
    started = time.perf_counter()
    for ip in ips:
        acl.allows(ip)
    per_lookup_us = (time.perf_counter() - started) / len(ips) * 1e6
    print(f"10000 sources compiled in {compile_s * 1e3:.1f} ms; {per_lookup_us:.2f} us per lookup")
    for ip in ips[:100]:
        assert acl.allows(ip) == naive(rules, ip)
