"""Functions on lists, maps and sets (docs/configuration.md lists them all)."""

from __future__ import annotations

import math
from typing import Any

from l4plan.configs.lang.functions.registry import (
    FunctionError,
    as_int,
    as_list,
    as_map,
    as_str,
    register,
)
from l4plan.configs.lang.numbers import normalize_number
from l4plan.configs.lang.values import (
    hcl_equal,
    to_number,
    type_name,
)
from l4plan.configs.model import UNKNOWN, is_wholly_known

MAX_RANGE = 1_000_000


@register("length(value)", 1, 1, partial=True)
def _length(value: Any) -> int:
    if isinstance(value, list | dict | str):
        return len(value)
    raise FunctionError(f"needs a list, map or string, got {type_name(value)}")


@register("concat(list, ...)", 1, None, partial=True)
def _concat(*lists: Any) -> list[Any]:
    out: list[Any] = []
    for i, item in enumerate(lists, 1):
        out.extend(as_list(item, f"argument {i}"))
    return out


@register("merge(map, ...)", 1, None, partial=True)
def _merge(*maps: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, item in enumerate(maps, 1):
        if item is None:
            continue
        out.update(as_map(item, f"argument {i}"))
    return out


@register("lookup(map, key, default?)", 2, 3, partial=True)
def _lookup(m: Any, key: Any, *default: Any) -> Any:
    if key is UNKNOWN:
        return UNKNOWN
    k = as_str(key, "the key")
    mapping = as_map(m, "the first argument")
    if k in mapping:
        return mapping[k]
    if default:
        return default[0]
    raise FunctionError(f'the map has no key "{k}" and no default was given')


@register("keys(map)", 1, 1, partial=True)
def _keys(m: Any) -> list[str]:
    return sorted(as_map(m))


@register("values(map)", 1, 1, partial=True)
def _values(m: Any) -> list[Any]:
    mapping = as_map(m)
    return [mapping[k] for k in sorted(mapping)]


@register("contains(list, value)", 2, 2)
def _contains(lst: Any, value: Any) -> bool:
    return any(hcl_equal(item, value) for item in as_list(lst, "the first argument"))


@register("distinct(list)", 1, 1)
def _distinct(lst: Any) -> list[Any]:
    out: list[Any] = []
    for item in as_list(lst):
        if not any(hcl_equal(item, seen) for seen in out):
            out.append(item)
    return out


@register("flatten(list)", 1, 1)
def _flatten(lst: Any) -> list[Any]:
    out: list[Any] = []

    def walk(items: list[Any]) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                out.append(item)

    walk(as_list(lst))
    return out


@register("element(list, index)", 2, 2, partial=True)
def _element(lst: Any, index: Any) -> Any:
    if index is UNKNOWN:
        return UNKNOWN
    items = as_list(lst, "the first argument")
    if not items:
        raise FunctionError("cannot take an element of an empty list")
    i = as_int(index, "the index")
    if i < 0:
        raise FunctionError("the index must not be negative")
    return items[i % len(items)]


@register("index(list, value)", 2, 2)
def _index(lst: Any, value: Any) -> int:
    for i, item in enumerate(as_list(lst, "the first argument")):
        if hcl_equal(item, value):
            return i
    raise FunctionError("the value is not in the list")


@register("slice(list, start, end)", 3, 3, partial=True)
def _slice(lst: Any, start: Any, end: Any) -> list[Any]:
    items = as_list(lst, "the first argument")
    a, b = as_int(start, "start"), as_int(end, "end")
    if not 0 <= a <= b <= len(items):
        raise FunctionError(f"start {a} and end {b} must satisfy 0 <= start <= end <= {len(items)}")
    return items[a:b]


@register("reverse(list)", 1, 1, partial=True)
def _reverse(lst: Any) -> list[Any]:
    return list(reversed(as_list(lst)))


@register("sort(list)", 1, 1)
def _sort(lst: Any) -> list[str]:
    return sorted(as_str(item, "each element") for item in as_list(lst))


@register("compact(list)", 1, 1)
def _compact(lst: Any) -> list[Any]:
    return [item for item in as_list(lst) if item is not None and item != ""]


@register("zipmap(keys, values)", 2, 2, partial=True)
def _zipmap(keys: Any, values: Any) -> dict[str, Any]:
    ks, vs = as_list(keys, "keys"), as_list(values, "values")
    if len(ks) != len(vs):
        raise FunctionError(f"{len(ks)} keys but {len(vs)} values")
    if not is_wholly_known(ks):
        return UNKNOWN  # type: ignore[return-value]
    return {as_str(k, "each key"): v for k, v in zip(ks, vs, strict=True)}


@register("range(start?, limit, step?)", 1, 3)
def _range(*args: Any) -> list[int | float]:
    nums = [to_number(a) for a in args]
    start, step = 0, 1
    if len(nums) == 1:
        (limit,) = nums
    elif len(nums) == 2:
        start, limit = nums
    else:
        start, limit, step = nums
    if step == 0:
        raise FunctionError("step must not be zero")
    count = max(0, math.ceil((limit - start) / step))
    if count > MAX_RANGE:
        raise FunctionError(f"would produce {count} elements; the limit is {MAX_RANGE}")
    return [normalize_number(start + i * step) for i in range(count)]


@register("toset(list)", 1, 1)
def _toset(lst: Any) -> list[Any]:
    items = _distinct(lst)
    if all(isinstance(i, str) for i in items):
        return sorted(items)
    if all(isinstance(i, int | float) and not isinstance(i, bool) for i in items):
        return sorted(items)
    return items


@register("tolist(value)", 1, 1, partial=True)
def _tolist(value: Any) -> list[Any]:
    return list(as_list(value))


@register("tomap(value)", 1, 1, partial=True)
def _tomap(value: Any) -> dict[str, Any]:
    return dict(as_map(value))


@register("coalesce(value, ...)", 1, None)
def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise FunctionError("every argument is null or an empty string")


@register("coalescelist(list, ...)", 1, None)
def _coalescelist(*lists: Any) -> Any:
    for i, value in enumerate(lists, 1):
        if as_list(value, f"argument {i}"):
            return value
    return []
