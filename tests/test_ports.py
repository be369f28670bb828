"""The port-expression grammar: parsing, printing, errors, overlap and mapping rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l4plan.ports import (
    MAX_PORT,
    PortSet,
    PortSyntaxError,
    mapping_problem,
    overlap,
    parse_origin_ports,
    parse_ports,
)


def ports_of(ps: PortSet) -> set[int]:
    return {p for lo, hi in ps.ranges for p in range(lo, hi + 1)}


@pytest.mark.parametrize(
    ("text", "canonical", "spec"),
    [
        ("80", "80", [[80, 80]]),
        ("80,81,82,100-200", "80-82,100-200", [[80, 82], [100, 200]]),
        (" 443 , 80 ", "80,443", [[80, 80], [443, 443]]),
        ("8000 - 8010", "8000-8010", [[8000, 8010]]),
        ("1-65535", "1-65535", [[1, 65535]]),
        ("90-90", "90", [[90, 90]]),
    ],
)
def test_parses_and_prints_canonical_form(text: str, canonical: str, spec: list[list[int]]):
    ps = parse_ports(text)
    assert str(ps) == canonical
    assert ps.to_spec() == spec


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("", 1, "empty port expression"),
        ("80,,81", 4, "empty item at column 4"),
        ("80,", 4, "empty item at column 4"),
        ("http", 1, '"http" at column 1 is not a port'),
        ("80-", 1, '"80-" at column 1 is not a port'),
        ("80, 9x", 5, '"9x" at column 5'),
        ("0", 1, "port 0"),
        ("100,70000", 5, "port 70000"),
        ("200-100", 1, "write 100-200"),
        ("80-90,85", 7, 'item "85" at column 7 overlaps item "80-90" (port 85)'),
        ("85,80-90", 4, 'item "80-90" at column 4 overlaps item "85" (port 85)'),
        ("10-20, 30, 20-25", 12, "(port 20)"),
        ("٨٠", 1, "is not a port"),
    ],
)
def test_errors_name_the_item_and_column(text: str, column: int, fragment: str):
    with pytest.raises(PortSyntaxError) as err:
        parse_ports(text)
    assert err.value.column == column
    assert fragment in err.value.message


def test_whole_numbers_are_single_ports_and_bools_are_not():
    assert parse_ports(8080) == parse_ports("8080")
    assert parse_ports(8080.0) == parse_ports("8080")
    with pytest.raises(PortSyntaxError):
        parse_ports(True)


def test_kind_follows_the_ports_not_the_spelling():
    assert parse_ports("80").is_single and not parse_ports("80").is_range
    assert parse_ports("80-80").is_single
    assert parse_ports("80-90").is_range and not parse_ports("80-90").is_single
    listed = parse_ports("80,81,82")
    assert listed.is_range and listed == parse_ports("80-82")
    assert listed.items != parse_ports("80-82").items  # the spelling is kept
    gapped = parse_ports("80,82")
    assert not gapped.is_range and not gapped.is_single
    assert listed.count == 3 and 81 in listed and 83 not in listed and "81" not in listed


def test_origin_port_is_one_item():
    assert parse_origin_ports("5000-5010").is_range
    with pytest.raises(PortSyntaxError, match="has 2 items"):
        parse_origin_ports("5000,5001")


@pytest.mark.parametrize(
    ("edge", "origin", "ok"),
    [
        ("80", "8080", True),
        ("80", "8000-8010", True),  # hash of the client address picks the port
        ("3000-4000", "5000-6000", True),  # offset mapping
        ("3000-4000", "5000", True),
        ("3000-4000", "5000-5999", False),
        ("80,443", "8080", True),
        ("80,443", "8000-8001", False),
        ("80,81", "9000-9001", True),  # contiguous: offset, as the agent sees it
        ("80,81-82", "5000-5002", True),
        ("80,82", "9000-9001", False),  # a gap: a list
    ],
)
def test_mapping_rules(edge: str, origin: str, ok: bool):
    problem = mapping_problem(parse_ports(edge), parse_origin_ports(origin))
    assert (problem is None) == ok


# -- properties ---------------------------------------------------------------------

ports = st.integers(min_value=1, max_value=MAX_PORT)
items = st.tuples(ports, ports).map(lambda t: (min(t), max(t)))


@st.composite
def disjoint_items(draw: st.DrawFn) -> list[tuple[int, int]]:
    """Non-overlapping items in any order (what a valid expression may hold)."""
    chosen: list[tuple[int, int]] = []
    for lo, hi in draw(st.lists(items, min_size=1, max_size=8)):
        if all(hi < a or lo > b for a, b in chosen):
            chosen.append((lo, hi))
    return chosen


def write(chunks: list[tuple[int, int]], spaced: bool) -> str:
    sep = ", " if spaced else ","
    return sep.join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in chunks)


@given(disjoint_items(), st.booleans())
def test_print_parse_round_trip(chunks: list[tuple[int, int]], spaced: bool):
    ps = parse_ports(write(chunks, spaced))
    assert ports_of(ps) == {p for lo, hi in chunks for p in range(lo, hi + 1)}
    again = parse_ports(str(ps))
    assert again == ps
    assert str(again) == str(ps)
    assert ps.count == len(ports_of(ps))


@given(st.lists(items, min_size=2, max_size=6))
def test_overlapping_items_are_rejected_exactly_when_they_overlap(chunks: list[tuple[int, int]]):
    sets = [set(range(lo, hi + 1)) for lo, hi in chunks]
    overlaps = any(sets[i] & sets[j] for i in range(len(sets)) for j in range(i))
    text = write(chunks, spaced=False)
    if overlaps:
        with pytest.raises(PortSyntaxError, match="overlaps"):
            parse_ports(text)
    else:
        assert ports_of(parse_ports(text)) == set().union(*sets)


@st.composite
def small_port_sets(draw: st.DrawFn) -> PortSet:
    small = st.integers(min_value=1, max_value=300)
    chunks: list[tuple[int, int]] = []
    for lo, hi in draw(st.lists(st.tuples(small, small), min_size=1, max_size=6)):
        lo, hi = min(lo, hi), max(lo, hi)
        if all(hi < a or lo > b for a, b in chunks):
            chunks.append((lo, hi))
    return parse_ports(write(chunks, spaced=False))


@settings(max_examples=300)
@given(small_port_sets(), small_port_sets())
def test_overlap_agrees_with_brute_force(a: PortSet, b: PortSet):
    shared = ports_of(a) & ports_of(b)
    assert overlap(a, b) == (min(shared) if shared else None)
    assert overlap(b, a) == overlap(a, b)
