"""Phase 5a for a resource: its instances, from `count` or `for_each`.

`count = N` gives keys 0 … N-1 with `count.index`; `for_each` a map (or a set of
strings) gives one instance per key, in key order, with `each.key` and
`each.value`. Both must be known at plan time.
"""

from __future__ import annotations

from typing import Any

from l4plan.configs.evaluation.scope import Scope
from l4plan.configs.hcl.syntax import Block
from l4plan.configs.lang.values import TYPE_ERROR, type_name
from l4plan.configs.model import UNKNOWN, is_wholly_known

_FAILED = object()


def instances_of(
    scope: Scope, key: str, block: Block
) -> tuple[str, list[tuple[Any, dict[str, Any]]]] | None:
    """("single" | "count" | "for_each", [(instance key, extra roots)]), or None."""
    attrs = block.body.attributes
    count, for_each = attrs.get("count"), attrs.get("for_each")
    if count is not None and for_each is not None:
        scope.error(
            TYPE_ERROR,
            "count and for_each cannot both be set on one resource; keep one",
            for_each.pos,
            key,
        )
        return None
    if count is not None:
        value = scope.eval(count.expr, scope.ctx(), key, failed=_FAILED)
        if value is _FAILED:
            return None
        if not is_wholly_known(value):
            scope.error(
                TYPE_ERROR,
                "count depends on values known only after apply; it must be known at plan time",
                count.expr.pos,
                key,
            )
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value < 0
            or value != int(value)
        ):
            scope.error(
                TYPE_ERROR,
                "count must be a whole number of 0 or more, got "
                + _show(value, scope.sensitivity.is_sensitive(count.expr)),
                count.expr.pos,
                key,
            )
            return None
        return "count", [(i, {"count": {"index": i}}) for i in range(int(value))]
    if for_each is not None:
        value = scope.eval(for_each.expr, scope.ctx(), key, failed=_FAILED)
        if value is _FAILED:
            return None
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            if not is_wholly_known(list(value)):
                value = UNKNOWN
            else:
                return "for_each", [
                    (k, {"each": {"key": k, "value": value[k]}}) for k in sorted(value)
                ]
        if (
            isinstance(value, list)
            and is_wholly_known(value)
            and all(isinstance(v, str) for v in value)
        ):
            duplicates = sorted({v for v in value if value.count(v) > 1})
            if duplicates:
                scope.error(
                    TYPE_ERROR,
                    f'for_each has duplicate keys ("{duplicates[0]}"); wrap the list in toset()',
                    for_each.expr.pos,
                    key,
                )
                return None
            return "for_each", [(k, {"each": {"key": k, "value": k}}) for k in sorted(value)]
        if value is UNKNOWN or not is_wholly_known(value):
            scope.error(
                TYPE_ERROR,
                "for_each depends on values known only after apply; "
                "its keys must be known at plan time",
                for_each.expr.pos,
                key,
            )
            return None
        scope.error(
            TYPE_ERROR,
            "for_each must be a map or a set of strings, got "
            + _show(value, scope.sensitivity.is_sensitive(for_each.expr)),
            for_each.expr.pos,
            key,
        )
        return None
    return "single", [(None, {})]


def _show(value: Any, sensitive: bool = False) -> str:
    if sensitive:
        return f"a sensitive {type_name(value)}"
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return type_name(value)
