"""Conversions, JSON, `file` and the sensitivity markers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from l4plan.configs.lang.functions.registry import (
    FunctionError,
    as_str,
    register,
)
from l4plan.configs.lang.numbers import normalize_number
from l4plan.configs.lang.values import (
    Context,
    plain,
    to_bool,
    to_number,
)


@register("tostring(value)", 1, 1)
def _tostring(value: Any) -> str | None:
    if value is None:
        return None
    return as_str(value)


@register("tonumber(value)", 1, 1)
def _tonumber(value: Any) -> int | float | None:
    return None if value is None else to_number(value)


@register("tobool(value)", 1, 1)
def _tobool(value: Any) -> bool | None:
    return None if value is None else to_bool(value)


@register("jsonencode(value)", 1, 1)
def _jsonencode(value: Any) -> str:
    return json.dumps(plain(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)


@register("jsondecode(string)", 1, 1)
def _jsondecode(s: Any) -> Any:
    try:
        value = json.loads(as_str(s))
    except json.JSONDecodeError as e:
        raise FunctionError(f"invalid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    return _normalize_json(value)


def _normalize_json(value: Any) -> Any:
    if isinstance(value, float):
        return normalize_number(value)
    if isinstance(value, list):
        return [_normalize_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalize_json(v) for k, v in value.items()}
    return value


@register("file(path)", 1, 1, needs_context=True)
def _file(ctx: Context, path: Any) -> str:
    name = as_str(path, "the path")
    full = Path(name) if Path(name).is_absolute() else ctx.directory / name
    try:
        text = full.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FunctionError(
            f'no file "{name}" (paths are relative to the configuration directory)'
        ) from None
    except UnicodeDecodeError:
        raise FunctionError(f'"{name}" is not UTF-8 text') from None
    except OSError as e:
        raise FunctionError(f'cannot read "{name}": {e.strerror}') from None
    ctx.files_read[name] = text
    return text


@register("sensitive(value)", 1, 1, partial=True)
def _sensitive(value: Any) -> Any:
    return value


@register("nonsensitive(value)", 1, 1, partial=True)
def _nonsensitive(value: Any) -> Any:
    return value
