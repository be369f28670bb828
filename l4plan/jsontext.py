"""Strict JSON text: every JSON document l4plan writes or reads goes through here.

Python's json module writes `Infinity`, `-Infinity` and `NaN` unless told not to,
and reads them back; none of them is JSON, and other readers (jq, the agent,
PostgreSQL's jsonb) refuse them. `dumps` refuses them and names where the value is;
`loads` refuses them as it would any other text that is not JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any


class NotJSONError(ValueError):
    """A value that JSON cannot hold (a non-finite number)."""


def dumps(
    value: Any,
    *,
    indent: int | None = None,
    sort_keys: bool = False,
    ensure_ascii: bool = True,
    separators: tuple[str, str] | None = None,
    default: Callable[[Any], Any] | None = None,
) -> str:
    """`json.dumps` that refuses non-finite numbers (NotJSONError)."""
    try:
        return json.dumps(
            value,
            indent=indent,
            sort_keys=sort_keys,
            ensure_ascii=ensure_ascii,
            separators=separators,
            default=default,
            allow_nan=False,
        )
    except ValueError:
        where = _non_finite_path(value, "")
        if where is None:
            raise
        path, number = where
        raise NotJSONError(
            f"the value at {path or 'the top level'} is {number!r}, which JSON cannot hold"
        ) from None


def loads(text: str | bytes) -> Any:
    """`json.loads` that refuses `Infinity`, `-Infinity` and `NaN`, and numbers too
    large for a float (`1e400`, which Python reads as infinity): a ValueError, as
    for any other text that is not JSON."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:30]} is too large for l4plan to hold")
    return value


def _non_finite_path(value: Any, path: str) -> tuple[str, float] | None:
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite_path(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _non_finite_path(item, f"{path}[{i}]")
            if found:
                return found
    return None
