"""Static references in expressions (`l4_site.main.id`), for the dependency graph.

Also `calls`, every function call in an expression, for static checks such as
sensitivity.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from l4plan.configs.hcl.syntax import (
    Binary,
    Call,
    Conditional,
    ForExpr,
    GetAttr,
    Index,
    Literal,
    Name,
    Node,
    ObjectExpr,
    Splat,
    Template,
    TemplateFor,
    TemplateIf,
    TupleExpr,
    Unary,
)
from l4plan.diagnostics import Pos


@dataclass(slots=True, frozen=True)
class Reference:
    """A static reference such as `l4_site.main.id`: a root name and literal steps."""

    root: str
    steps: tuple[tuple[str, Any], ...]  # ("attr", name) | ("index", literal key)
    pos: Pos

    def text(self) -> str:
        out = self.root
        for kind, value in self.steps:
            if kind == "attr":
                out += f".{value}"
            else:
                out += f'["{value}"]' if isinstance(value, str) else f"[{value}]"
        return out


def references(node: Node, opaque: frozenset[str] = frozenset()) -> list[Reference]:
    """Every reference in `node` whose root is not a `for` variable.

    References inside calls of the functions named in `opaque` are left out
    (`nonsensitive(...)` for the sensitivity analysis).
    """
    out: list[Reference] = []
    _refs(node, frozenset(), out, opaque)
    return out


def _refs(node: Node, bound: frozenset[str], out: list[Reference], opaque: frozenset[str]) -> None:
    t = type(node)
    if t is Literal:
        return
    if t is Call and node.name in opaque:  # type: ignore[attr-defined]
        return
    if t in (Name, GetAttr, Index, Splat):
        steps: list[tuple[str, Any]] = []
        cur: Node = node
        while True:
            ct = type(cur)
            if ct is GetAttr:
                steps.append(("attr", cur.name))  # type: ignore[attr-defined]
                cur = cur.obj  # type: ignore[attr-defined]
            elif ct is Index:
                key = cur.key  # type: ignore[attr-defined]
                if type(key) is Literal:
                    steps.append(("index", key.value))  # type: ignore[attr-defined]
                else:
                    _refs(key, bound, out, opaque)
                    steps.clear()
                cur = cur.obj  # type: ignore[attr-defined]
            elif ct is Splat:
                for kind, op in cur.ops:  # type: ignore[attr-defined]
                    if kind == "index":
                        _refs(op, bound, out, opaque)
                steps.clear()
                cur = cur.obj  # type: ignore[attr-defined]
            elif ct is Name:
                if cur.name not in bound:  # type: ignore[attr-defined]
                    steps.reverse()
                    out.append(Reference(cur.name, tuple(steps), cur.pos))  # type: ignore[attr-defined]
                return
            else:
                _refs(cur, bound, out, opaque)
                return
    for child, inner in _children(node, bound):
        _refs(child, inner, out, opaque)


def _children(node: Node, bound: frozenset[str]) -> Iterator[tuple[Node, frozenset[str]]]:
    if isinstance(node, Template):
        for part in node.parts:
            if not isinstance(part, str):
                yield part, bound
    elif isinstance(node, TemplateIf):
        yield node.cond, bound
        for part in [*node.then, *node.orelse]:
            if not isinstance(part, str):
                yield part, bound
    elif isinstance(node, TemplateFor):
        yield node.collection, bound
        inner = bound | {node.value_var} | ({node.key_var} if node.key_var else set())
        for part in node.body:
            if not isinstance(part, str):
                yield part, inner
    elif isinstance(node, TupleExpr):
        for item in node.items:
            yield item, bound
    elif isinstance(node, ObjectExpr):
        for key, value in node.items:
            yield key, bound
            yield value, bound
    elif isinstance(node, Call):
        for arg in node.args:
            yield arg, bound
    elif isinstance(node, Unary):
        yield node.operand, bound
    elif isinstance(node, Binary):
        yield node.left, bound
        yield node.right, bound
    elif isinstance(node, Conditional):
        yield node.cond, bound
        yield node.then, bound
        yield node.orelse, bound
    elif isinstance(node, ForExpr):
        yield node.collection, bound
        inner = bound | {node.value_var} | ({node.key_var} if node.key_var else set())
        for sub in (node.key, node.value, node.cond):
            if sub is not None:
                yield sub, inner


def calls(node: Node) -> Iterator[Call]:
    """Every function call in `node` (for static checks such as sensitivity)."""
    if isinstance(node, Call):
        yield node
    for child, _ in _children(node, frozenset()):
        yield from calls(child)
    if isinstance(node, GetAttr):
        yield from calls(node.obj)
    elif isinstance(node, Index):
        yield from calls(node.obj)
        yield from calls(node.key)
    elif isinstance(node, Splat):
        yield from calls(node.obj)
        for kind, op in node.ops:
            if kind == "index":
                yield from calls(op)
