"""The interval sweep behind L4E004 and L4E013 agrees with brute-force set comparison."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from l4plan.configs.validation.ports import first_shared_ports

small = st.integers(min_value=1, max_value=200)
interval = st.tuples(small, small, st.integers(min_value=0, max_value=5))


@settings(max_examples=400)
@given(st.lists(interval, max_size=25))
def test_sweep_matches_brute_force(raw: list[tuple[int, int, int]]):
    intervals = [(min(a, b), max(a, b), owner, i) for i, (a, b, owner) in enumerate(raw)]
    ports: dict[int, set[int]] = {}
    for lo, hi, owner, _ in intervals:
        ports.setdefault(owner, set()).update(range(lo, hi + 1))
    expected = {}
    for a in ports:
        for b in ports:
            if a < b and ports[a] & ports[b]:
                expected[frozenset((a, b))] = min(ports[a] & ports[b])

    found = first_shared_ports(intervals)

    assert {frozenset((x[0], y[0])): port for x, y, port in found} == expected
    assert len(found) == len(expected)  # each pair once
    for (owner_a, tag_a), (owner_b, tag_b), port in found:
        for owner, tag in ((owner_a, tag_a), (owner_b, tag_b)):
            lo, hi, tag_owner, _ = intervals[tag]
            assert tag_owner == owner and lo <= port <= hi  # the tag names a range holding it


def test_many_disjoint_ranges_are_quick():
    intervals = [(i * 3, i * 3 + 1, i % 1000, i) for i in range(30000)]
    assert first_shared_ports(intervals) == []
