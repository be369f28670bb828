"""Functions on numbers: sum, min, max, abs, ceil, floor."""

from __future__ import annotations

import math
from typing import Any

from l4plan.configs.lang.functions.registry import (
    FunctionError,
    as_list,
    register,
)
from l4plan.configs.lang.numbers import normalize_number
from l4plan.configs.lang.values import (
    to_number,
)


@register("sum(list)", 1, 1)
def _sum(lst: Any) -> int | float:
    items = as_list(lst)
    if not items:
        raise FunctionError("cannot sum an empty list")
    return normalize_number(sum(to_number(i) for i in items))


@register("min(number, ...)", 1, None)
def _min(*nums: Any) -> int | float:
    return min(to_number(n) for n in nums)


@register("max(number, ...)", 1, None)
def _max(*nums: Any) -> int | float:
    return max(to_number(n) for n in nums)


@register("abs(number)", 1, 1)
def _abs(n: Any) -> int | float:
    return abs(to_number(n))


@register("ceil(number)", 1, 1)
def _ceil(n: Any) -> int:
    return math.ceil(to_number(n))


@register("floor(number)", 1, 1)
def _floor(n: Any) -> int:
    return math.floor(to_number(n))
