"""The configuration syntax tree: HCL bodies and expressions with source positions.

The lark tree produced from python-hcl2's grammar keeps every token (quotes,
braces, newlines, comments); `Converter` turns it into the small typed tree below,
which the evaluator walks. Every node carries the `Pos` of its first token.
Template strings are resolved here: escapes are decoded, a string without
interpolation becomes a `Literal`, and `%{if}` / `%{for}` directives (which the
grammar delivers flat) are assembled into `TemplateIf` / `TemplateFor` nodes.
Heredoc bodies arrive as one raw token; their interpolations are found by
`templates.split_template` and each `${...}` is parsed as an expression.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lark import Token, Tree

from l4plan.diagnostics import Pos

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


# --------------------------------------------------------------------------- strings

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def unescape(text: str, pos: Pos) -> str:
    """Decode HCL quoted-string escapes: \\n \\r \\t \\" \\\\ \\uNNNN \\UNNNNNNNN."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        width = {"u": 4, "U": 8}.get(nxt)
        digits = text[i + 2 : i + 2 + width] if width else ""
        if width and len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
            out.append(chr(int(digits, 16)))
            i += 2 + width
            continue
        before = text[:i]
        at = (
            Pos(pos.file, pos.line + before.count("\n"), i - before.rfind("\n"))
            if "\n" in before
            else Pos(pos.file, pos.line, pos.column + i)
        )
        raise SyntaxProblem(
            f'invalid escape sequence "\\{nxt}" in a string; '
            'use \\n, \\r, \\t, \\", \\\\, \\uNNNN or \\UNNNNNNNN',
            at,
        )
    return "".join(out)


# --------------------------------------------------------------------------- directives


@dataclass(slots=True)
class Directive:
    """A flat `%{if}`, `%{else}`, `%{endif}`, `%{for}` or `%{endfor}` marker."""

    kind: str  # if | else | endif | for | endfor
    pos: Pos
    strip_left: bool
    strip_right: bool
    expr: Node | None = None
    key_var: str | None = None
    value_var: str = ""


def assemble_template(raw: list[str | Node | Directive], pos: Pos) -> Node:
    """Nest flat directive markers and apply `~` strip markers; simplify plain text."""
    _strip_markers(raw)
    parts, rest = _nest(raw, 0, None, pos)
    if rest != len(raw):  # an unmatched end marker
        d = raw[rest]
        assert isinstance(d, Directive)
        raise SyntaxProblem(f"%{{{d.kind}}} without a matching opening directive", d.pos)
    parts = [p for p in parts if p != ""]
    if not parts:
        return Literal(pos, "")
    if len(parts) == 1 and isinstance(parts[0], str):
        return Literal(pos, parts[0])
    return Template(pos, parts)


def _strip_markers(raw: list[str | Node | Directive]) -> None:
    for i, item in enumerate(raw):
        if not isinstance(item, Directive):
            continue
        if item.strip_left and i > 0 and isinstance(raw[i - 1], str):
            raw[i - 1] = raw[i - 1].rstrip()  # type: ignore[union-attr]
        if item.strip_right and i + 1 < len(raw) and isinstance(raw[i + 1], str):
            raw[i + 1] = raw[i + 1].lstrip()  # type: ignore[union-attr]


def _nest(
    raw: list[str | Node | Directive], i: int, opener: Directive | None, pos: Pos
) -> tuple[list[str | Node], int]:
    """Parse parts from `i` until the end marker of `opener`; return (parts, index of it)."""
    out: list[str | Node] = []
    ends = {"if": ("else", "endif"), "for": ("endfor",)}.get(opener.kind if opener else "", ())
    while i < len(raw):
        item = raw[i]
        if isinstance(item, Directive):
            if item.kind in ends:
                return out, i
            if item.kind == "if":
                then, j = _nest(raw, i + 1, item, pos)
                orelse: list[str | Node] = []
                if j < len(raw) and raw[j].kind == "else":  # type: ignore[union-attr]
                    orelse, j = _nest(raw, j + 1, Directive("if", item.pos, False, False), pos)
                    if j < len(raw) and raw[j].kind == "else":  # type: ignore[union-attr]
                        raise SyntaxProblem("a second %{else} in one %{if}", raw[j].pos)  # type: ignore[union-attr]
                _expect_end(raw, j, "endif", item)
                assert item.expr is not None
                out.append(TemplateIf(item.pos, item.expr, then, orelse))
                i = j + 1
                continue
            if item.kind == "for":
                body, j = _nest(raw, i + 1, item, pos)
                _expect_end(raw, j, "endfor", item)
                assert item.expr is not None
                out.append(TemplateFor(item.pos, item.key_var, item.value_var, item.expr, body))
                i = j + 1
                continue
            if opener is None:
                return out, i
            raise SyntaxProblem(
                f"%{{{item.kind}}} does not belong in this %{{{opener.kind}}}", item.pos
            )
        out.append(item)
        i += 1
    if opener is not None:
        end = "endif" if opener.kind == "if" else "endfor"
        raise SyntaxProblem(f"%{{{opener.kind}}} has no matching %{{{end}}}", opener.pos)
    return out, i


def _expect_end(raw: list[str | Node | Directive], j: int, kind: str, opener: Directive) -> None:
    if j >= len(raw) or not isinstance(raw[j], Directive) or raw[j].kind != kind:  # type: ignore[union-attr]
        raise SyntaxProblem(f"%{{{opener.kind}}} has no matching %{{{kind}}}", opener.pos)


# --------------------------------------------------------------------------- conversion


def first_token(tree: Tree | Token) -> Token | None:
    node: Any = tree
    while isinstance(node, Tree):
        if not node.children:
            return None
        node = node.children[0]
    return node


_SKIP = frozenset({"new_line_or_comment"})


class Converter:
    """Converts the lark tree of one file into `Body` / `Node` objects.

    `heredoc` parses a heredoc token into a template node (it needs the parser,
    so the loader supplies it).
    """

    def __init__(self, file: str, heredoc: Callable[[Token, Pos], Node]):
        self.file = file
        self.heredoc = heredoc
        self._expr: dict[str, Callable[[Tree], Node]] = {
            "expr_term": self._expr_term,
            "conditional": self._conditional,
            "binary_op": self._binary_op,
            "unary_op": self._unary_op,
        }
        self._term: dict[str, Callable[[Tree], Node]] = {
            "int_lit": self._int,
            "float_lit": self._float,
            "string": self._string,
            "template_string": self._template_string,
            "tuple": self._tuple,
            "object": self._object,
            "identifier": self._identifier,
            "literal_value": self._literal_value,
            "function_call": self._call,
            "heredoc_template": self._heredoc,
            "heredoc_template_trim": self._heredoc,
            "index_expr_term": self._index,
            "get_attr_expr_term": self._get_attr,
            "attr_splat_expr_term": self._splat,
            "full_splat_expr_term": self._splat,
            "for_tuple_expr": self._for_tuple,
            "for_object_expr": self._for_object,
        }

    def pos(self, item: Tree | Token) -> Pos:
        tok = item if isinstance(item, Token) else first_token(item)
        if tok is None:
            return Pos(self.file, 0, 0)
        line, column = tok.line or 0, tok.column or 0
        value = str(tok)
        if tok.type in ("EQ", "COLON") or value[:1] in ("\n", " ", "\t"):
            # tokens that swallow leading whitespace or newlines: point at the symbol
            stripped = value.lstrip(" \t\r\n")
            skipped = value[: len(value) - len(stripped)]
            if "\n" in skipped:
                line += skipped.count("\n")
                column = len(skipped) - skipped.rfind("\n")
            else:
                column += len(skipped)
        return Pos(self.file, line, column)

    # ---- bodies

    def body(self, tree: Tree) -> Body:
        out = Body()
        for child in tree.children:
            if not isinstance(child, Tree) or child.data in _SKIP:
                continue
            if child.data == "attribute":
                attr = self.attribute(child)
                first = out.attributes.get(attr.name)
                if first is not None:
                    out.duplicates.append((attr, first))
                else:
                    out.attributes[attr.name] = attr
            elif child.data == "block":
                out.blocks.append(self.block(child))
        return out

    def attribute(self, tree: Tree) -> Attribute:
        name_tree, _eq, expr = tree.children
        return Attribute(self._word(name_tree), self.expr(expr), self.pos(name_tree))

    def block(self, tree: Tree) -> Block:
        children = [c for c in tree.children if not (isinstance(c, Tree) and c.data in _SKIP)]
        type_ = self._word(children[0])
        labels: list[str] = []
        label_pos: list[Pos] = []
        body = Body()
        for child in children[1:]:
            if isinstance(child, Token):
                continue
            if child.data == "body":
                body = self.body(child)
            elif child.data == "string":
                node = self._string(child)
                if not isinstance(node, Literal):
                    raise SyntaxProblem("a block label cannot contain interpolation", node.pos)
                labels.append(node.value)
                label_pos.append(node.pos)
            else:
                labels.append(self._word(child))
                label_pos.append(self.pos(child))
        return Block(type_, labels, body, self.pos(children[0]), label_pos)

    def _word(self, tree: Tree | Token) -> str:
        tok = first_token(tree)
        return str(tok) if tok is not None else ""

    # ---- expressions

    def expr(self, tree: Tree | Token) -> Node:
        if isinstance(tree, Token):  # pragma: no cover - the grammar wraps every term
            raise SyntaxProblem(f"unexpected {tree!s}", self.pos(tree))
        return self._expr[tree.data](tree)

    def _trees(self, tree: Tree) -> list[Tree]:
        return [c for c in tree.children if isinstance(c, Tree) and c.data not in _SKIP]

    def _expr_term(self, tree: Tree) -> Node:
        children = tree.children
        if len(children) == 1:
            child = children[0]
            return self._term[child.data](child)
        # ( expression )
        (inner,) = self._trees(tree)
        return self.expr(inner)

    def _conditional(self, tree: Tree) -> Node:
        cond, then, orelse = self._trees(tree)
        return Conditional(self.pos(tree), self.expr(cond), self.expr(then), self.expr(orelse))

    def _binary_op(self, tree: Tree) -> Node:
        left, term = self._trees(tree)
        op_tree, right = self._trees(term)
        op = str(op_tree.children[0]).strip()
        return Binary(self.pos(tree), op, self.expr(left), self.expr(right))

    def _unary_op(self, tree: Tree) -> Node:
        op, operand = tree.children
        node = self.expr(operand)
        if str(op) == "-" and isinstance(node, Literal) and type(node.value) in (int, float):
            return Literal(self.pos(tree), -node.value)
        return Unary(self.pos(tree), str(op), node)

    def _int(self, tree: Tree) -> Node:
        return Literal(self.pos(tree), int(tree.children[0]))

    def _float(self, tree: Tree) -> Node:
        value = float(tree.children[0])
        return Literal(self.pos(tree), int(value) if value.is_integer() else value)

    def _identifier(self, tree: Tree) -> Node:
        return Name(self.pos(tree), str(tree.children[0]))

    def _literal_value(self, tree: Tree) -> Node:
        word = str(tree.children[0])
        return Literal(self.pos(tree), {"true": True, "false": False, "null": None}[word])

    def _string(self, tree: Tree) -> Node:
        pos = self.pos(tree)
        raw: list[str | Node | Directive] = []
        for child in tree.children:
            if isinstance(child, Token):
                continue  # the quotes
            (part,) = child.children
            if isinstance(part, Token):
                text = str(part)
                if part.type == "ESCAPED_INTERPOLATION" or part.type == "ESCAPED_DIRECTIVE":
                    text = text[1:]  # $${ -> ${ and %%{ -> %{
                else:
                    text = unescape(text, self.pos(part))
                if raw and isinstance(raw[-1], str):
                    raw[-1] += text
                else:
                    raw.append(text)
            elif part.data == "interpolation":
                raw.append(self.expr(self._trees(part)[0]))
            else:
                raw.append(self._directive(part))
        return assemble_template(raw, pos)

    def _directive(self, tree: Tree) -> Directive:
        toks = [c for c in tree.children if isinstance(c, Token)]
        strips = [t for t in toks if t.type == "STRIP_MARKER"]
        keyword_at = next(i for i, t in enumerate(toks) if t.type != "DIRECTIVE_START")
        strip_left = toks[keyword_at].type == "STRIP_MARKER"
        strip_right = bool(strips) and toks[-2].type == "STRIP_MARKER"
        kind = {
            "template_if_start": "if",
            "template_else": "else",
            "template_endif": "endif",
            "template_for_start": "for",
            "template_endfor": "endfor",
        }[tree.data]
        d = Directive(kind, self.pos(tree), strip_left, strip_right)
        subtrees = self._trees(tree)
        if kind == "if":
            d.expr = self.expr(subtrees[0])
        elif kind == "for":
            names = [str(t.children[0]) for t in subtrees if t.data == "identifier"]
            d.expr = self.expr(subtrees[-1])
            d.key_var, d.value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        return d

    def _template_string(self, tree: Tree) -> Node:
        text = str(tree.children[0])  # \"...\" inside a directive
        return Literal(self.pos(tree), unescape(text[2:-2], self.pos(tree)))

    def _heredoc(self, tree: Tree) -> Node:
        tok = tree.children[0]
        return self.heredoc(tok, self.pos(tok))

    def _tuple(self, tree: Tree) -> Node:
        return TupleExpr(self.pos(tree), [self.expr(c) for c in self._trees(tree)])

    def _object(self, tree: Tree) -> Node:
        items: list[tuple[Node, Node]] = []
        for elem in self._trees(tree):
            key_tree, value = self._trees(elem)
            items.append((self._object_key(key_tree), self.expr(value)))
        return ObjectExpr(self.pos(tree), items)

    def _object_key(self, tree: Tree) -> Node:
        """A bare word key is a string (`{a = 1}`); anything else is an expression."""
        (inner,) = tree.children
        if isinstance(inner, Tree) and inner.data == "keyword":
            return Literal(self.pos(inner), str(inner.children[0]))
        if isinstance(inner, Tree) and inner.data == "expr_term" and len(inner.children) == 1:
            term = inner.children[0]
            if isinstance(term, Tree) and term.data in ("identifier", "literal_value"):
                return Literal(self.pos(term), str(term.children[0]))
        return self.expr(inner)

    def _call(self, tree: Tree) -> Node:
        trees = self._trees(tree)
        names = [t for t in trees if t.data == "identifier"]
        pos = self.pos(tree)
        if len(names) > 1:
            full = "::".join(str(t.children[0]) for t in names)
            raise SyntaxProblem(f'provider functions such as "{full}" are not supported', pos)
        args: list[Node] = []
        expand = False
        for t in trees:
            if t.data == "arguments":
                args = [self.expr(a) for a in self._trees(t)]
                expand = any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in t.children)
        return Call(pos, str(names[0].children[0]), args, expand)

    def _index(self, tree: Tree) -> Node:
        obj, index = tree.children
        return Index(self.pos(tree), self.expr(obj), self._index_key(index))

    def _index_key(self, index: Tree) -> Node:
        if index.data == "short_index":  # .0
            tok = index.children[1]
            return Literal(self.pos(tok), int(tok))
        return self.expr(self._trees(index)[0])

    def _get_attr(self, tree: Tree) -> Node:
        obj, get_attr = tree.children
        name_tree = get_attr.children[1]
        return GetAttr(
            self.pos(tree), self.expr(obj), str(name_tree.children[0]), self.pos(name_tree)
        )

    def _splat(self, tree: Tree) -> Node:
        obj, splat = tree.children
        ops: list[tuple[str, Any]] = []
        for op in splat.children[1:]:
            if op.data == "get_attr":
                ops.append(("attr", str(op.children[1].children[0])))
            else:
                ops.append(("index", self._index_key(op)))
        return Splat(self.pos(tree), self.expr(obj), ops)

    def _for_intro(self, tree: Tree) -> tuple[str | None, str, Node]:
        trees = self._trees(tree)
        names = [str(t.children[0]) for t in trees if t.data == "identifier"]
        collection = self.expr(trees[-1])
        if len(names) == 2:
            return names[0], names[1], collection
        return None, names[0], collection

    def _for_cond(self, trees: list[Tree]) -> Node | None:
        for t in trees:
            if t.data == "for_cond":
                return self.expr(self._trees(t)[0])
        return None

    def _for_tuple(self, tree: Tree) -> Node:
        trees = self._trees(tree)
        key_var, value_var, coll = self._for_intro(trees[0])
        value = self.expr(trees[1])
        cond = self._for_cond(trees[2:])
        return ForExpr(self.pos(tree), key_var, value_var, coll, None, value, cond, False)

    def _for_object(self, tree: Tree) -> Node:
        trees = self._trees(tree)
        key_var, value_var, coll = self._for_intro(trees[0])
        key = self.expr(trees[1])
        value = self.expr(trees[2])
        cond = self._for_cond(trees[3:])
        group = any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in tree.children)
        return ForExpr(self.pos(tree), key_var, value_var, coll, key, value, cond, group)
