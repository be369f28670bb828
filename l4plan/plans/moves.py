"""Moved blocks carried out on the state a plan is made against.

Each block is one `state mv` (`states.edits.move`, the same edit as the command),
in an order that follows chains: a move to X before a move from X, so an object at
`a` with `a → b` and `b → c` ends at `c`. A block whose `from` is not in the state
has nothing to move (after an apply every block is like that: it may stay). A
block whose destination is already recorded is an error (L4E104).
"""

from __future__ import annotations

from l4plan import codes
from l4plan.configs.model import MovedBlock
from l4plan.diagnostics import Diagnostic
from l4plan.states.addresses import Address, matches, parse_address
from l4plan.states.edits import move
from l4plan.states.errors import StateError
from l4plan.states.model import State


def apply_moves(state: State, moved: list[MovedBlock]) -> tuple[dict[str, str], list[Diagnostic]]:
    """Carry out `moved` on `state` (changed in place). Returns, per address an object
    was moved to, the address it was recorded at, and the errors."""
    origin: dict[str, str] = {}
    diagnostics: list[Diagnostic] = []
    for block in _chain_order(moved):
        source, destination = _endpoints(block)
        if not any(matches(source, a) for a in state.resources):
            continue
        try:
            pairs = move(state, source, destination)
        except StateError as e:
            diagnostics.append(
                Diagnostic.at(
                    codes.MOVE_BLOCKED,
                    "Unresolved resource instance address changes: l4plan tried to adjust "
                    "resource instance addresses in the state as this moved block says, but "
                    f"{e}. Resolve the conflict with `l4plan state rm` or `l4plan state mv`, "
                    "or remove the block, then plan again.",
                    block.pos,
                    block.to_address,
                )
            )
            continue
        for old, new in pairs:
            origin[new] = origin.pop(old, old)
    return {new: old for new, old in origin.items() if new != old}, diagnostics


def _endpoints(block: MovedBlock) -> tuple[Address, Address]:
    """The block's two addresses as `state mv` takes them. Terraform's rule for a
    resource address opposite an instance address: it is the no-key instance."""
    source, destination = parse_address(block.from_address), parse_address(block.to_address)
    if destination.has_key and not source.has_key:
        source = Address(source.type, source.name, None, True)
    return source, destination


def _chain_order(moved: list[MovedBlock]) -> list[MovedBlock]:
    """`moved` with every move to an address before the moves from it. The
    configuration refused cycles (L4E019); a leftover is kept in written order."""
    pending = list(moved)
    ordered: list[MovedBlock] = []
    for _ in range(len(moved)):
        ready = [m for m in pending if not any(p.feeds(m) for p in pending if p is not m)]
        if not ready:
            break
        ordered.extend(ready)
        pending = [m for m in pending if m not in ready]
    return ordered + pending
