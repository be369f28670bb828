"""Addresses and the pure state edits behind `state rm` / `state mv`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l4plan.states import StateError
from l4plan.states.addresses import instance_address, matches, parse_address
from l4plan.states.edits import move, remove
from tests.states.support import sample_state


@given(
    st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,10}", fullmatch=True),
    st.one_of(st.none(), st.integers(0, 10**6), st.text(max_size=12)),
)
def test_instance_addresses_parse_back(type_: str, name: str, key: int | str | None) -> None:
    address = parse_address(instance_address(type_, name, key))
    assert (address.type, address.name, address.key) == (type_, name, key)
    assert address.has_key == (key is not None)


@pytest.mark.parametrize("text", ["", "l4_site", "l4_site.", "L4.x", 'l4_site.a["x]', "a.b[-1]"])
def test_bad_addresses_are_refused(text: str) -> None:
    with pytest.raises(StateError, match="invalid resource address"):
        parse_address(text)


def test_a_resource_address_matches_its_instances_only() -> None:
    game = parse_address("l4_application.game")
    assert matches(game, 'l4_application.game["eu"]') and matches(game, "l4_application.game")
    assert not matches(game, "l4_application.games")
    assert not matches(parse_address("l4_application.game[0]"), "l4_application.game[1]")


def test_remove_needs_a_match_and_removes_each_address_once() -> None:
    state = sample_state(2)
    removed = remove(
        state, [parse_address("l4_application.game"), parse_address('l4_application.game["0"]')]
    )
    assert removed == ['l4_application.game["0"]', 'l4_application.game["1"]']
    assert list(state.resources) == ["l4_site.main"]
    with pytest.raises(StateError, match=r"no resource in the state matches l4_site\.other"):
        remove(state, [parse_address("l4_site.other")])


def test_move_follows_dependencies_and_keeps_order() -> None:
    state = sample_state(2)
    pairs = move(state, parse_address("l4_site.main"), parse_address("l4_site.home"))
    assert pairs == [("l4_site.main", "l4_site.home")]
    assert next(iter(state.resources)) == "l4_site.home"
    assert all(
        r.dependencies == ["l4_site.home"]
        for a, r in state.resources.items()
        if a.startswith("l4_application")
    )
    with pytest.raises(StateError, match="cannot move every instance"):
        move(state, parse_address("l4_application.game"), parse_address("l4_application.x[0]"))
