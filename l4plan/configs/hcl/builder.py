"""Reduction callbacks that build the syntax tree while `lalr.parse` runs the grammar.

Template strings are resolved here (escapes decoded, parts assembled by
templates.py); heredoc bodies arrive as one raw token, which the `heredoc`
callable given to the `Builder` turns into a template node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from l4plan.configs.hcl.reductions import (
    DIRECTIVE_KINDS,
    LITERAL_WORDS,
    NEWLINE,
    Args,
    Attr,
    Elem,
    ForCond,
    ForIntro,
    Key,
    Op,
    Ops,
    Part,
    Repeat,
    Term,
    Tok,
    Word,
    nodes_of,
)
from l4plan.configs.hcl.syntax import (
    Attribute,
    Binary,
    Block,
    Body,
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
    SyntaxProblem,
    TupleExpr,
    Unary,
)
from l4plan.configs.hcl.templates import (
    Directive,
    Interpolation,
    assemble_template,
    nfc,
    unescape,
)
from l4plan.configs.lang.numbers import literal_number
from l4plan.diagnostics import Pos


class Builder:
    """Reduction callbacks for `lalr.parse`: one method per grammar rule (or alias).

    Each receives the rule's children (tokens as `(type, text, line, column)`
    tuples, or what earlier callbacks returned) and returns a syntax node or one
    of the small helper values above. `heredoc` parses a heredoc token into a
    template node (given the nesting depth it sits at). `shift` maps positions
    of text parsed out of place (a `--var` value, a heredoc interpolation) back
    to where that text starts: (line, column, length of the prefix put before it).
    """

    def __init__(
        self,
        file: str,
        heredoc: Callable[[str, Pos, int], Node],
        shift: tuple[int, int, int] | None = None,
    ):
        self.file = file
        self.heredoc = heredoc
        self.shift = shift
        self.parenthesized: set[int] = set()  # ids of nodes written as ( expression )
        self.depth = 0  # nesting depth of the rule being reduced (set by lalr.parse)

    def pos(self, tok: Tok) -> Pos:
        line, column = tok[2], tok[3]
        if self.shift is not None:
            start_line, start_column, prefix = self.shift
            if line == 1:
                return Pos(self.file, start_line, start_column + column - prefix - 1)
            return Pos(self.file, start_line + line - 1, column)
        return Pos(self.file, line, column)

    # ---- layout and repetition

    def new_line_or_comment(self, c: list[Any]) -> object:
        return NEWLINE

    def repeat(self, c: list[Any]) -> Repeat:
        if c and isinstance(c[0], Repeat):
            out = c[0]
            out.extend(c[1:])
            return out
        return Repeat(c)

    # ---- bodies

    def start(self, c: list[Any]) -> Body:
        return c[0]  # type: ignore[no-any-return]

    def body(self, c: list[Any]) -> Body:
        out = Body()
        items: list[Any] = []
        for child in c:
            if isinstance(child, Repeat):
                items.extend(child)
        for item in items:
            if isinstance(item, Attribute):
                first = out.attributes.get(item.name)
                if first is not None:
                    out.duplicates.append((item, first))
                else:
                    out.attributes[item.name] = item
            elif isinstance(item, Block):
                out.blocks.append(item)
        return out

    def attribute(self, c: list[Any]) -> Attribute:
        name: Word = c[0]
        return Attribute(name.text, c[2], name.pos)

    def block(self, c: list[Any]) -> Block:
        type_: Word = c[0]
        labels: list[str] = []
        label_pos: list[Pos] = []
        body = Body()
        for child in c[1:]:
            if isinstance(child, Repeat):
                for label in child:
                    if isinstance(label, Word):
                        labels.append(label.text)
                        label_pos.append(label.pos)
                    elif isinstance(label, Literal):
                        labels.append(label.value)
                        label_pos.append(label.pos)
                    else:
                        raise SyntaxProblem("a block label cannot contain interpolation", label.pos)
            elif isinstance(child, Body):
                body = child
        return Block(type_.text, labels, body, type_.pos, label_pos)

    # ---- words and literals

    def identifier(self, c: list[Any]) -> Word:
        return Word(c[0][1], self.pos(c[0]), "identifier")

    def keyword(self, c: list[Any]) -> Word:
        return Word(c[0][1], self.pos(c[0]), "keyword")

    def literal_value(self, c: list[Any]) -> Word:
        return Word(c[0][1], self.pos(c[0]), "literal")

    def int_lit(self, c: list[Any]) -> Node:
        return self._number(c[0])

    float_lit = int_lit

    def _number(self, tok: Tok) -> Node:
        try:
            return Literal(self.pos(tok), literal_number(tok[1]))
        except ValueError as e:
            raise SyntaxProblem(str(e), self.pos(tok)) from None

    def expr_term(self, c: list[Any]) -> Node:
        if len(c) == 1:
            x = c[0]
            if isinstance(x, Word):
                if x.kind == "literal":
                    return Literal(x.pos, LITERAL_WORDS[x.text])
                return Name(x.pos, x.text)
            return x  # type: ignore[no-any-return]
        (inner,) = nodes_of(c)  # ( expression )
        self.parenthesized.add(id(inner))
        return inner  # type: ignore[no-any-return]

    # ---- strings

    def string(self, c: list[Any]) -> Node:
        pos = self.pos(c[0])
        if len(c) == 3 and len(c[1]) == 1 and isinstance(c[1][0], Part):
            return Literal(pos, nfc(c[1][0].text))  # the common case: plain text
        raw: list[str | Node | Directive | Interpolation] = []
        for part in c[1] if len(c) == 3 else ():
            if isinstance(part, Part):
                if raw and isinstance(raw[-1], str):
                    raw[-1] += part.text
                else:
                    raw.append(part.text)
            else:
                raw.append(part)
        return assemble_template(raw, pos)

    def string_part(self, c: list[Any]) -> Any:
        x = c[0]
        if not isinstance(x, tuple):
            return x  # an interpolated expression or a directive
        type_, text = x[0], x[1]
        if type_ in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
            return Part(text[1:])  # $${ -> ${ and %%{ -> %{
        return Part(unescape(text, self.pos(x)))

    def interpolation(self, c: list[Any]) -> Node | Interpolation:
        """`${ expr }`, or with `~` strip markers an `Interpolation` that says which sides."""
        if len(c) == 3:
            return c[1]  # type: ignore[no-any-return]
        left = isinstance(c[1], tuple) and c[1][0] == "STRIP_MARKER"
        right = isinstance(c[-2], tuple) and c[-2][0] == "STRIP_MARKER"
        return Interpolation(nodes_of(c)[0], left, right)

    def _directive(self, c: list[Any]) -> Directive:
        toks = [x for x in c if isinstance(x, tuple)]
        kind = next(DIRECTIVE_KINDS[t[0]] for t in toks if t[0] in DIRECTIVE_KINDS)
        d = Directive(
            kind,
            self.pos(toks[0]),
            toks[1][0] == "STRIP_MARKER",
            len(toks) > 2 and toks[-2][0] == "STRIP_MARKER",
        )
        nodes = nodes_of(c)
        if kind in ("if", "for"):
            d.expr = nodes[-1]
        if kind == "for":
            names = [x.text for x in c if isinstance(x, Word)]
            d.key_var, d.value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        return d

    template_if_start = _directive
    template_else = _directive
    template_endif = _directive
    template_for_start = _directive
    template_endfor = _directive

    def template_string(self, c: list[Any]) -> Node:
        text = c[0][1]  # \"...\" inside a directive
        return Literal(self.pos(c[0]), nfc(unescape(text[2:-2], self.pos(c[0]))))

    def heredoc_template(self, c: list[Any]) -> Node:
        return self.heredoc(c[0][1], self.pos(c[0]), self.depth)

    heredoc_template_trim = heredoc_template

    # ---- operators

    def conditional(self, c: list[Any]) -> Node:
        cond, then, orelse = nodes_of(c)
        return Conditional(cond.pos, cond, then, orelse)

    def binary_op(self, c: list[Any]) -> Node:
        left: Node = c[0]
        term: Term = c[1]
        return Binary(left.pos, term.op, left, term.right)

    def binary_term(self, c: list[Any]) -> Term:
        return Term(c[0].op, nodes_of(c)[-1])

    def binary_operator(self, c: list[Any]) -> Op:
        return Op(c[0][1].strip())

    def unary_op(self, c: list[Any]) -> Node:
        op, operand = c[0], c[1]
        pos = self.pos(op)
        if op[1] == "-" and isinstance(operand, Literal) and type(operand.value) in (int, float):
            return Literal(pos, -operand.value)
        return Unary(pos, op[1], operand)

    # ---- collections

    def tuple(self, c: list[Any]) -> Node:
        return TupleExpr(self.pos(c[0]), nodes_of(c))

    def object(self, c: list[Any]) -> Node:
        items: list[tuple[Node, Node]] = []
        for child in c:
            for elem in child if isinstance(child, Repeat) else ():
                if isinstance(elem, Elem):
                    items.append((elem.key, elem.value))
        return ObjectExpr(self.pos(c[0]), items)

    def object_elem(self, c: list[Any]) -> Elem:
        return Elem(c[0], c[2])

    def object_elem_key(self, c: list[Any]) -> Node:
        """A bare word key is a string (`{a = 1}`, `{null = 1}`); anything else is evaluated."""
        x = c[0]
        if isinstance(x, Word):
            return Literal(x.pos, x.text)
        if id(x) not in self.parenthesized:
            if isinstance(x, Name):
                return Literal(x.pos, x.name)
            if isinstance(x, Literal) and (x.value is None or isinstance(x.value, bool)):
                word = {None: "null", True: "true", False: "false"}[x.value]
                return Literal(x.pos, word)
        return x  # type: ignore[no-any-return]

    # ---- calls

    def function_call(self, c: list[Any]) -> Node:
        names = [x for x in c if isinstance(x, Word)]
        pos = names[0].pos
        if len(names) > 1:
            full = "::".join(w.text for w in names)
            raise SyntaxProblem(f'provider functions such as "{full}" are not supported', pos)
        args = next((x for x in c if isinstance(x, Args)), Args([], False))
        return Call(pos, names[0].text, args.items, args.expand)

    def arguments(self, c: list[Any]) -> Args:
        expand = any(isinstance(x, tuple) and x[0] == "ELLIPSIS" for x in c)
        return Args(nodes_of(c), expand)

    # ---- traversals

    def index_expr_term(self, c: list[Any]) -> Node:
        obj: Node = c[0]
        return Index(obj.pos, obj, c[1].node)

    def braces_index(self, c: list[Any]) -> Key:
        return Key(nodes_of(c)[0])

    def short_index(self, c: list[Any]) -> Key:
        tok = c[1]
        return Key(Literal(self.pos(tok), int(tok[1])))

    def get_attr_expr_term(self, c: list[Any]) -> Node:
        obj: Node = c[0]
        attr: Attr = c[1]
        return GetAttr(obj.pos, obj, attr.name, attr.pos)

    def get_attr(self, c: list[Any]) -> Attr:
        word: Word = c[1]
        return Attr(word.text, word.pos)

    def _splat_ops(self, c: list[Any]) -> Ops:
        ops: list[tuple[str, Any]] = []
        for child in c:
            for op in child if isinstance(child, Repeat) else ():
                if isinstance(op, Attr):
                    ops.append(("attr", op.name))
                elif isinstance(op, Key):
                    ops.append(("index", op.node))
        return Ops(ops)

    attr_splat = _splat_ops
    full_splat = _splat_ops

    def _splat(self, c: list[Any]) -> Node:
        obj: Node = c[0]
        return Splat(obj.pos, obj, c[1].ops)

    attr_splat_expr_term = _splat
    full_splat_expr_term = _splat

    # ---- for expressions

    def for_intro(self, c: list[Any]) -> ForIntro:
        names = [x.text for x in c if isinstance(x, Word)]
        collection = nodes_of(c)[0]
        if len(names) == 2:
            return ForIntro(names[0], names[1], collection)
        return ForIntro(None, names[0], collection)

    def for_cond(self, c: list[Any]) -> ForCond:
        return ForCond(nodes_of(c)[0])

    def for_tuple_expr(self, c: list[Any]) -> Node:
        intro = next(x for x in c if isinstance(x, ForIntro))
        cond = next((x.expr for x in c if isinstance(x, ForCond)), None)
        (value,) = nodes_of(c)
        return ForExpr(
            self.pos(c[0]),
            intro.key_var,
            intro.value_var,
            intro.collection,
            None,
            value,
            cond,
            False,
        )

    def for_object_expr(self, c: list[Any]) -> Node:
        intro = next(x for x in c if isinstance(x, ForIntro))
        cond = next((x.expr for x in c if isinstance(x, ForCond)), None)
        key, value = nodes_of(c)
        group = any(isinstance(x, tuple) and x[0] == "ELLIPSIS" for x in c)
        return ForExpr(
            self.pos(c[0]),
            intro.key_var,
            intro.value_var,
            intro.collection,
            key,
            value,
            cond,
            group,
        )
