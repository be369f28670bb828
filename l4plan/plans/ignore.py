"""`lifecycle { ignore_changes = [...] }`: keep recorded values for ignored paths."""

from __future__ import annotations

import copy
from typing import Any

from l4plan.plans.attrdiff import match_blocks
from l4plan.plans.attributes import DERIVED_FROM, block_key
from l4plan.plans.model import Path
from l4plan.plans.values import parse_path


def apply_ignore_changes(
    type_: str, before: dict[str, Any], after: dict[str, Any], ignore: list[str]
) -> dict[str, Any]:
    """`after` with every ignored path set back to its value in `before`.

    Paths are attribute names (`domain`), dotted paths into blocks
    (`ddos_protection.mode`), with an index (`rule.0.comment`) or without one
    (`rule.comment`: in every rule, rules paired by content as in the diff).
    `*` (from `ignore_changes = all`) ignores every attribute. Values derived from
    an ignored attribute (`endpoints` from `rule`) are kept as recorded as well.
    """
    if "*" in ignore:
        return {**after, **copy.deepcopy(before)}
    result = copy.deepcopy(after)
    ignored: set[str] = set()
    for dotted in ignore:
        path = parse_path(dotted)
        if path and isinstance(path[0], str):
            ignored.add(path[0])
            key = block_key(type_, path[0])
            result = _keep(before, result, path, key)
    for derived, inputs in DERIVED_FROM.items():
        if derived in result and inputs & ignored:
            result = _keep(before, result, (derived,), ())
    return result


def _keep(before: Any, after: Any, path: Path, key: tuple[str, ...]) -> Any:
    if not path:
        return copy.deepcopy(before)
    head, rest = path[0], path[1:]
    if isinstance(after, dict) and isinstance(head, str):
        old = before.get(head) if isinstance(before, dict) else None
        if old is None and not rest:
            after.pop(head, None)  # unset in state: stays unset
        elif head in after:
            after[head] = _keep(old, after[head], rest, key)
        return after
    if isinstance(after, list) and isinstance(before, list):
        if isinstance(head, int):
            if head < len(after) and head < len(before):
                after[head] = _keep(before[head], after[head], rest, key)
            return after
        # an attribute name inside a list of blocks: in every paired block
        for i, j in match_blocks(before, after, key):
            if i is not None and j is not None:
                after[j] = _keep(before[i], after[j], path, key)
    return after
