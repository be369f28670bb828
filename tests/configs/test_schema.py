"""JSON Schemas of resources and agents, and their L4E016 diagnostics."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from l4plan.configs import load_config
from l4plan.configs.model import RESOURCE_TYPES, UNKNOWN, ResourceInstance
from l4plan.configs.validate import check
from l4plan.configs.validation.schema import SCHEMA_DIR, check_resource, load_schema, validator_for
from l4plan.diagnostics import Diagnostic, Pos

SCHEMA_NAMES = [*RESOURCE_TYPES, "agent"]


def object_nodes(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append((path, node))
        for key, value in node.items():
            found += object_nodes(value, f"{path}/{key}")
    return found


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schemas_are_strict_and_described(name: str):
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for path, node in object_nodes(schema):
        assert node.get("additionalProperties") is False, path
        for prop, sub in node["properties"].items():
            assert sub.get("description"), f"{path}/{prop} has no description"


def test_every_resource_type_has_a_schema_file():
    assert {p.name for p in SCHEMA_DIR.glob("*.schema.json")} == {
        f"{n}.schema.json" for n in SCHEMA_NAMES
    }


# -- HCL in, L4E016 out ----------------------------------------------------------------

HEAD = """
agent "hz1" {
  endpoint = "http://127.0.0.1:7700"
}
resource "l4_site" "main" {
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.hz1]
}
"""


def app(rule_body: str, attrs: str = "") -> str:
    return f"""
resource "l4_application" "game" {{
  site   = l4_site.main.id
  domain = "play"
  {attrs}
  rule {{
{rule_body}
  }}
}}
"""


GOOD_RULE = """    protocol    = "tcp"
    edge_port   = "80"
    origin_type = "ip"
    origin      = "10.0.0.1"
"""


def diagnose(tmp_path: Path, text: str) -> list[Diagnostic]:
    (tmp_path / "main.l4.hcl").write_text(text, encoding="utf-8")
    config = load_config(tmp_path)
    assert config.diagnostics == []
    return check(config)


def line_with(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_unknown_attribute_is_named_with_a_suggestion(tmp_path: Path):
    text = HEAD + app(GOOD_RULE + '    prot = "tcp"\n')
    [diag] = diagnose(tmp_path, text)
    assert diag.code == "L4E016" and diag.address == "l4_application.game"
    assert diag.message == 'unknown attribute "prot" in rule[0]; did you mean "protocol"?'
    assert (diag.line, diag.column) == (line_with(text, "prot ="), 5)


def test_missing_attribute_points_at_its_block(tmp_path: Path):
    text = HEAD + app(GOOD_RULE.replace('    origin_type = "ip"\n', ""))
    [diag] = diagnose(tmp_path, text)
    assert diag.message == 'missing required attribute "origin_type" in rule[0]'
    assert diag.line == line_with(text, "rule {")


def test_bad_enum_value_gets_the_choices_and_a_suggestion(tmp_path: Path):
    text = HEAD + app(GOOD_RULE.replace('"tcp"', '"tpc"'))
    [diag] = diagnose(tmp_path, text)
    assert (
        diag.message
        == 'rule[0].protocol must be one of "tcp", "udp", not "tpc"; did you mean "tcp"?'
    )
    assert diag.line == line_with(text, '"tpc"')


def test_wrong_type(tmp_path: Path):
    text = HEAD + app(GOOD_RULE, attrs='ipv6 = "yes"')
    [diag] = diagnose(tmp_path, text)
    assert diag.message == 'ipv6 must be a bool, not string "yes"'
    assert diag.line == line_with(text, "ipv6")


def test_number_ports_are_accepted(tmp_path: Path):
    text = HEAD + app(GOOD_RULE.replace('"80"', "80") + "    origin_port = 8080\n")
    assert diagnose(tmp_path, text) == []


def test_load_balancer_nested_blocks(tmp_path: Path):
    text = (
        HEAD
        + """
resource "l4_load_balancer" "pool" {
  site   = l4_site.main.id
  domain = "lb"
  origin {
    address = "10.0.0.5"
  }
  origin {
    address = "10.0.0.6"
    weight  = 300
  }
  health_check {
    interval = "5 seconds"
  }
}
"""
    )
    found = diagnose(tmp_path, text)
    assert [(d.message, d.line) for d in found] == [
        ("origin[1].weight must be at most 256, not 300", line_with(text, "weight")),
        (
            'health_check.interval must be a duration such as 500ms, 5s or 1m, not "5 seconds"',
            line_with(text, "interval"),
        ),
    ]


def test_site_name_and_ddos_block(tmp_path: Path):
    text = HEAD.replace('"example.com"', '"example"').replace(
        "agents = [agent.hz1]",
        'agents = [agent.hz1]\n  ddos_protection {\n    expires_at = "soon"\n  }',
    )
    found = diagnose(tmp_path, text)
    assert [d.message for d in found] == [
        'name must be a DNS zone such as example.com, not "example"',
        'missing required attribute "mode" in ddos_protection',
        "ddos_protection.expires_at must be an RFC 3339 timestamp such as"
        ' 2027-06-30T00:00:00Z, not "soon"',
    ]
    assert {d.address for d in found} == {"l4_site.main"}


def test_impossible_date_of_the_right_shape(tmp_path: Path):
    text = HEAD.replace(
        "agents = [agent.hz1]",
        'agents = [agent.hz1]\n  ddos_protection {\n    mode = "full"\n'
        '    expires_at = "2027-02-30T00:00:00Z"\n  }',
    )
    [diag] = diagnose(tmp_path, text)
    assert diag.code == "L4E016" and "not a real date" in diag.message
    assert diag.line == line_with(text, "expires_at")


def test_agent_block(tmp_path: Path):
    text = HEAD.replace(
        'endpoint = "http://127.0.0.1:7700"',
        'endpoint = "127.0.0.1:7700"\n  public_ipv4 = "::1"',
    )
    found = diagnose(tmp_path, text)
    assert [(d.address, d.line) for d in found] == [
        ("agent.hz1", line_with(text, "endpoint")),
        ("agent.hz1", line_with(text, "public_ipv4")),
    ]
    assert found[0].message.startswith("endpoint must be a URL such as")
    assert found[1].message == 'public_ipv4 must be an IPv4 address, not "::1"'


def test_a_rule_failing_its_schema_gets_no_constraint_errors(tmp_path: Path):
    # the bad port would be L4E003, but the rule already fails its schema
    text = HEAD + app(GOOD_RULE.replace('"80"', '"80,,81"') + "    colour = 1\n")
    assert [d.code for d in diagnose(tmp_path, text)] == ["L4E016"]


def test_other_rules_of_the_application_are_still_checked(tmp_path: Path):
    bad_rule = GOOD_RULE.replace('"80"', '"81"') + "    colour = 1\n"
    second = "  }\n  rule {\n" + GOOD_RULE.replace('"80"', '"90-80"')
    text = HEAD + app(bad_rule + second)
    found = diagnose(tmp_path, text)
    assert [(d.code, d.line) for d in found] == [
        ("L4E016", line_with(text, "colour")),
        ("L4E003", line_with(text, "90-80")),
    ]


def test_a_resource_failing_its_schema_gets_no_constraint_errors(tmp_path: Path):
    # the plan would be L4E001 and the port L4E003, but `ipv6` has the wrong type
    text = HEAD.replace('"enterprise"', '"basic"') + app(
        GOOD_RULE.replace('"80"', '"80,,81"'), attrs="ipv6 = 1"
    )
    assert [d.code for d in diagnose(tmp_path, text)] == ["L4E016"]


# -- values known only after apply -----------------------------------------------------

VALID_APP: dict[str, Any] = {
    "site": "example.com",
    "domain": "play",
    "id": "play.example.com",
    "agents": ["hz1"],
    "ipv6": False,
    "rule": [
        {
            "protocol": "tcp",
            "edge_port": "80",
            "origin_type": "ip",
            "origin": "10.0.0.1",
            "origin_port": "8080",
            "client_ip_passthrough": "off",
            "comment": "c",
        }
    ],
    "endpoints": UNKNOWN,
    "dns_records": UNKNOWN,
    "revisions": UNKNOWN,
}


def instance(attrs: dict[str, Any]) -> ResourceInstance:
    pos = Pos("main.l4.hcl", 1, 1)
    return ResourceInstance("l4_application.game", "l4_application", "game", None, attrs, pos)


def test_unknown_values_are_not_reported():
    attrs = copy.deepcopy(VALID_APP)
    attrs["site"] = UNKNOWN
    attrs["rule"][0]["protocol"] = UNKNOWN
    attrs["rule"][0]["edge_port"] = UNKNOWN
    assert check_resource(instance(attrs)) == []
    attrs["rule"][0]["commnet"] = "x"  # but known mistakes still are
    assert [d.message for d in check_resource(instance(attrs))] == [
        'unknown attribute "commnet" in rule[0]; did you mean "comment"?'
    ]


MUTATIONS = [
    ("protocol", "sctp"),
    ("protocol", 6),
    ("edge_port", True),
    ("edge_port", 80.0),
    ("edge_port", [80]),
    ("origin", None),
    ("origin_port", -1),
    ("client_ip_passthrough", "proxy_v3"),
    ("comment", "x" * 300),
    ("protcol", "tcp"),
]
TOP_MUTATIONS = [
    ("ipv6", "true"),
    ("ipv6", 1),
    ("agents", ["hz1", "hz1"]),
    ("agents", "hz1"),
    ("site", 3),
    ("keepalive_protection", None),
    ("rule", {}),
    ("extra", 1),
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(MUTATIONS), max_size=3),
    st.lists(st.sampled_from(TOP_MUTATIONS), max_size=2),
    st.lists(st.sampled_from([*VALID_APP["rule"][0], "site", "domain"]), max_size=2),
)
def test_fast_path_agrees_with_jsonschema(
    rule_changes: list[tuple[str, Any]],
    top_changes: list[tuple[str, Any]],
    removed: list[str],
):
    attrs = copy.deepcopy(VALID_APP)
    for key, value in rule_changes:
        attrs["rule"][0][key] = value
    for key, value in top_changes:
        attrs[key] = value
    for key in removed:
        attrs.pop(key, None)
        if isinstance(attrs.get("rule"), list):
            attrs["rule"][0].pop(key, None)
    known = {k: v for k, v in attrs.items() if v is not UNKNOWN}
    expected_valid = validator_for("l4_application").is_valid(json.loads(json.dumps(known)))
    assert (check_resource(instance(attrs)) == []) == expected_valid
