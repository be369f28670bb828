"""l4plan and the agent enforce the same rules, each with its own implementation.

The agent is a separate distribution deployed without l4plan, so the rules both sides
check are written twice: duration syntax, hostname validity, the edge → origin port
mapping and the rule limit. Each test drives both implementations with the same
generated inputs and demands the same accept/refuse answer (and the same value, where
there is one). The decisions on where they used to disagree are in
docs/architecture.md, "Decisions".
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import assume, example, given
from hypothesis import strategies as st
from l4agent.control.schemas import validator
from l4agent.settings import parse_duration as agent_duration
from l4agent.spec import check_spec

from l4plan.configs.validation.names import hostname_problem, is_ip
from l4plan.configs.validation.ports import MAX_RULES
from l4plan.durations import parse_duration
from l4plan.ports import PortSyntaxError, mapping_problem, parse_origin_ports, parse_ports

RULE: dict[str, Any] = {
    "protocol": "tcp",
    "edge_ports": [[80, 80]],
    "origin_ports": None,
    "passthrough": "off",
    "origin": {
        "type": "domain",
        "steering": "weighted",
        "targets": [{"host": "origin.example.com", "weight": 1}],
        "health_check": None,
    },
    "comment": "",
}


def _spec(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"ipv6": False, "keepalive": False, "acl": None, "rules": list(rules)}


def _rule(**changes: Any) -> dict[str, Any]:
    rule = copy.deepcopy(RULE)
    rule.update({k: v for k, v in changes.items() if k != "host"})
    if "host" in changes:
        rule["origin"]["targets"][0]["host"] = changes["host"]
    return rule


def _agent_accepts(spec: dict[str, Any]) -> bool:
    if any(validator("app_spec.schema.json").iter_errors(spec)):
        return False
    return not check_spec(spec, "params.apps[0].spec")


# -- durations ------------------------------------------------------------------------

durations = st.one_of(
    st.from_regex(r"\A\s?[0-9]{1,4}(\.[0-9]{0,3})?(ms|s|m|h|us|d|S)?\s?\Z"),
    st.text(alphabet="0123456789.mshd -+e", max_size=8),
)


def _duration(parse: Any, text: str) -> float | None:
    try:
        return parse(text)
    except ValueError:
        return None


@given(durations)
@example("500ms")
@example("1.5m")
@example(" 30s ")
@example("1e3")
def test_durations_parse_alike(text: str) -> None:
    assert _duration(parse_duration, text) == _duration(agent_duration, text)


# -- hostnames ------------------------------------------------------------------------

labels = st.text(alphabet="aZ09-_", min_size=0, max_size=8) | st.sampled_from(
    ["a" * 63, "b" * 64, "123", "xn--bcher-kva"]
)
hostnames = st.lists(labels, min_size=1, max_size=6).map(".".join) | st.builds(
    lambda name, dot: name + dot, st.sampled_from(["a" * 63 + "." + "b" * 63] * 1), st.just(".")
)


@given(hostnames, st.booleans())
@example("my_origin.example.com", False)
@example("origin.example.com", True)
@example("a.123", False)
@example("-a.example.com", False)
@example(".".join(["a" * 63] * 3 + ["b" * 61]), True)
def test_hostnames_are_judged_alike(host: str, trailing_dot: bool) -> None:
    host += "." if trailing_dot else ""
    assume(not is_ip(host))  # an IP under origin_type "domain" is an origin-type rule
    l4plan_accepts = hostname_problem(host.removesuffix(".")) is None
    assert l4plan_accepts == _agent_accepts(_spec(_rule(host=host)))


# -- edge -> origin port mapping ------------------------------------------------------

ports = st.integers(min_value=1, max_value=40)
items = st.tuples(ports, st.integers(min_value=0, max_value=4)).map(lambda t: (t[0], t[0] + t[1]))


def _written(parts: list[tuple[int, int]]) -> str:
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in parts)


@given(st.lists(items, min_size=1, max_size=4), st.none() | items)
@example([(80, 80), (81, 82)], (5000, 5002))
@example([(80, 81)], (9000, 9001))
@example([(80, 80), (82, 82)], (9000, 9001))
def test_port_mappings_are_judged_alike(
    edge_items: list[tuple[int, int]], origin: tuple[int, int] | None
) -> None:
    try:
        edge = parse_ports(_written(edge_items))
    except PortSyntaxError:
        assume(False)  # overlapping items: L4E003, before any mapping
        raise
    l4plan_accepts = True
    if origin is not None:
        origin_ports = parse_origin_ports(_written([origin]))
        l4plan_accepts = mapping_problem(edge, origin_ports) is None
    rule = _rule(edge_ports=edge.to_spec(), origin_ports=list(origin) if origin else None)
    assert l4plan_accepts == _agent_accepts(_spec(rule))


# -- the rule limit -------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=MAX_RULES + 5))
@example(MAX_RULES)
@example(MAX_RULES + 1)
def test_rule_limit_is_the_same(count: int) -> None:
    rules = [_rule(edge_ports=[[1000 + i, 1000 + i]]) for i in range(count)]
    assert (1 <= count <= MAX_RULES) == _agent_accepts(_spec(*rules))
