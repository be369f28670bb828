"""Copying state between backends (`l4plan init --migrate-state`), every workspace.

A copy keeps lineage and serial. It refuses, changing nothing, when the destination
holds a state of a different lineage, a newer serial of the same lineage, or a
different state with the same serial, unless `force_copy` (then the source wins; a
forced copy over a newer serial of the same lineage gets the next serial, so readers
see the change).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import dataclass

from l4plan.states.backend import Backend
from l4plan.states.errors import StateError
from l4plan.states.model import State
from l4plan.states.workspaces import DEFAULT_WORKSPACE

Opener = Callable[[str], Backend]  # workspace name -> backend of that workspace


@dataclass(slots=True)
class Migrated:
    workspace: str
    outcome: str  # "copied", "already there", "no state", "forced"
    serial: int | None


def migrate_state(
    source: Opener,
    destination: Opener,
    *,
    force_copy: bool = False,
    lock: bool = True,
    lock_timeout: float = 0.0,
) -> list[Migrated]:
    """Copy every workspace of `source` into `destination`; returns what happened to each."""
    with ExitStack() as stack:
        first_source = stack.enter_context(closing(source(DEFAULT_WORKSPACE)))
        first_destination = stack.enter_context(closing(destination(DEFAULT_WORKSPACE)))
        names = first_source.workspaces()
        existing = set(first_destination.workspaces())
        pairs = []
        for name in names:
            src = stack.enter_context(closing(source(name)))
            dst = stack.enter_context(closing(destination(name)))
            pairs.append((name, src, dst))
        # check every workspace before copying any, so a refusal changes nothing
        for name, src, dst in pairs:
            state = src.read()
            if state is not None and name in existing:
                _conflict(state, dst.read(), dst, force_copy)
        results = []
        for name, src, dst in pairs:
            if name not in existing:
                first_destination.create_workspace(name)
            with ExitStack() as locks:
                if lock:
                    locks.enter_context(src.lock("migrate state", timeout=lock_timeout))
                    locks.enter_context(dst.lock("migrate state", timeout=lock_timeout))
                results.append(_copy(name, src, dst, force_copy))
        return results


def _copy(name: str, src: Backend, dst: Backend, force_copy: bool) -> Migrated:
    state = src.read()
    if state is None:
        return Migrated(name, "no state", None)
    current = dst.read()
    forced = _conflict(state, current, dst, force_copy)
    if current is not None and _same(state, current):
        return Migrated(name, "already there", state.serial)
    expected = None if current is None else (current.lineage, current.serial)
    if current is not None and current.lineage == state.lineage:
        state.serial = max(state.serial, current.serial + 1)
    dst.write(state, expected=expected)
    return Migrated(name, "forced" if forced else "copied", state.serial)


def _conflict(state: State, current: State | None, dst: Backend, force_copy: bool) -> bool:
    """True when copying overrides a conflict (allowed by force_copy); else raise or False."""
    if current is None or _same(state, current):
        return False
    if current.lineage != state.lineage:
        problem = (
            f"{dst.describe()} already holds a different state (lineage {current.lineage}, "
            f"serial {current.serial}; copying lineage {state.lineage})"
        )
    elif current.serial > state.serial:
        problem = (
            f"{dst.describe()} holds a newer serial of the same state ({current.serial} > "
            f"{state.serial})"
        )
    elif current.serial == state.serial:
        problem = (
            f"{dst.describe()} holds a different state with the same lineage and serial "
            f"{state.serial}"
        )
    else:
        return False
    if force_copy:
        return True
    raise StateError(
        f"{problem}. Nothing was copied. Pass --force-copy to overwrite it with the "
        "source state, or remove it first."
    )


def _same(a: State, b: State) -> bool:
    return a.lineage == b.lineage and a.serial == b.serial and a.to_json() == b.to_json()
