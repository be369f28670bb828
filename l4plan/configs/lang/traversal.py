"""Reading attributes and elements: `obj.name`, `obj[key]`, and their messages."""

from __future__ import annotations

from typing import Any

from l4plan.configs.hcl.syntax import Call, GetAttr, Index, Literal, Name, Node, Splat
from l4plan.configs.lang.values import (
    REFERENCE_ERROR,
    TYPE_ERROR,
    AgentRef,
    EvalError,
    Namespace,
    suggest,
    to_number,
    to_string,
    type_name,
)
from l4plan.configs.model import UNKNOWN


def attr_of(obj: Any, name: str, node: Node) -> Any:
    if obj is UNKNOWN:
        return UNKNOWN
    at = node.name_pos if isinstance(node, GetAttr) else node.pos
    if isinstance(obj, Namespace):
        if name in obj.items:
            return obj.items[name]
        raise EvalError(
            REFERENCE_ERROR,
            f'reference to undeclared {obj.kind} "{obj.prefix}.{name}"' + suggest(name, obj.items),
            at,
        )
    if isinstance(obj, AgentRef):
        obj = obj.attrs
    if isinstance(obj, dict):
        if name in obj:
            return obj[name]
        raise EvalError(
            _missing(node),
            f'{describe(_base(node))} has no attribute "{name}"' + suggest(name, obj),
            at,
        )
    if isinstance(obj, list) and name.isdigit():
        return index_of(obj, int(name), node)
    raise EvalError(
        TYPE_ERROR,
        f'cannot read attribute "{name}" of {describe(_base(node))}: it is a {type_name(obj)}'
        + (", not an object; use [*] or an index first" if isinstance(obj, list) else ""),
        at,
    )


def index_of(obj: Any, key: Any, node: Node) -> Any:
    if obj is UNKNOWN or key is UNKNOWN:
        return UNKNOWN
    at = node.key.pos if isinstance(node, Index) else node.pos
    if isinstance(obj, Namespace):
        return attr_of(obj, to_string(key) if not isinstance(key, list | dict) else "?", node)
    if isinstance(obj, AgentRef):
        obj = obj.attrs
    if isinstance(obj, list):
        try:
            i = to_number(key)
        except ValueError as e:
            raise EvalError(TYPE_ERROR, f"invalid index: {e}", at) from None
        if not isinstance(i, int) or isinstance(i, bool):
            raise EvalError(TYPE_ERROR, f"invalid index {key!r}: must be a whole number", at)
        if i < 0 or i >= len(obj):
            raise EvalError(
                _missing(node),
                f"index {i} is out of range for {describe(_base(node))}, "
                f"which has {len(obj)} element{'s' if len(obj) != 1 else ''}",
                at,
            )
        return obj[i]
    if isinstance(obj, dict):
        try:
            k = to_string(key)
        except ValueError as e:
            raise EvalError(TYPE_ERROR, f"invalid key: {e}", at) from None
        if k in obj:
            return obj[k]
        raise EvalError(
            _missing(node),
            f'{describe(_base(node))} has no element "{k}"' + suggest(k, obj),
            at,
        )
    raise EvalError(
        TYPE_ERROR, f"cannot index {describe(_base(node))}: it is a {type_name(obj)}", at
    )


def _missing(node: Node) -> str:
    """The code for a missing attribute or element: L4E015 on a reference, else L4E016."""
    while isinstance(node, GetAttr | Index | Splat):
        node = node.obj
    return REFERENCE_ERROR if isinstance(node, Name) else TYPE_ERROR


def _base(node: Node) -> Node:
    """The expression an attribute or index is taken from (for messages)."""
    if isinstance(node, GetAttr | Index | Splat):
        return node.obj
    return node


def describe(node: Node) -> str:
    """Source-like text of a traversal, for messages: l4_site.main, var.x[0]."""
    if isinstance(node, Name):
        return node.name
    if isinstance(node, GetAttr):
        return f"{describe(node.obj)}.{node.name}"
    if isinstance(node, Index):
        if isinstance(node.key, Literal):
            key = node.key.value
            return (
                f'{describe(node.obj)}["{key}"]'
                if isinstance(key, str)
                else f"{describe(node.obj)}[{key}]"
            )
        return f"{describe(node.obj)}[...]"
    if isinstance(node, Splat):
        return f"{describe(node.obj)}[*]"
    if isinstance(node, Call):
        return f"{node.name}(...)"
    return "this value"


def unknown_name_message(name: str) -> str:
    return (
        f'unknown name "{name}": a reference starts with var., local., agent., '
        "a resource type (l4_site, l4_application, ...), count. or each."
    )
