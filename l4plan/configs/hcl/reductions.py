"""The values that grammar reductions pass up before they become syntax nodes.

A `Repeat` is the children of a repetition (spliced by the parent), a `Word` an
identifier or keyword before it is known how it is used; the others carry the
parts of one construct (a binary operator and its right operand, an object
element, call arguments, ...) to the rule that builds the node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from l4plan.configs.hcl.syntax import Node
from l4plan.diagnostics import Pos

NEWLINE = object()  # a new_line_or_comment: layout only


class Repeat(list):  # type: ignore[type-arg]
    """The children of a repetition (lark's `__x_star_N` rules), spliced by the parent."""


@dataclass(slots=True)
class Word:
    """An identifier, keyword or true/false/null, before it is known how it is used."""

    text: str
    pos: Pos
    kind: str  # identifier | keyword | literal


@dataclass(slots=True)
class Part:
    """Literal text of a string (escapes decoded)."""

    text: str


@dataclass(slots=True)
class Op:
    op: str


@dataclass(slots=True)
class Term:
    op: str
    right: Node


@dataclass(slots=True)
class Elem:
    key: Node
    value: Node


@dataclass(slots=True)
class Args:
    items: list[Node]
    expand: bool


@dataclass(slots=True)
class Key:
    node: Node


@dataclass(slots=True)
class Attr:
    name: str
    pos: Pos


@dataclass(slots=True)
class Ops:
    ops: list[tuple[str, Any]]


@dataclass(slots=True)
class ForIntro:
    key_var: str | None
    value_var: str
    collection: Node


@dataclass(slots=True)
class ForCond:
    expr: Node


LITERAL_WORDS = {"true": True, "false": False, "null": None}

DIRECTIVE_KINDS = {"IF": "if", "ELSE": "else", "ENDIF": "endif", "FOR": "for", "ENDFOR": "endfor"}
Tok = tuple[str, str, int, int]


def nodes_of(children: list[Any]) -> list[Any]:
    """Children that are syntax nodes, with repetitions spliced in."""
    out: list[Any] = []
    for child in children:
        if isinstance(child, Repeat):
            out.extend(c for c in child if isinstance(c, Node))
        elif isinstance(child, Node):
            out.append(child)
    return out
