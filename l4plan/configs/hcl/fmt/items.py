"""The stream `fmt` prints: atoms (printable tokens), line breaks and structure markers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, auto

from l4plan import codes

SYNTAX_ERROR_CODE = codes.LOAD
INDENT_WIDTH = 2
BYTE_ORDER_MARK = "\ufeff"


class Kind(Enum):
    """What an atom is, as far as the spacing rules care."""

    WORD = auto()  # names, keywords, literals, strings, heredocs
    COMMENT = auto()
    COMMA = auto()
    DOT = auto()
    SPLAT = auto()  # `.*` and `[*]`
    COLONS = auto()  # `::` in provider functions
    ELLIPSIS = auto()
    CALL_OPEN = auto()
    PAREN_OPEN = auto()
    PAREN_CLOSE = auto()
    TUPLE_OPEN = auto()
    INDEX_OPEN = auto()
    BRACKET_CLOSE = auto()
    BRACE_OPEN = auto()
    BRACE_CLOSE = auto()
    EQ = auto()  # the `=` of an attribute or object element
    OBJ_COLON = auto()  # the `:` of an object element
    OP = auto()  # binary operators, `?` and `:` of a conditional, `:` and `=>` of a `for`
    UNARY = auto()


OPENERS = frozenset({Kind.CALL_OPEN, Kind.PAREN_OPEN, Kind.TUPLE_OPEN, Kind.INDEX_OPEN})
CLOSERS = frozenset({Kind.PAREN_CLOSE, Kind.BRACKET_CLOSE, Kind.BRACE_CLOSE})


class Role(Enum):
    """The part an atom plays in a single-line assignment, for `=` alignment."""

    NONE = auto()
    START = auto()
    EQ = auto()
    END = auto()


@dataclass(slots=True, eq=False)
class Atom:
    text: str
    kind: Kind
    role: Role = Role.NONE
    assignment: int = 0  # which assignment `role` refers to


class Newline:
    """A line break."""


class Open:
    """A construct (bracket pair, or an expression slot) begins after this point."""


class Close:
    """The innermost open construct ends here."""


@dataclass(slots=True, eq=False)
class ItemStart:
    """A top-level attribute or block begins (used for blank lines between blocks)."""

    is_block: bool


class ItemEnd:
    """The top-level item that began last ends here."""


Item = Atom | Newline | Open | Close | ItemStart | ItemEnd
NEWLINE = Newline()

# Operator tokens into which python-hcl2's post-lexer merges a preceding line break or
# comment (so that a line may start with an operator); the prefix is split off again.
MERGEABLE_OPERATORS = {
    "DOUBLE_EQ": "==",
    "NEQ": "!=",
    "LT": "<",
    "GT": ">",
    "LEQ": "<=",
    "GEQ": ">=",
    "ASTERISK": "*",
    "SLASH": "/",
    "PERCENT": "%",
    "DOUBLE_AMP": "&&",
    "DOUBLE_PIPE": "||",
    "PLUS": "+",
    "QMARK": "?",
}

# One piece of trivia inside an NL_OR_COMMENT token (grammar: hcl2.lark).
TRIVIA = re.compile(r"\n|#[^\n]*\n?|//[^\n]*\n?|/\*[\s\S]*?\*/|[ \t\r]+")

BLOCK_ITEMS = frozenset({"attribute", "block"})
