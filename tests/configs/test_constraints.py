"""Every constraint code: a failing configuration and its passing neighbour, from HCL.

A small valid configuration has slots; `build(**slots)` fills them. The line a test
expects the diagnostic on carries the marker comment `# <-`. Each case asserts the code,
the address and the line of the diagnostic, and that the neighbour has none at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from l4plan.configs import load_config
from l4plan.configs.model import UNKNOWN, Config
from l4plan.configs.validate import check
from l4plan.diagnostics import Diagnostic

NOW = datetime(2027, 1, 1, tzinfo=UTC)
MARK = "# <-"

RULE = """
  rule {
    protocol    = "tcp"
    edge_port   = "80"
    origin_type = "ip"
    origin      = "10.0.0.1"
  }
"""

BASE = """
agent "hz1" {{
  endpoint    = "http://127.0.0.1:7700"
  public_ipv4 = "127.0.0.1"
}}
{agents}
resource "l4_site" "main" {{
  name   = "example.com"
  plan   = {plan}
  agents = [agent.hz1]
  {site}
}}

resource "l4_application" "game" {{ {app_mark}
  site   = {site_ref}
  domain = {domain}
  {app}
{rules}
}}
{extra}
"""

DEFAULTS = {
    "agents": "",
    "plan": '"enterprise"',
    "site": "",
    "app_mark": "",
    "site_ref": "l4_site.main.id",
    "domain": '"play"',
    "app": "",
    "rules": RULE,
    "extra": "",
}


def build(**slots: str) -> str:
    unknown = set(slots) - set(DEFAULTS)
    assert not unknown, f"unknown slots {unknown}"
    return BASE.format(**{**DEFAULTS, **slots})


def rule(
    edge_port: str = '"80"', protocol: str = '"tcp"', extra: str = "", origin: str = '"10.0.0.1"'
) -> str:
    return f"""
  rule {{
    protocol    = {protocol}
    edge_port   = {edge_port}
    origin_type = "ip"
    origin      = {origin}
    {extra}
  }}
"""


def marked_line(text: str) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if MARK in line]
    assert len(lines) == 1, f"expected one {MARK!r} marker, found {len(lines)}"
    return lines[0]


def load(directory: Path, text: str) -> Config:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.l4.hcl").write_text(text, encoding="utf-8")
    config = load_config(directory)
    assert config.diagnostics == [], config.diagnostics
    return config


def diagnose(directory: Path, text: str) -> list[Diagnostic]:
    return check(load(directory, text), now=NOW)


# -- one case per code --------------------------------------------------------------

LB = """
resource "l4_load_balancer" "pool" {{
  site   = l4_site.main.id
  domain = {domain}
  origin {{
    address = {address}
  }}
}}
"""

ACL = """
resource "l4_ip_access_rule" "office" {{
  site     = l4_site.main.id
  priority = 10
  action   = "allow"
  sources  = [{sources}] {mark}
}}
"""

SECOND_APP = """
resource "l4_application" "other" {{
  site   = l4_site.main.id
  domain = {domain}
  {attrs}
  rule {{
    protocol    = {protocol}
    edge_port   = {edge_port}
    origin_type = "ip"
    origin      = "10.0.0.2"
  }}
}}
"""
HZ2 = """
agent "hz2" {
  endpoint = "http://127.0.0.1:7701"
}
"""
KEEPALIVE = "keepalive_protection = true # <-"
DDOS_FULL = 'ddos_protection {\n mode = "full"\n }'


def second_app(
    domain: str = '"other"', edge_port: str = '"81"', attrs: str = "", protocol: str = '"tcp"'
) -> str:
    return SECOND_APP.format(domain=domain, edge_port=edge_port, attrs=attrs, protocol=protocol)


APP = "l4_application.game"
CASES: list[tuple[str, str, str, dict[str, str], dict[str, str]]] = [
    # (id, code, address, failing slots, passing neighbour slots)
    ("plan", "L4E001", APP, {"plan": '"premium"', "site_ref": "l4_site.main.id # <-"}, {}),
    ("no-rule", "L4E002", APP, {"rules": "", "app_mark": "# <-"}, {}),
    (
        "31-rules",
        "L4E002",
        APP,
        {
            "rules": "".join(rule(f'"{1000 + i}"') for i in range(30))
            + rule('"2000"').replace("rule {", "rule { # <-")
        },
        {"rules": "".join(rule(f'"{1000 + i}"') for i in range(30))},
    ),
    (
        "edge-empty-item",
        "L4E003",
        APP,
        {"rules": rule('"80,,81" # <-')},
        {"rules": rule('"80,81"')},
    ),
    ("edge-range", "L4E003", APP, {"rules": rule('"90-80" # <-')}, {"rules": rule('"80-90"')}),
    ("edge-overlap", "L4E003", APP, {"rules": rule('"80-90,85" # <-')}, {"rules": rule('"80-90"')}),
    ("edge-65536", "L4E003", APP, {"rules": rule('"65536" # <-')}, {"rules": rule('"65535"')}),
    (
        "rules-share-port",
        "L4E004",
        APP,
        {"rules": rule('"80-90"') + rule('"85" # <-')},
        {"rules": rule('"80-90"') + rule('"85"', protocol='"udp"')},
    ),
    (
        "origin-list",
        "L4E005",
        APP,
        {"rules": rule(extra='origin_port = "80,81" # <-')},
        {"rules": rule(extra='origin_port = "80-81"')},
    ),
    (
        "origin-garbage",
        "L4E005",
        APP,
        {"rules": rule(extra='origin_port = "http" # <-')},
        {"rules": rule(extra='origin_port = "8080"')},
    ),
    (
        "range-length",
        "L4E006",
        APP,
        {"rules": rule('"3000-3010"', extra='origin_port = "5000-5005" # <-')},
        {"rules": rule('"3000-3010"', extra='origin_port = "5000-5010"')},
    ),
    (
        "list-to-range",
        "L4E006",
        APP,
        {"rules": rule('"80,443"', extra='origin_port = "8000-8001" # <-')},
        {"rules": rule('"80,443"', extra='origin_port = "8000"')},
    ),
    (
        "proxy-v1-udp",
        "L4E007",
        APP,
        {"rules": rule(protocol='"udp"', extra='client_ip_passthrough = "proxy_v1" # <-')},
        {"rules": rule(protocol='"udp"', extra='client_ip_passthrough = "proxy_v2"')},
    ),
    (
        "spp-tcp",
        "L4E007",
        APP,
        {"rules": rule(extra='client_ip_passthrough = "spp" # <-')},
        {"rules": rule(protocol='"udp"', extra='client_ip_passthrough = "spp"')},
    ),
    (
        "keepalive-fixed-ipv4",
        "L4E008",
        APP,
        {"site": DDOS_FULL + "\n fixed_ipv4 = true", "app": KEEPALIVE},
        {"site": DDOS_FULL + "\n fixed_ipv4 = false", "app": KEEPALIVE},
    ),
    (
        "keepalive-china",
        "L4E008",
        APP,
        {"site": DDOS_FULL + "\n china_mainland_network_optimization = true", "app": KEEPALIVE},
        {"site": DDOS_FULL, "app": KEEPALIVE},
    ),
    (
        "keepalive-basic-ddos",
        "L4E009",
        APP,
        {"site": 'ddos_protection {\n mode = "basic"\n }', "app": KEEPALIVE},
        {"site": DDOS_FULL, "app": KEEPALIVE},
    ),
    (
        "keepalive-no-ddos",
        "L4E009",
        APP,
        {"app": KEEPALIVE},
        {"app": "keepalive_protection = false"},
    ),
    (
        "domain-outside-zone",
        "L4E010",
        APP,
        {"domain": '"play.example.org" # <-'},
        {"domain": '"play.example.com"'},
    ),
    ("domain-bad-label", "L4E010", APP, {"domain": '"pl_ay" # <-'}, {"domain": '"pl-ay"'}),
    ("domain-hyphen", "L4E010", APP, {"domain": '"-play" # <-'}, {"domain": '"play1"'}),
    (
        "lb-domain-outside-zone",
        "L4E010",
        "l4_load_balancer.pool",
        {"extra": LB.format(domain='"lb.example.net" # <-', address='"10.0.0.5"')},
        {"extra": LB.format(domain='"lb.example.com"', address='"10.0.0.5"')},
    ),
    (
        "l7-domain",
        "L4E011",
        APP,
        {"site": 'l7_domains = ["play.example.com"]', "domain": '"play" # <-'},
        {"site": 'l7_domains = ["www.example.com"]', "domain": '"play"'},
    ),
    (
        "edge-function-domain",
        "L4E011",
        APP,
        {"site": 'edge_function_domains = ["PLAY.example.com"]', "domain": '"play" # <-'},
        {"site": 'edge_function_domains = ["fn.example.com"]', "domain": '"play"'},
    ),
    (
        "lb-domain",
        "L4E011",
        APP,
        {
            "extra": LB.format(domain='"play.example.com"', address='"10.0.0.5"'),
            "domain": '"play" # <-',
        },
        {"extra": LB.format(domain='"lb.example.com"', address='"10.0.0.5"')},
    ),
    (
        "same-domain",
        "L4E012",
        "l4_application.other",
        {"extra": second_app(domain='"play.example.com" # <-')},
        {"extra": second_app(domain='"other"')},
    ),
    (
        "same-listener",
        "L4E013",
        "l4_application.other",
        {"extra": second_app(edge_port='"70-80" # <-')},
        {"extra": second_app(edge_port='"70-80"', attrs="agents = [agent.hz2]"), "agents": HZ2},
    ),
    (
        "ip-with-port",
        "L4E014",
        APP,
        {"rules": rule(origin='"10.0.0.1:8080" # <-')},
        {"rules": rule(origin='"10.0.0.1"', extra='origin_port = "8080"')},
    ),
    (
        "ip-is-hostname",
        "L4E014",
        APP,
        {"rules": rule(origin='"origin.example.net" # <-')},
        {"rules": rule(origin='"2001:db8::5"')},
    ),
    (
        "domain-is-ip",
        "L4E014",
        APP,
        {"rules": rule(origin='"10.0.0.9" # <-').replace('"ip"', '"domain"')},
        {"rules": rule(origin='"origin.example.net"').replace('"ip"', '"domain"')},
    ),
    (
        "lb-not-declared",
        "L4E014",
        APP,
        {"rules": rule(origin='"lb:nope.example.com" # <-').replace('"ip"', '"load_balancer"')},
        {
            "rules": rule(origin="l4_load_balancer.pool.id").replace('"ip"', '"load_balancer"'),
            "extra": LB.format(domain='"lb.example.com"', address='"10.0.0.5"'),
        },
    ),
    (
        "lb-member",
        "L4E014",
        "l4_load_balancer.pool",
        {"extra": LB.format(domain='"lb"', address='"10.0.0.5:80" # <-')},
        {"extra": LB.format(domain='"lb"', address='"origin-1.example.net"')},
    ),
    (
        "site-by-literal",
        "L4E015",
        APP,
        {"site_ref": '"example.org" # <-'},
        {"site_ref": '"example.com"'},
    ),
    (
        "agent-by-literal",
        "L4E015",
        APP,
        {"app": 'agents = ["hz9"] # <-'},
        {"app": 'agents = ["hz1"]'},
    ),
    (
        "acl-host-bits",
        "L4E018",
        "l4_ip_access_rule.office",
        {"extra": ACL.format(sources='"192.0.2.5/24"', mark=MARK)},
        {"extra": ACL.format(sources='"192.0.2.0/24", "192.0.2.5", "2001:db8::/32"', mark="")},
    ),
    (
        "acl-garbage",
        "L4E018",
        "l4_ip_access_rule.office",
        {"extra": ACL.format(sources='"10.0.0.0/33"', mark=MARK)},
        {"extra": ACL.format(sources='"10.0.0.0/32"', mark="")},
    ),
    (
        "ddos-expired",
        "L4W001",
        "l4_site.main",
        {"site": 'ddos_protection {\n mode = "full"\n expires_at = "2026-12-31T23:00:00Z" # <-\n}'},
        {"site": 'ddos_protection {\n mode = "full"\n expires_at = "2027-06-30T00:00:00Z"\n}'},
    ),
    (
        "ddos-expires-soon",
        "L4W002",
        "l4_site.main",
        {"site": 'ddos_protection {\n mode = "full"\n expires_at = "2027-01-14T00:00:00Z" # <-\n}'},
        {"site": 'ddos_protection {\n mode = "full"\n expires_at = "2027-01-16T00:00:00Z"\n}'},
    ),
]


@pytest.mark.parametrize(
    ("code", "address", "failing", "passing"),
    [pytest.param(*case[1:], id=f"{case[1]}-{case[0]}") for case in CASES],
)
def test_code_fires_on_failing_config_and_not_on_neighbour(
    tmp_path: Path, code: str, address: str, failing: dict[str, str], passing: dict[str, str]
):
    text = build(**failing)
    found = diagnose(tmp_path / "failing", text)
    assert [(d.code, d.address, d.line) for d in found] == [(code, address, marked_line(text))]
    diag = found[0]
    assert diag.file == "main.l4.hcl" and diag.column >= 1
    assert diag.severity == ("warning" if code.startswith("L4W") else "error")
    assert diagnose(tmp_path / "passing", build(**passing)) == []


def test_every_constraint_code_has_a_case():
    codes = {case[1] for case in CASES}
    expected = {f"L4E{n:03}" for n in range(1, 15)} | {"L4E015", "L4E018", "L4W001", "L4W002"}
    assert expected <= codes


# -- messages ------------------------------------------------------------------------


def only(found: list[Diagnostic]) -> Diagnostic:
    assert len(found) == 1, found
    return found[0]


def test_rule_conflict_names_both_rules_and_first_shared_port(tmp_path: Path):
    rules = rule('"10-20"') + rule('"30"') + rule('"100"') + rule('"25-29,18"')
    diag = only(diagnose(tmp_path, build(rules=rules)))
    assert diag.code == "L4E004"
    assert "rule[0] and rule[3]" in diag.message and "tcp port 18" in diag.message
    # a second pair in the same application is its own diagnostic
    found = diagnose(tmp_path / "two", build(rules=rules + rule('"100-101"')))
    assert sorted(d.message.split(" both")[0] for d in found) == [
        "rule[0] and rule[3]",
        "rule[2] and rule[4]",
    ]


def test_listener_conflict_names_apps_agent_protocol_and_port(tmp_path: Path):
    text = build(rules=rule('"1000-2000"', protocol='"udp"'), extra=second_app(edge_port='"50"'))
    text = text.replace('edge_port   = "50"', 'edge_port   = "1500-1600"').replace(
        'protocol    = "tcp"\n    edge_port   = "1500',
        'protocol    = "udp"\n    edge_port   = "1500',
    )
    diag = only(diagnose(tmp_path, text))
    assert diag.code == "L4E013" and diag.address == "l4_application.other"
    for part in ('agent "hz1"', "udp port 1500", "l4_application.game", "play.example.com"):
        assert part in diag.message


def test_tcp_and_udp_on_one_port_do_not_conflict(tmp_path: Path):
    rules = rule('"53"') + rule('"53"', protocol='"udp"')
    assert diagnose(tmp_path, build(rules=rules, extra=second_app(edge_port='"54"'))) == []


def test_same_domain_names_both_applications(tmp_path: Path):
    diag = only(diagnose(tmp_path, build(extra=second_app(domain='"PLAY"'))))
    assert diag.code == "L4E012" and "l4_application.game" in diag.message


def test_port_error_column_points_at_the_bad_item(tmp_path: Path):
    text = build(rules=rule('"80, 90-85" # <-'))
    diag = only(diagnose(tmp_path, text))
    line = text.splitlines()[diag.line - 1]
    assert line[diag.column - 1 :].startswith("90-85")


def test_host_bits_message_offers_both_readings(tmp_path: Path):
    diag = only(diagnose(tmp_path, build(extra=ACL.format(sources='"192.0.2.5/24"', mark=""))))
    assert '"192.0.2.0/24"' in diag.message and '"192.0.2.5/32"' in diag.message


def test_load_balancer_domain_as_origin_gets_the_id_as_hint(tmp_path: Path):
    text = build(
        rules=rule(origin='"LB.example.com"').replace('"ip"', '"load_balancer"'),
        extra=LB.format(domain='"lb.example.com"', address='"10.0.0.5"'),
    )
    diag = only(diagnose(tmp_path, text))
    assert diag.code == "L4E014" and '"lb:lb.example.com"' in diag.message


def test_load_balancer_with_a_relative_domain_is_referenced_by_its_id(tmp_path: Path):
    text = build(
        rules=rule(origin="l4_load_balancer.pool.id").replace('"ip"', '"load_balancer"'),
        extra=LB.format(domain='"lb"', address='"10.0.0.5"'),
    )
    assert diagnose(tmp_path, text) == []
    # its domain is lb.example.com, which an application may then not use
    clash = text.replace('domain = "play"', 'domain = "lb"')
    diag = only(diagnose(tmp_path / "clash", clash))
    assert diag.code == "L4E011" and "l4_load_balancer.pool" in diag.message


def test_absolute_domain_with_a_trailing_dot(tmp_path: Path):
    assert diagnose(tmp_path, build(domain='"play.example.com."')) == []


def test_expired_protection_is_a_warning_not_l4e009(tmp_path: Path):
    site = 'ddos_protection {\n mode = "full"\n expires_at = "2020-01-01T00:00:00Z"\n}'
    diag = only(diagnose(tmp_path, build(site=site, app="keepalive_protection = true")))
    assert diag.code == "L4W001" and "l4_application.game" in diag.message


def test_for_each_instances_conflict_by_address(tmp_path: Path):
    extra = """
resource "l4_application" "regional" {
  for_each = toset(["eu", "us"])
  site     = l4_site.main.id
  domain   = each.key
  rule {
    protocol    = "tcp"
    edge_port   = "9000"
    origin_type = "ip"
    origin      = "10.0.0.3"
  }
}
"""
    diag = only(diagnose(tmp_path, build(extra=extra)))
    assert diag.code == "L4E013"
    assert {diag.address, diag.message.split(" which ")[1].split(" ")[0]} == {
        'l4_application.regional["eu"]',
        'l4_application.regional["us"]',
    }


def test_values_known_only_after_apply_are_not_checked(tmp_path: Path):
    unknown = "l4_site.main.revisions"
    origin = f'"${{{unknown}["b"]}}"'
    rules = rule(f'{unknown}["a"]', origin=origin, extra=f"origin_port = {unknown}")
    text = build(rules=rules, extra=second_app(edge_port=f'{unknown}["c"]'))
    config = load(tmp_path, text)
    game = config.resources["l4_application.game"].attrs["rule"][0]
    assert game["edge_port"] is UNKNOWN and game["origin"] is UNKNOWN
    assert check(config, now=NOW) == []
    # the same shapes with known, wrong values are reported
    bad = build(rules=rule('"80,,81"', origin='"10.0.0.1:80"', extra='origin_port = "1,2"'))
    assert {d.code for d in diagnose(tmp_path / "known", bad)} == {"L4E003", "L4E005", "L4E014"}


def test_health_check_durations_within_what_agents_accept(tmp_path: Path):
    def pool(interval: str) -> str:
        check = f'  health_check {{\n    interval = "{interval}" # <-\n  }}\n}}\n'
        return LB.format(domain='"lb"', address='"10.0.0.5"').rstrip().removesuffix("}") + check

    assert diagnose(tmp_path / "ok", build(extra=pool("100ms"))) == []
    text = build(extra=pool("50ms"))
    diag = only(diagnose(tmp_path / "bad", text))
    assert diag.code == "L4E016" and diag.address == "l4_load_balancer.pool"
    assert diag.line == marked_line(text) and "100ms" in diag.message
