"""The configuration syntax tree: HCL bodies and expressions with source positions.

`builder.Builder` builds it while `lalr.parse` reduces python-hcl2's grammar;
the evaluator walks it. Every node carries the `Pos` of its first token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from l4plan.diagnostics import Pos

# How deeply grammar rules may nest (brackets, operators, traversals, templates and
# blocks all count; a list of N items does not). lalr.parse enforces it, so every
# later stage, which walks the tree and its values recursively, stays far from
# Python's recursion limit at any depth the parser accepts.
MAX_NESTING = 160


# --------------------------------------------------------------------------- nodes


@dataclass(slots=True, eq=False)
class Node:
    pos: Pos


@dataclass(slots=True, eq=False)
class Literal(Node):
    value: Any  # str, int, float, bool or None


@dataclass(slots=True, eq=False)
class Template(Node):
    """A string with interpolations: parts are literal text or expressions."""

    parts: list[str | Node]


@dataclass(slots=True, eq=False)
class TemplateIf(Node):
    cond: Node
    then: list[str | Node]
    orelse: list[str | Node]


@dataclass(slots=True, eq=False)
class TemplateFor(Node):
    key_var: str | None
    value_var: str
    collection: Node
    body: list[str | Node]


@dataclass(slots=True, eq=False)
class Name(Node):
    """A bare identifier: the root of a traversal (`var`, `local`, `l4_site`, a for variable)."""

    name: str


@dataclass(slots=True, eq=False)
class GetAttr(Node):
    obj: Node
    name: str
    name_pos: Pos  # of the attribute name, for "no attribute" messages


@dataclass(slots=True, eq=False)
class Index(Node):
    obj: Node
    key: Node


@dataclass(slots=True, eq=False)
class Splat(Node):
    """`obj[*].a[0]` or `obj.*.a`: `ops` apply to each element of `obj`."""

    obj: Node
    ops: list[tuple[str, Any]]  # ("attr", name) | ("index", Node)


@dataclass(slots=True, eq=False)
class TupleExpr(Node):
    items: list[Node]


@dataclass(slots=True, eq=False)
class ObjectExpr(Node):
    items: list[tuple[Node, Node]]


@dataclass(slots=True, eq=False)
class Call(Node):
    name: str
    args: list[Node]
    expand_last: bool = False  # f(a, list...)


@dataclass(slots=True, eq=False)
class Unary(Node):
    op: str  # "-" | "!"
    operand: Node


@dataclass(slots=True, eq=False)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(slots=True, eq=False)
class Conditional(Node):
    cond: Node
    then: Node
    orelse: Node


@dataclass(slots=True, eq=False)
class ForExpr(Node):
    key_var: str | None
    value_var: str
    collection: Node
    key: Node | None  # None for a tuple `[for ...]`
    value: Node
    cond: Node | None
    group: bool  # `...` after the value of an object for


# --------------------------------------------------------------------------- bodies


@dataclass(slots=True, eq=False)
class Attribute:
    name: str
    expr: Node
    pos: Pos


@dataclass(slots=True, eq=False)
class Block:
    type: str
    labels: list[str]
    body: Body
    pos: Pos
    label_pos: list[Pos] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Body:
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    # a second definition of an attribute name: (attribute, first definition)
    duplicates: list[tuple[Attribute, Attribute]] = field(default_factory=list)

    def blocks_of(self, type_: str) -> list[Block]:
        return [b for b in self.blocks if b.type == type_]


class SyntaxProblem(Exception):
    """A construct the grammar accepts but the language does not (e.g. an interpolated label)."""

    def __init__(self, message: str, pos: Pos):
        super().__init__(message)
        self.message = message
        self.pos = pos
