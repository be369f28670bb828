"""The canonical layout of HCL source, as printed by `l4plan fmt`.

`format_source` parses with python-hcl2's raw lark tree (which keeps every comment in
`new_line_or_comment` tokens) and prints it back with canonical whitespace only, the
way Terraform's `hclwrite` does: the tree is flattened into a stream of atoms
(printable tokens), line breaks and structure markers; the stream is cut into lines;
each line gets its indentation from the constructs still open at its start; runs of
single-line assignments get their `=` aligned. Strings, heredocs and comment texts
are copied byte for byte, so the meaning of the file never changes. docs/fmt.md lists
the rules and the decisions behind them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, auto
from itertools import pairwise

import hcl2
from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from l4plan.diagnostics import Diagnostic, DiagnosticError, Pos

SYNTAX_ERROR_CODE = "L4E000"
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


def format_source(text: str, *, filename: str) -> str:
    """The canonical layout of `text`; raises DiagnosticError when it does not parse.

    `filename` only names the file in the diagnostic. A leading byte order mark is
    dropped: the canonical file is plain UTF-8.
    """
    text = text.removeprefix(BYTE_ORDER_MARK)
    source = text + "\n"  # what hcl2.parses_to_tree hands to lark
    try:
        tree = hcl2.parses_to_tree(text)
    except UnexpectedInput as exc:
        raise DiagnosticError([syntax_diagnostic(exc, text, filename)]) from None
    printer = _Flattener(source)
    try:
        printer.start(tree)
    except RecursionError:
        pos = Pos(filename, 1, 1)
        message = "expressions are nested too deeply to format"
        raise DiagnosticError([Diagnostic.at(SYNTAX_ERROR_CODE, message, pos)]) from None
    return _render(_layout(printer.items))


# --------------------------------------------------------------------------- parse errors

_EXPECTED_NAMES = {
    "RBRACE": '"}"',
    "LBRACE": '"{"',
    "RSQB": '"]"',
    "LSQB": '"["',
    "RPAR": '")"',
    "LPAR": '"("',
    "EQ": '"="',
    "COLON": '":"',
    "COMMA": '","',
    "DBLQUOTE": "'\"'",
    "NAME": "a name",
    "NL_OR_COMMENT": "a new line",
    "INT_LITERAL": "a number",
    "FLOAT_LITERAL": "a number",
    "FOR_OBJECT_ARROW": '"=>"',
    "IN": '"in"',
}
# A parser expecting all of these wants an expression; naming them one by one helps nobody.
_EXPRESSION_STARTERS = frozenset({"NAME", "INT_LITERAL", "DBLQUOTE", "LSQB", "LBRACE"})


def syntax_diagnostic(exc: UnexpectedInput, text: str, filename: str) -> Diagnostic:
    """A lark parse error as an L4E000 diagnostic naming file, line and column."""
    lines = text.split("\n")
    line, column = exc.line, exc.column
    if line < 1 or line > len(lines):  # past the end: point just after the last character
        line, column = len(lines), len(lines[-1]) + 1
    message = f"syntax error: unexpected {_describe_unexpected(exc, text)}"
    expected = _describe_expected(exc)
    if expected:
        message += f"; expected {expected}"
    return Diagnostic.at(SYNTAX_ERROR_CODE, message, Pos(filename, line, column))


def _describe_unexpected(exc: UnexpectedInput, text: str) -> str:
    if isinstance(exc, UnexpectedEOF):
        return "end of file"
    if isinstance(exc, UnexpectedCharacters):
        fragment = text[exc.pos_in_stream :]
    elif isinstance(exc, UnexpectedToken):
        if exc.token.type == "$END":
            return "end of file"
        fragment = str(exc.token)
    else:
        return "input"
    fragment = fragment.lstrip(" \t\r")
    if not fragment.strip():
        return "end of file" if not text[exc.pos_in_stream :].strip() else "end of line"
    if fragment.startswith("\n"):
        return "end of line"
    heredoc = re.match(r"<<-?([A-Za-z][A-Za-z0-9._-]*)", fragment)
    if heredoc:
        marker = heredoc.group(1)
        return f"{heredoc.group(0)} (a heredoc needs {marker} alone on its closing line)"
    word = re.match(r"[A-Za-z0-9_]+|\S", fragment)
    return _quote(word.group(0) if word else fragment[0])


def _quote(text: str) -> str:
    return f"'{text}'" if '"' in text else f'"{text}"'


def _describe_expected(exc: UnexpectedInput) -> str:
    expected: set[str] = set(getattr(exc, "expected", None) or ())
    if isinstance(exc, UnexpectedCharacters):
        expected = set(exc.allowed or ())
    if not expected:
        return ""
    if expected.issuperset(_EXPRESSION_STARTERS):
        return "an expression"
    names = sorted({_EXPECTED_NAMES[name] for name in expected if name in _EXPECTED_NAMES})
    if not names or len(names) > 5:
        return ""
    return names[0] if len(names) == 1 else "one of " + ", ".join(names)


# --------------------------------------------------------------------------- flattening


def _token_kind(token_type: str, parent: str) -> Kind:
    match token_type:
        case "COMMA":
            return Kind.COMMA
        case "DOT":
            return Kind.DOT
        case "ATTR_SPLAT" | "FULL_SPLAT_START":
            return Kind.SPLAT
        case "COLONS":
            return Kind.COLONS
        case "ELLIPSIS":
            return Kind.ELLIPSIS
        case "LPAR":
            return Kind.CALL_OPEN if parent == "function_call" else Kind.PAREN_OPEN
        case "RPAR":
            return Kind.PAREN_CLOSE
        case "LSQB":
            return Kind.INDEX_OPEN if parent == "braces_index" else Kind.TUPLE_OPEN
        case "RSQB":
            return Kind.BRACKET_CLOSE
        case "LBRACE":
            return Kind.BRACE_OPEN
        case "RBRACE":
            return Kind.BRACE_CLOSE
        case "EQ":
            return Kind.EQ
        case "COLON":
            return Kind.OBJ_COLON if parent == "object_elem" else Kind.OP
        case "MINUS" | "NOT" if parent == "unary_op":
            return Kind.UNARY
        case "MINUS" | "QMARK" | "FOR_OBJECT_ARROW":
            return Kind.OP
    if token_type in MERGEABLE_OPERATORS:
        return Kind.OP
    return Kind.WORD


class _Flattener:
    """Walks the lark tree and produces the item stream."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[Item] = []
        self._assignments = 0

    # ---- emitting

    def _atom(self, text: str, kind: Kind) -> Atom:
        atom = Atom(text, kind)
        if kind in CLOSERS:
            self.items.append(Close())
        self.items.append(atom)
        if kind in OPENERS or kind is Kind.BRACE_OPEN:
            self.items.append(Open())
        return atom

    def _trivia(self, text: str) -> None:
        """Line breaks and comments; other whitespace is layout and dropped."""
        for match in TRIVIA.finditer(text):
            piece = match.group(0)
            if piece == "\n":
                self.items.append(NEWLINE)
            elif piece.startswith(("#", "//")):
                self.items.append(Atom(piece.rstrip(), Kind.COMMENT))
                if piece.endswith("\n"):
                    self.items.append(NEWLINE)
            elif piece.startswith("/*"):
                self.items.append(Atom(piece.replace("\r\n", "\n"), Kind.COMMENT))

    def _at_line_start(self) -> bool:
        """True when nothing but comments has been emitted since the last line break."""
        for item in reversed(self.items):
            if item is NEWLINE:
                return True
            if isinstance(item, Atom) and item.kind is not Kind.COMMENT:
                return False
        return True

    def _last_value_index(self, start: int) -> int:
        """Index of the last non-comment atom emitted at or after `start`."""
        for index in range(len(self.items) - 1, start - 1, -1):
            item = self.items[index]
            if isinstance(item, Atom) and item.kind is not Kind.COMMENT:
                return index
        return len(self.items) - 1

    def _insert_after_value(self, start: int, marker: Close | ItemEnd) -> None:
        """Insert `marker` just after the last non-comment atom since `start`.

        Comments and line breaks that the grammar attaches to the end of an expression
        then fall outside the construct, so they are indented with what follows.
        """
        index = self._last_value_index(start) + 1
        while index < len(self.items) and isinstance(self.items[index], Close | ItemEnd):
            index += 1
        self.items.insert(index, marker)

    def _slot(self, node: Tree | Token, parent: str) -> None:
        """An expression slot: continuation lines inside it are indented one level."""
        start = len(self.items)
        self.items.append(Open())
        self._node(node, parent)
        self._insert_after_value(start, Close())

    def _mark_assignment(self, start: int, eq: Atom) -> None:
        """Give a single-line `name = value` the roles that `=` alignment looks for."""
        end = self._last_value_index(start)
        span = self.items[start : end + 1]
        if any(item is NEWLINE for item in span):
            return
        first = next(item for item in span if isinstance(item, Atom))
        last = self.items[end]
        if not isinstance(last, Atom) or first is eq or last is eq:
            return
        self._assignments += 1
        for atom, role in ((first, Role.START), (eq, Role.EQ), (last, Role.END)):
            atom.role = role
            atom.assignment = self._assignments

    # ---- walking

    def start(self, tree: Tree) -> None:
        (body,) = tree.children
        self._body(body, top_level=True, compact=False)

    def _node(self, node: Tree | Token, parent: str) -> None:
        if isinstance(node, Token):
            self._token(node, parent)
            return
        rule = str(node.data)
        handler = self._handlers.get(rule)
        if handler is not None:
            handler(self, node)
            return
        for child in node.children:
            self._node(child, rule)

    def _token(self, token: Token, parent: str) -> None:
        value = str(token)
        if token.type == "NL_OR_COMMENT":
            self._trivia(value)
            return
        if token.type in ("HEREDOC_TEMPLATE", "HEREDOC_TEMPLATE_TRIM"):
            # the token ends with the line break after its closing marker
            self._atom(value.removesuffix("\n").removesuffix("\r"), Kind.WORD)
            self.items.append(NEWLINE)
            return
        operator = MERGEABLE_OPERATORS.get(token.type)
        if operator is not None and value != operator:
            self._trivia(value[: -len(operator)])
            value = operator
        self._atom(value.strip(" \t"), _token_kind(token.type, parent))

    def _verbatim(self, node: Tree) -> None:
        """Quoted strings keep their exact bytes, interpolations included."""
        self._atom(self.source[node.meta.start_pos : node.meta.end_pos], Kind.WORD)

    def _new_line_or_comment(self, node: Tree) -> None:
        for token in node.children:
            self._trivia(str(token))

    def _body(self, body: Tree, *, top_level: bool, compact: bool) -> None:
        """Block body: every attribute and nested block starts on a line of its own."""
        for child in body.children:
            if isinstance(child, Tree) and child.data in BLOCK_ITEMS:
                if not compact and not self._at_line_start():
                    self.items.append(NEWLINE)
                start = len(self.items)
                if top_level:
                    self.items.append(ItemStart(is_block=child.data == "block"))
                self._node(child, "body")
                if top_level:
                    self._insert_after_value(start, ItemEnd())
            else:
                self._node(child, "body")

    def _block(self, node: Tree) -> None:
        children = node.children
        lbrace_at = next(
            i for i, c in enumerate(children) if isinstance(c, Token) and c.type == "LBRACE"
        )
        lbrace, body, rbrace = children[lbrace_at : lbrace_at + 3]
        for child in children[:lbrace_at]:
            if isinstance(child, Tree) and child.data == "new_line_or_comment":
                if any(str(token).strip() for token in child.children):
                    self._new_line_or_comment(child)  # keep comments; bare line breaks go
            else:
                self._node(child, "block")
        self._token(lbrace, "block")
        items = [c for c in body.children if isinstance(c, Tree) and c.data in BLOCK_ITEMS]
        compact = lbrace.line == rbrace.line and (
            not items or (len(items) == 1 and items[0].data == "attribute")
        )
        self._body(body, top_level=False, compact=compact)
        if not compact and not self._at_line_start():
            self.items.append(NEWLINE)
        self._token(rbrace, "block")

    def _attribute(self, node: Tree) -> None:
        name, _eq, value = node.children
        start = len(self.items)
        self._node(name, "attribute")
        eq_atom = self._atom("=", Kind.EQ)
        self._slot(value, "attribute")
        self._mark_assignment(start, eq_atom)

    def _object_elem(self, node: Tree) -> None:
        key, separator, value = node.children
        start = len(self.items)
        self.items.append(Open())
        self._node(key, "object_elem")
        separator_atom = self._atom(
            str(separator).strip(" \t"), _token_kind(separator.type, "object_elem")
        )
        self._node(value, "object_elem")
        self._insert_after_value(start, Close())
        if separator_atom.kind is Kind.EQ:
            self._mark_assignment(start, separator_atom)

    def _elements(self, node: Tree) -> None:
        """Tuples and argument lists: each element is an expression slot."""
        rule = str(node.data)
        for child in node.children:
            if isinstance(child, Tree) and child.data != "new_line_or_comment":
                self._slot(child, rule)
            else:
                self._node(child, rule)

    _handlers = {
        "string": _verbatim,
        "new_line_or_comment": _new_line_or_comment,
        "block": _block,
        "attribute": _attribute,
        "object_elem": _object_elem,
        "tuple": _elements,
        "arguments": _elements,
    }


# --------------------------------------------------------------------------- layout


@dataclass(slots=True)
class _Line:
    items: list[Item]
    indent: int = 0

    @property
    def atoms(self) -> list[Atom]:
        return [item for item in self.items if isinstance(item, Atom)]

    @property
    def blank(self) -> bool:
        return not any(isinstance(item, Atom) for item in self.items)


def _layout(items: list[Item]) -> list[_Line]:
    lines = _normalize_blank_lines(_split_lines(items))
    _separate_top_level_blocks(lines)
    _indent(lines)
    return lines


def _split_lines(items: list[Item]) -> list[_Line]:
    lines = [_Line([])]
    for item in items:
        if item is NEWLINE:
            lines.append(_Line([]))
        else:
            lines[-1].items.append(item)
    return lines


def _normalize_blank_lines(lines: list[_Line]) -> list[_Line]:
    """No blank line at either end of the file, never two in a row.

    Markers on a dropped blank line move to the next line that is kept.
    """
    kept: list[_Line] = []
    carried: list[Item] = []
    for line in lines:
        if line.blank:
            carried.extend(line.items)
            if kept and not kept[-1].blank:
                kept.append(_Line([]))
            continue
        kept.append(_Line(carried + line.items))
        carried = []
    while kept and kept[-1].blank:
        kept.pop()
    if carried and kept:
        kept[-1].items.extend(carried)
    return kept


def _separate_top_level_blocks(lines: list[_Line]) -> None:
    """One blank line between a top-level block and its neighbours.

    The blank line goes right after the earlier item, so comments written directly
    above the next item stay attached to it.
    """
    spans: list[tuple[int, int, bool]] = []  # (first line, last line, is a block)
    for number, line in enumerate(lines):
        for item in line.items:
            if isinstance(item, ItemStart):
                spans.append((number, number, item.is_block))
            elif isinstance(item, ItemEnd):
                first, _, is_block = spans[-1]
                spans[-1] = (first, number, is_block)
    insert_after: list[int] = []
    for (_, end, block_a), (start, _, block_b) in pairwise(spans):
        if (block_a or block_b) and not any(lines[n].blank for n in range(end + 1, start)):
            insert_after.append(end)
    for number in reversed(insert_after):
        lines.insert(number + 1, _Line([]))


def _indent(lines: list[_Line]) -> None:
    """Two spaces per open construct, counted per line as `terraform fmt` does.

    A line is indented one level deeper than the line on which the innermost construct
    still open at its start was opened; a line that starts by closing a construct is
    indented like the line that opened it. So `foo([` followed by an element and `])`
    indents the element once, not twice.
    """
    opened_on: list[int] = []
    for number, line in enumerate(lines):
        last_closed: int | None = None
        opens = 0  # constructs opened on this line before its first atom
        position = 0
        while position < len(line.items) and not isinstance(line.items[position], Atom):
            item = line.items[position]
            if isinstance(item, Close):
                last_closed = opened_on.pop()
            elif isinstance(item, Open):
                opens += 1
            position += 1
        if position < len(line.items):
            first = line.items[position]
            assert isinstance(first, Atom)
            if first.kind in CLOSERS and last_closed is not None:
                line.indent = lines[last_closed].indent
            elif opened_on:
                line.indent = lines[opened_on[-1]].indent + INDENT_WIDTH
        opened_on.extend([number] * opens)
        for item in line.items[position:]:
            if isinstance(item, Close):
                opened_on.pop()
            elif isinstance(item, Open):
                opened_on.append(number)


def _space_between(before: Kind, after: Kind) -> bool:
    """Whether one space separates two atoms on a line (after hclwrite's rules)."""
    if before is Kind.COMMENT or after is Kind.COMMENT:
        return True
    if after in (Kind.COMMA, Kind.ELLIPSIS, Kind.OBJ_COLON, Kind.PAREN_CLOSE, Kind.BRACKET_CLOSE):
        return False
    if before is Kind.COMMA:
        return True
    if Kind.DOT in (before, after) or Kind.SPLAT in (before, after):
        return False
    if Kind.COLONS in (before, after):
        return False
    if after in (Kind.CALL_OPEN, Kind.INDEX_OPEN) or before is Kind.UNARY:
        return False
    if before is Kind.BRACE_OPEN:
        return after is not Kind.BRACE_CLOSE
    if after is Kind.BRACE_CLOSE:
        return True
    return before not in OPENERS


def _join(atoms: list[Atom], aligned: tuple[Atom, int] | None = None) -> str:
    """The atoms of one line; `aligned` is an `=` with the spaces to put before it."""
    parts = [atoms[0].text]
    for before, after in pairwise(atoms):
        if aligned is not None and after is aligned[0]:
            parts.append(" " * aligned[1])
        elif _space_between(before.kind, after.kind):
            parts.append(" ")
        parts.append(after.text)
    return "".join(parts)


def _assignment_lead(atoms: list[Atom]) -> tuple[Atom, int] | None:
    """The `=` and the width before it when the line is one single-line assignment.

    A trailing comma (object element) and a trailing comment may follow the value.
    """
    first = atoms[0]
    if first.role is not Role.START:
        return None
    values = [atom for atom in atoms if atom.kind is not Kind.COMMENT]
    last = values[-1]
    if last.kind is Kind.COMMA and len(values) > 1:
        last = values[-2]
    if last.role is not Role.END or last.assignment != first.assignment:
        return None
    for position, atom in enumerate(atoms):
        if atom.role is Role.EQ and atom.assignment == first.assignment:
            lead = atoms[:position]
            if any("\n" in a.text for a in lead):
                return None
            return atom, len(_join(lead))
    return None


def _render(lines: list[_Line]) -> str:
    """Text of the laid-out lines, with the `=` of each run of assignments aligned.

    A run is a sequence of consecutive lines at one indentation, each holding one
    single-line assignment; blank lines, comment lines, block headers and anything
    else end it, as does a line whose value spans lines (a heredoc).
    """
    aligned: dict[int, tuple[Atom, int]] = {}
    run: list[tuple[int, Atom, int]] = []  # (line number, its `=`, width before it)

    def close_run() -> None:
        widest = max((lead for _, _, lead in run), default=0)
        for number, eq, lead in run:
            aligned[number] = (eq, widest - lead + 1)
        run.clear()

    for number, line in enumerate(lines):
        atoms = line.atoms
        assignment = _assignment_lead(atoms) if atoms else None
        if assignment is None or (run and lines[run[-1][0]].indent != line.indent):
            close_run()
        if assignment is not None:
            run.append((number, *assignment))
            if any("\n" in atom.text for atom in atoms):
                close_run()
    close_run()

    out = []
    for number, line in enumerate(lines):
        atoms = line.atoms
        if not atoms:
            out.append("")
            continue
        out.append(" " * line.indent + _join(atoms, aligned.get(number)))
    return "\n".join(out) + "\n" if out else ""
