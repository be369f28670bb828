from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l4plan.configs.model import UNKNOWN
from l4plan.plans.values import (
    covered,
    format_path,
    from_mirror,
    parse_path,
    replace_at,
    to_mirror,
    unknown_mirror,
    unknown_paths,
    with_unknowns,
)

_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.just(UNKNOWN))
_values = st.recursive(
    _leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text("abc_", min_size=1, max_size=4), children, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text("abc_", min_size=1, max_size=4), _values, max_size=5))
def test_unknowns_survive_the_json_round_trip(value: dict[str, Any]) -> None:
    paths = unknown_paths(value)
    nulled = replace_at(value, paths, None)
    assert unknown_paths(nulled) == []
    mirror = unknown_mirror(value) or {}
    assert from_mirror(mirror) == set(paths)
    assert with_unknowns(nulled, from_mirror(mirror)) == value
    assert from_mirror(to_mirror(paths)) == set(paths)


def test_paths() -> None:
    assert parse_path("rule.0.origin") == ("rule", 0, "origin")
    assert parse_path("rule[3].origin") == ("rule", 3, "origin")
    assert parse_path('tags["x"]') == ("tags", "x")
    assert format_path(("rule", 3, "origin")) == "rule[3].origin"
    assert covered({("rule",)}, ("rule", 0, "origin"))
    assert not covered({("rule", 1)}, ("rule", 0, "origin"))


def test_mirror_shapes() -> None:
    assert to_mirror([("rule", 1, "origin")]) == {"rule": [False, {"origin": True}]}
    assert to_mirror([("a",), ("a", "b")]) == {"a": True}
    assert unknown_mirror({"a": 1, "b": [1, UNKNOWN]}) == {"b": [False, True]}
    assert unknown_mirror({"a": 1}) is False
