"""Resources: count/for_each expansion, meta-arguments, computed attributes, agents."""

from __future__ import annotations

import pytest

from l4plan.configs.model import UNKNOWN, Lifecycle
from tests.configs.support import errors

AGENTS = """
agent "hz1" {
  endpoint    = "http://127.0.0.1:7701"
  public_ipv4 = "198.51.100.1"
  public_ipv6 = "2001:db8::1"
}
agent "hz2" {
  endpoint    = "http://127.0.0.1:7702"
  public_ipv4 = "198.51.100.2"
}
resource "l4_site" "main" {
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.hz1, agent.hz2]
}
"""


def app(name: str, body: str) -> str:
    return f'resource "l4_application" "{name}" {{\n  site = l4_site.main.id\n{body}}}\n'


RULE = '  rule {\n    protocol = "tcp"\n    edge_port = "80"\n    origin = "10.0.0.1"\n  }\n'


def test_count_gives_indexed_instances(load):
    config = load(
        AGENTS
        + app("game", '  count = 3\n  domain = "g${count.index}"\n' + RULE)
        + 'output "ids" {\n  value = l4_application.game[*].id\n}\n'
        + 'output "second" {\n  value = l4_application.game[1].domain\n}\n'
    )
    assert config.diagnostics == []
    addresses = [a for a in config.resources if a.startswith("l4_application")]
    assert addresses == [
        "l4_application.game[0]",
        "l4_application.game[1]",
        "l4_application.game[2]",
    ]
    first = config.resources["l4_application.game[0]"]
    assert (first.key, first.name, first.resource_address) == (0, "game", "l4_application.game")
    assert config.outputs["ids"].value == [
        "g0.example.com",
        "g1.example.com",
        "g2.example.com",
    ]
    assert config.outputs["second"].value == "g1"


def test_count_zero_gives_no_instance(load):
    config = load(
        AGENTS
        + app("game", '  count = 0\n  domain = "g"\n' + RULE)
        + 'output "n" {\n  value = length(l4_application.game)\n}\n'
    )
    assert config.diagnostics == []
    assert config.outputs["n"].value == 0
    assert not config.of_type("l4_application")


def test_for_each_map_and_set_give_keyed_instances(load):
    config = load(
        AGENTS
        + "locals {\n  ports = { eu = 80, us = 81 }\n}\n"
        + app(
            "game",
            "  for_each = local.ports\n  domain = each.key\n"
            '  rule {\n    protocol = "tcp"\n    edge_port = tostring(each.value)\n'
            '    origin = "10.0.0.1"\n  }\n',
        )
        + app("other", '  for_each = toset(["b", "a"])\n  domain = "o-${each.value}"\n' + RULE)
        + 'output "eu" {\n  value = l4_application.game["eu"].rule[0].edge_port\n}\n'
        + 'output "keys" {\n  value = keys(l4_application.other)\n}\n'
    )
    assert config.diagnostics == []
    assert [r.address for r in config.of_type("l4_application")] == [
        'l4_application.game["eu"]',
        'l4_application.game["us"]',
        'l4_application.other["a"]',
        'l4_application.other["b"]',
    ]
    us = config.resources['l4_application.game["us"]']
    assert us.key == "us"
    assert us.attrs["rule"][0]["edge_port"] == "81"
    assert us.attrs["id"] == "us.example.com"
    assert config.outputs["eu"].value == "80"
    assert config.outputs["keys"].value == ["a", "b"]


def test_expanded_access_rule_ids_carry_the_key(load):
    config = load(
        AGENTS
        + 'resource "l4_ip_access_rule" "office" {\n  for_each = toset(["hq", "lab"])\n'
        + '  site = l4_site.main.id\n  priority = 1\n  action = "allow"\n  sources = []\n}\n'
        + 'resource "l4_ip_access_rule" "n" {\n  count = 1\n'
        + '  site = l4_site.main.id\n  priority = 1\n  action = "allow"\n  sources = []\n}\n'
        + 'resource "l4_ip_access_rule" "single" {\n'
        + '  site = l4_site.main.id\n  priority = 1\n  action = "allow"\n  sources = []\n}\n'
    )
    assert config.diagnostics == []
    ids = [r.attrs["id"] for r in config.of_type("l4_ip_access_rule")]
    assert ids == [
        'acl:example.com:office["hq"]',
        'acl:example.com:office["lab"]',
        "acl:example.com:n[0]",
        "acl:example.com:single",
    ]


@pytest.mark.parametrize(
    ("meta", "needle"),
    [
        ("  count = 1\n  for_each = {}\n", "count and for_each cannot both be set"),
        ("  count = -1\n", "count must be a whole number of 0 or more, got -1"),
        ("  count = 1.5\n", "got 1.5"),
        ('  count = "two"\n', 'got string "two"'),
        ("  count = l4_site.main.revisions\n", "count depends on values known only after apply"),
        ("  for_each = [1, 2]\n", "for_each must be a map or a set of strings, got list"),
        ('  for_each = "x"\n', 'got string "x"'),
        ('  for_each = ["a", "a"]\n', 'duplicate keys ("a"); wrap the list in toset()'),
        ("  for_each = l4_site.main.revisions\n", "its keys must be known at plan time"),
    ],
)
def test_meta_argument_misuse_is_l4e016(load, meta, needle):
    config = load(AGENTS + app("game", meta + '  domain = "g"\n' + RULE))
    assert [(d.code, d.address) for d in config.diagnostics] == [("L4E016", "l4_application.game")]
    assert needle in config.diagnostics[0].message
    both = "count" in meta and "for_each" in meta  # reported at for_each, the second line
    assert config.diagnostics[0].line == AGENTS.count("\n") + 3 + both


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("  domain = count.index\n", "count.index is only available in a resource that sets count"),
        ("  domain = each.key\n", "each.key is only available in a resource that sets for_each"),
        ("  count = 1\n  domain = count.nope\n", 'count has only count.index, not "nope"'),
        ("  for_each = {}\n  domain = each.nope\n", "each has only each.key and each.value"),
    ],
)
def test_count_and_each_outside_their_resource(load, body, needle):
    config = load(AGENTS + app("game", body + RULE))
    assert [d.code for d in config.diagnostics] == ["L4E015"]
    assert needle in config.diagnostics[0].message


def test_depends_on_references_and_instance_dependencies(load):
    config = load(
        AGENTS
        + 'resource "l4_load_balancer" "pool" {\n  count = 2\n  site = l4_site.main.id\n'
        + '  domain = "lb${count.index}.example.com"\n}\n'
        + "locals {\n  lb = l4_load_balancer.pool[1].id\n}\n"
        + app("a", '  domain = "a"\n  depends_on = [l4_load_balancer.pool]\n' + RULE)
        + app("b", "  domain = local.lb\n" + RULE)
        + app(
            "c",
            '  domain = "c"\n  depends_on = [l4_application.a, l4_load_balancer.pool[0]]\n' + RULE,
        )
    )
    assert config.diagnostics == []
    deps = {r.address: r.depends_on for r in config.of_type("l4_application")}
    assert deps == {
        "l4_application.a": [
            "l4_site.main",
            "l4_load_balancer.pool[0]",
            "l4_load_balancer.pool[1]",
        ],
        "l4_application.b": ["l4_site.main", "l4_load_balancer.pool[1]"],
        "l4_application.c": ["l4_site.main", "l4_application.a", "l4_load_balancer.pool[0]"],
    }
    assert "depends_on" not in config.resources["l4_application.a"].attrs


def test_depends_on_strings_are_rejected(load):
    config = load(AGENTS + app("a", '  domain = "a"\n  depends_on = ["l4_site.main"]\n' + RULE))
    assert [d.code for d in config.diagnostics] == ["L4E016"]
    assert 'replace "l4_site.main"' in config.diagnostics[0].message


def test_lifecycle(load):
    config = load(
        AGENTS
        + app(
            "a",
            '  domain = "a"\n  lifecycle {\n    prevent_destroy = true\n'
            "    create_before_destroy = true\n    ignore_changes = [rule, ddos_protection.mode]\n"
            "  }\n" + RULE,
        )
        + app("b", '  domain = "b"\n  lifecycle {\n    ignore_changes = all\n  }\n' + RULE)
    )
    assert config.diagnostics == []
    assert config.resources["l4_application.a"].lifecycle == Lifecycle(
        prevent_destroy=True,
        create_before_destroy=True,
        ignore_changes=["rule", "ddos_protection.mode"],
    )
    assert config.resources["l4_application.b"].lifecycle.ignore_changes == ["*"]
    assert "lifecycle" not in config.resources["l4_application.a"].attrs


@pytest.mark.parametrize(
    ("lifecycle", "needle"),
    [
        ("    prevent_destroi = true\n", 'unknown attribute "prevent_destroi" in lifecycle'),
        ('    prevent_destroy = "maybe"\n', "a bool is required"),
        ("    prevent_destroy = l4_site.main.plan\n", "can use only literal values and variables"),
        ("    ignore_changes = rule\n", "must be a list of attribute names"),
        ("    ignore_changes = [upper(rule)]\n", "entries are attribute names"),
    ],
)
def test_lifecycle_problems(load, lifecycle, needle):
    config = load(
        'variable "x" {\n  default = true\n}\n'
        + AGENTS
        + app("a", f'  domain = "a"\n  lifecycle {{\n{lifecycle}  }}\n' + RULE)
    )
    assert [d.code for d in config.diagnostics] == ["L4E016"], config.diagnostics
    assert needle in config.diagnostics[0].message


def test_prevent_destroy_from_a_variable(load):
    config = load(
        'variable "keep" {\n  default = true\n}\n'
        + AGENTS
        + app("a", '  domain = "a"\n  lifecycle {\n    prevent_destroy = var.keep\n  }\n' + RULE)
    )
    assert config.diagnostics == []
    assert config.resources["l4_application.a"].lifecycle.prevent_destroy is True


def test_nested_blocks_and_attribute_positions(load):
    config = load(
        AGENTS
        + 'resource "l4_load_balancer" "lb" {\n'  # line 16
        + "  site = l4_site.main.id\n"
        + '  domain = "lb.example.com"\n'
        + '  origin {\n    address = "10.0.0.1"\n  }\n'  # 19-21
        + '  origin {\n    address = "10.0.0.2"\n    weight = 2\n  }\n'  # 22-25
        + '  health_check {\n    interval = "5s"\n  }\n'  # 26-28
        + "}\n"
    )
    assert config.diagnostics == []
    lb = config.resources["l4_load_balancer.lb"]
    assert lb.attrs["origin"] == [{"address": "10.0.0.1"}, {"address": "10.0.0.2", "weight": 2}]
    assert lb.attrs["health_check"] == {"interval": "5s"}
    assert lb.attrs["id"] == "lb:lb.example.com"
    assert (lb.pos.line, lb.pos.column) == (16, 1)
    lines = {path: pos.line for path, pos in lb.attr_pos.items()}
    assert lines == {
        "site": 17,
        "domain": 18,
        "origin.0": 19,
        "origin.0.address": 20,
        "origin.1": 22,
        "origin.1.address": 23,
        "origin.1.weight": 24,
        "health_check": 26,
        "health_check.interval": 27,
    }
    assert lb.pos_of("origin.1.weight.x").line == 24
    assert lb.pos_of("nothing") == lb.pos


def test_single_block_twice_is_l4e016(load):
    config = load(
        'resource "l4_site" "x" {\n  name = "a"\n  ddos_protection {\n  }\n'
        "  ddos_protection {\n  }\n}\n"
    )
    assert errors(config) == [("L4E016", "main.l4.hcl", 5, 3)]


def test_unknown_blocks_are_kept_for_the_schema_check(load):
    config = load('resource "l4_site" "x" {\n  name = "a"\n  bogus {\n    a = 1\n  }\n}\n')
    assert config.diagnostics == []
    assert config.resources["l4_site.x"].attrs["bogus"] == [{"a": 1}]


# ---- computed attributes


def test_application_fqdn_endpoints_and_dns_records(load):
    config = load(
        AGENTS
        + app(
            "v6",
            '  domain = "Play"\n  ipv6 = true\n  agents = [agent.hz1]\n'
            + RULE
            + '  rule {\n    protocol = "udp"\n    edge_port = "7000-7100"\n'
            '    origin = "10.0.0.1"\n  }\n',
        )
        + app("v4", '  domain = "v4.example.com."\n' + RULE)
        + 'output "endpoints" {\n  value = l4_application.v6.endpoints\n}\n'
    )
    assert config.diagnostics == []
    v6 = config.resources["l4_application.v6"].attrs
    assert v6["id"] == "play.example.com"
    assert v6["agents"] == ["hz1"]
    assert v6["endpoints"] == [
        {"protocol": "tcp", "address": "198.51.100.1", "ports": "80"},
        {"protocol": "tcp", "address": "2001:db8::1", "ports": "80"},
        {"protocol": "udp", "address": "198.51.100.1", "ports": "7000-7100"},
        {"protocol": "udp", "address": "2001:db8::1", "ports": "7000-7100"},
    ]
    assert v6["dns_records"] == [
        {"type": "A", "name": "play.example.com", "value": "198.51.100.1"},
        {"type": "AAAA", "name": "play.example.com", "value": "2001:db8::1"},
    ]
    assert config.outputs["endpoints"].value == v6["endpoints"]
    v4 = config.resources["l4_application.v4"].attrs
    assert v4["id"] == "v4.example.com"
    assert v4["agents"] == ["hz1", "hz2"]  # the site's agents
    assert v4["dns_records"] == [
        {"type": "A", "name": "v4.example.com", "value": "198.51.100.1"},
        {"type": "A", "name": "v4.example.com", "value": "198.51.100.2"},
    ]
    assert [e["address"] for e in v4["endpoints"]] == ["198.51.100.1", "198.51.100.2"]


def test_site_given_as_a_plain_string_still_provides_its_agents(load):
    config = load(
        AGENTS
        + 'resource "l4_application" "a" {\n  site = "example.com"\n  domain = "a"\n'
        + RULE
        + "}\n"
    )
    assert config.diagnostics == []
    app = config.resources["l4_application.a"]
    assert app.attrs["agents"] == ["hz1", "hz2"]
    assert app.depends_on == []


def test_computed_attributes_are_unknown_when_inputs_are(load):
    config = load(
        AGENTS
        + app("a", "  domain = l4_site.main.revisions\n" + RULE)
        + app(
            "b",
            '  domain = "b"\n  rule {\n    protocol = "tcp"\n'
            '    edge_port = l4_site.main.revisions\n    origin = "x"\n  }\n',
        )
    )
    assert config.diagnostics == []
    a = config.resources["l4_application.a"].attrs
    assert (a["id"], a["dns_records"]) == (UNKNOWN, UNKNOWN)
    assert a["endpoints"] != UNKNOWN  # rules and agents are known
    b = config.resources["l4_application.b"].attrs
    assert b["endpoints"] is UNKNOWN
    assert b["dns_records"] != UNKNOWN


def test_agent_references(load):
    config = load(
        AGENTS
        + 'output "ip" {\n  value = agent.hz1.public_ipv4\n}\n'
        + 'output "name" {\n  value = "${agent.hz2}"\n}\n'
        + 'output "none" {\n  value = agent.hz2.public_ipv6\n}\n'
    )
    assert config.diagnostics == []
    assert config.outputs["ip"].value == "198.51.100.1"
    assert config.outputs["name"].value == "hz2"
    assert config.outputs["none"].value is None
    site = config.resources["l4_site.main"]
    assert site.attrs["agents"] == ["hz1", "hz2"]
    assert type(site.attrs["agents"][0]) is str
    hz1 = config.agents["hz1"]
    assert (hz1.endpoint, hz1.public_ipv6, hz1.token) == (
        "http://127.0.0.1:7701",
        "2001:db8::1",
        None,
    )
    assert hz1.attr_pos["public_ipv4"].line == 4


def test_agent_block_problems(load):
    config = load(
        'agent "a" {\n  endpoint = "http://127.0.0.1:1"\n  tokn = "x"\n  tls {\n  }\n}\n'
        'output "o" {\n  value = agent.b\n}\n'
    )
    assert [(d.code, d.line) for d in config.diagnostics] == [
        ("L4E016", 3),
        ("L4E016", 4),
        ("L4E015", 8),
    ]
    assert 'did you mean "token"?' in config.diagnostics[0].message


def test_referenced_resource_attributes_and_unset_schema_attributes(load):
    config = load(
        AGENTS
        + 'output "plan" {\n  value = l4_site.main.plan\n}\n'
        + 'output "unset" {\n  value = l4_site.main.l7_domains\n}\n'
        + 'output "typo" {\n  value = l4_site.main.plna\n}\n'
    )
    assert [(d.code, d.address, d.line, d.column) for d in config.diagnostics] == [
        ("L4E015", "output.typo", 23, 24)
    ]
    assert 'l4_site.main has no attribute "plna"; did you mean "plan"?' in (
        config.diagnostics[0].message
    )
    assert config.outputs["plan"].value == "enterprise"
    assert config.outputs["unset"].value is None


def test_load_balancer_id_qualifies_a_relative_domain(load):
    config = load(
        AGENTS
        + 'resource "l4_load_balancer" "lb" {\n'
        + "  site = l4_site.main.id\n"
        + '  domain = "pool"\n'
        + '  origin {\n    address = "10.0.0.1"\n  }\n'
        + "}\n"
    )
    assert config.diagnostics == []
    # the same id an application's origin = l4_load_balancer.lb.id refers to
    assert config.resources["l4_load_balancer.lb"].attrs["id"] == "lb:pool.example.com"
