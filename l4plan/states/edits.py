"""Edits behind `state rm` and `state mv`: pure functions over a State."""

from __future__ import annotations

from dataclasses import replace

from l4plan.states.addresses import Address, instance_address, matches
from l4plan.states.errors import StateError
from l4plan.states.model import State


def remove(state: State, patterns: list[Address]) -> list[str]:
    """Forget the matching resources (nothing is destroyed); returns the removed addresses."""
    removed = []
    for pattern in patterns:
        found = [a for a in state.resources if matches(pattern, a)]
        if not found:
            raise StateError(f"no resource in the state matches {pattern}")
        removed.extend(a for a in found if a not in removed)
    for address in removed:
        del state.resources[address]
    return removed


def move(state: State, source: Address, destination: Address) -> list[tuple[str, str]]:
    """Rename resources in the state; returns (old, new) address pairs.

    TYPE.NAME moves every instance, keeping keys (the destination must be TYPE.NAME);
    TYPE.NAME[KEY] moves one instance to any instance address. Types must match, the
    destination must be free, and other resources' dependencies follow the move.
    """
    if source.type != destination.type:
        raise StateError(
            f"cannot move {source} to {destination}: a resource keeps its type "
            f"({source.type} is not {destination.type})"
        )
    found = [a for a in state.resources if matches(source, a)]
    if not found:
        raise StateError(f"no resource in the state matches {source}")
    one_instance = source.has_key or found == [source.resource]
    if not one_instance and destination.has_key:
        raise StateError(
            f"cannot move every instance of {source} into the single instance {destination}; "
            "move one instance (TYPE.NAME[KEY]) or give TYPE.NAME as the destination"
        )
    keys = {
        old: destination.key if one_instance else state.resources[old].index_key for old in found
    }
    renames = {
        old: instance_address(destination.type, destination.name, keys[old]) for old in found
    }
    for old, new in renames.items():
        if new in state.resources and new not in renames:
            raise StateError(f"cannot move {old} to {new}: {new} already exists in the state")
    resources = {}
    for address, resource in state.resources.items():
        if address in renames:
            new = renames[address]
            resource = replace(
                resource, address=new, name=destination.name, index_key=keys[address]
            )
            address = new
        resource.dependencies = [renames.get(d, d) for d in resource.dependencies]
        resources[address] = resource
    state.resources = resources
    return list(renames.items())
