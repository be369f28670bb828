"""A diagnostic about a value points at the value, and one about a list element at it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from l4plan.configs.validate import check

NOW = datetime(2027, 1, 1, tzinfo=UTC)

SITE = """resource "l4_site" "main" {
  name = "example.com"
  plan = "enterprise"
  agents = [agent.hz1]
}
"""
AGENT = """agent "hz1" {
  endpoint    = "http://127.0.0.1:7700"
  public_ipv4 = "127.0.0.1"
}
"""


def rule(edge_port: str = '"80"', origin: str = '"10.0.0.1"', origin_type: str = '"ip"') -> str:
    return (
        "  rule {\n"
        '    protocol    = "tcp"\n'
        f"    edge_port   = {edge_port}\n"
        f"    origin_type = {origin_type}\n"
        f"    origin      = {origin}\n"
        "  }\n"
    )


def app(domain: str = '"play"', rules: str = "") -> str:
    return (
        'resource "l4_application" "game" {\n'
        "  site   = l4_site.main.id\n"
        f"  domain = {domain}\n"
        f"{rules or rule()}"
        "}\n"
    )


def where(load, text: str) -> list[tuple[str, int, int]]:
    config = load(text + AGENT)
    assert config.diagnostics == [], config.diagnostics
    return [(d.code, d.line, d.column) for d in check(config, now=NOW)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # L4E010: the domain value on line 8, column 12
        (SITE + app(domain='"pl_ay"'), [("L4E010", 8, 12)]),
        # L4E004: the second rule's edge_port value (line 17, column 19)
        (SITE + app(rules=rule('"80-90"') + rule('"85"')), [("L4E004", 17, 19)]),
        # L4E014: the origin value of the rule (line 13, column 19)
        (SITE + app(rules=rule(origin='"not an address"')), [("L4E014", 13, 19)]),
        # L4E016 (schema): the value of the attribute, not its name
        (SITE + app(rules=rule(edge_port="true")), [("L4E016", 11, 19)]),
    ],
)
def test_value_problems_point_at_the_value(load, text, expected):
    assert where(load, text) == expected


def test_access_rule_problem_points_at_the_list_element(load):
    text = SITE + (
        'resource "l4_ip_access_rule" "office" {\n'
        "  site     = l4_site.main.id\n"
        "  priority = 10\n"
        '  action   = "allow"\n'
        '  sources  = ["192.0.2.0/24", "192.0.2.5/24"]\n'
        "}\n"
    )
    assert where(load, text) == [("L4E018", 10, 31)]


def test_list_element_positions_follow_multi_line_lists(load):
    text = SITE + (
        'resource "l4_ip_access_rule" "office" {\n'
        "  site     = l4_site.main.id\n"
        "  priority = 10\n"
        '  action   = "allow"\n'
        "  sources  = [\n"
        '    "192.0.2.0/24",\n'
        '    "10.0.0.0/33",\n'
        "  ]\n"
        "}\n"
    )
    assert where(load, text) == [("L4E018", 12, 5)]
