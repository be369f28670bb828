"""Flattening python-hcl2's lark tree into the item stream, comments and layout kept."""

from __future__ import annotations

from lark import Token, Tree

from l4plan.configs.hcl.fmt.items import (
    BLOCK_ITEMS,
    CLOSERS,
    MERGEABLE_OPERATORS,
    NEWLINE,
    OPENERS,
    TRIVIA,
    Atom,
    Close,
    Item,
    ItemEnd,
    ItemStart,
    Kind,
    Open,
    Role,
)

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


class Flattener:
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
