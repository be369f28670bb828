from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l4plan.plans.attrdiff import diff_attributes, match_blocks
from tests.plans.factory import rule

KEY = ("protocol", "edge_port")

_rules = st.lists(
    st.tuples(st.sampled_from(["tcp", "udp"]), st.integers(1, 65535), st.sampled_from(["a", "b"])),
    min_size=1,
    max_size=30,
    unique_by=lambda t: (t[0], t[1]),
).map(lambda ts: [rule(str(port), proto, origin=origin) for proto, port, origin in ts])

_fast = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _rule_kinds(before: list[dict], after: list[dict]) -> list[str]:
    diffs = diff_attributes("l4_application", {"rule": before}, {"rule": after})
    return [b.kind for b in diffs[0].blocks]


@_fast
@given(_rules, st.data())
def test_removing_one_rule_is_one_removal(rules: list[dict], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(rules) - 1))
    kinds = _rule_kinds(rules, rules[:i] + rules[i + 1 :])
    assert sorted(kinds) == ["delete"] + ["same"] * (len(rules) - 1)


@_fast
@given(_rules, st.randoms(use_true_random=False))
def test_any_order_of_the_same_rules_is_no_change(rules: list[dict], rnd) -> None:
    shuffled = list(rules)
    rnd.shuffle(shuffled)
    assert set(_rule_kinds(rules, shuffled)) == {"same"}
    diffs = diff_attributes("l4_application", {"rule": rules}, {"rule": shuffled})
    assert diffs[0].kind == "same"


@_fast
@given(_rules, st.data())
def test_editing_one_rule_is_one_in_place_change(rules: list[dict], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(rules) - 1))
    edited = [dict(r) for r in rules]
    edited[i]["comment"] = "edited"
    kinds = _rule_kinds(rules, edited)
    assert sorted(kinds) == ["same"] * (len(rules) - 1) + ["update"]


def test_pairs_cover_both_lists_once() -> None:
    before = [rule("1"), rule("2"), rule("3")]
    after = [rule("3"), rule("4"), rule("2", origin="x")]
    pairs = match_blocks(before, after, KEY)
    assert pairs == [(0, None), (2, 0), (None, 1), (1, 2)]
