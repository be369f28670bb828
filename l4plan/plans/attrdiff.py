"""Attribute-level differences between a resource's recorded and planned attributes.

Repeated blocks (`rule`, `origin`) are matched by content, not list position:
removing the first of 30 rules is one removed block, not 30 changed ones; a matched
pair is then compared attribute by attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from deepdiff import DeepDiff

from l4plan.configs.model import UNKNOWN
from l4plan.plans.attributes import UNORDERED_ATTRS, block_key, nested_block_kind

Kind = Literal["same", "create", "delete", "update"]


@dataclass(slots=True)
class AttrDiff:
    """One attribute: how it changes. Nested blocks carry their blocks' diffs."""

    name: str
    kind: Kind
    before: Any
    after: Any
    blocks: list[BlockDiff] | None = None  # set for nested blocks


@dataclass(slots=True)
class BlockDiff:
    """One occurrence of a nested block; indexes into the before/after lists."""

    kind: Kind
    before_index: int | None
    after_index: int | None
    attrs: list[AttrDiff] = field(default_factory=list)


def _kind(before: Any, after: Any, changed: bool) -> Kind:
    if not changed:
        return "same"
    if before is None:
        return "create"
    if after is None:
        return "delete"
    return "update"


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """Top-level keys whose values differ (a missing key equals null).

    Plain equality settles most keys cheaply; lists whose order carries no meaning
    are compared by deepdiff with `ignore_order`, which also handles lists of
    objects and repeated items.
    """
    keys: set[str] = set()
    for key in set(before) | set(after):
        b, a = before.get(key), after.get(key)
        if b == a:
            continue
        if (
            key in UNORDERED_ATTRS
            and isinstance(b, list)
            and isinstance(a, list)
            and not DeepDiff(b, a, ignore_order=True, report_repetition=True)
        ):
            continue
        keys.add(key)
    return keys


def match_blocks(
    before: list[dict[str, Any]], after: list[dict[str, Any]], key: tuple[str, ...]
) -> list[tuple[int | None, int | None]]:
    """Pair blocks of two lists: equal blocks first, then blocks with the same key.

    Returns (before_index, after_index) pairs: removed blocks (after None) first in
    their old order, then the new list in order (before None for added blocks).
    """
    unused = list(range(len(before)))
    pair_of: dict[int, int] = {}
    for j, block in enumerate(after):
        for i in unused:
            if before[i] == block:
                pair_of[j] = i
                unused.remove(i)
                break
    if key:
        for j, block in enumerate(after):
            if j in pair_of:
                continue
            ident = _identity(block, key)
            if ident is None:
                continue
            for i in unused:
                if _identity(before[i], key) == ident:
                    pair_of[j] = i
                    unused.remove(i)
                    break
    pairs: list[tuple[int | None, int | None]] = [(i, None) for i in unused]
    pairs += [(pair_of.get(j), j) for j in range(len(after))]
    return pairs


def _identity(block: Any, key: tuple[str, ...]) -> tuple[Any, ...] | None:
    if not isinstance(block, dict):
        return None
    ident = tuple(block.get(k) for k in key)
    return None if any(v is UNKNOWN for v in ident) else ident


def _leaf_diffs(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[AttrDiff]:
    b, a = before or {}, after or {}
    changed = changed_keys(b, a)
    names = sorted(set(b) | set(a))
    return [AttrDiff(n, _kind(b.get(n), a.get(n), n in changed), b.get(n), a.get(n)) for n in names]


def _block_diff(before: Any, after: Any, bi: int | None, ai: int | None) -> BlockDiff:
    attrs = _leaf_diffs(before, after)
    if before is None:
        kind: Kind = "create"
    elif after is None:
        kind = "delete"
    else:
        kind = "update" if any(d.kind != "same" for d in attrs) else "same"
    return BlockDiff(kind, bi, ai, attrs)


def diff_attributes(
    type_: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[AttrDiff]:
    """Every attribute of a resource, sorted by name, with how it changes.

    `before` None means the resource is created, `after` None that it is deleted.
    """
    b, a = before or {}, after or {}
    changed = changed_keys(b, a)
    diffs: list[AttrDiff] = []
    for name in sorted(set(b) | set(a)):
        bv, av = b.get(name), a.get(name)
        kind = _kind(bv, av, name in changed)
        block = nested_block_kind(type_, name)
        if block == "single" and _is_block(bv) and _is_block(av):
            blocks = [] if bv is None and av is None else [_block_diff(bv, av, 0, 0)]
            diffs.append(AttrDiff(name, kind, bv, av, blocks))
        elif block == "list" and _is_block_list(bv) and _is_block_list(av):
            bl, al = bv or [], av or []
            pairs = match_blocks(bl, al, block_key(type_, name))
            blocks = [
                _block_diff(
                    bl[i] if i is not None else None, al[j] if j is not None else None, i, j
                )
                for i, j in pairs
            ]
            if kind != "same" and all(d.kind == "same" for d in blocks):
                kind = "same"  # only the order of the blocks changed
            diffs.append(AttrDiff(name, kind, bv, av, blocks))
        else:
            diffs.append(AttrDiff(name, kind, bv, av))
    return diffs


def _is_block(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _is_block_list(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(v, dict) for v in value))
