"""Heredocs: `<<EOT ... EOT` keeps its text, `<<-EOT` trims indentation as HCL does.

A heredoc's body arrives from the grammar as one raw token; its interpolations
and directives are found here and each is parsed with the expression parser the
`HeredocParser` is given (sources.parse_expression), at its own position.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from l4plan.configs.hcl.syntax import Node, SyntaxProblem
from l4plan.configs.hcl.templates import Directive, Interpolation, assemble_template
from l4plan.diagnostics import Pos

# parse_expression(text, file name, line, column, depth) -> Node
ExpressionParser = Callable[[str, str, int, int, int], Node]

_HEREDOC_HEAD = re.compile(r"<<(-?)([A-Za-z][A-Za-z0-9._-]*)\r?\n")
_DIRECTIVE = re.compile(
    r"^(?P<ls>~)?\s*(?:(?P<kw>else|endif|endfor)|if\s(?P<if>.*?)|for\s+(?P<names>[A-Za-z_][\w-]*"
    r"(?:\s*,\s*[A-Za-z_][\w-]*)?)\s+in\s(?P<for>.*?))\s*(?P<rs>~)?$",
    re.S,
)


class HeredocParser:
    """Turns a heredoc token (`<<EOT ... EOT`, `<<-EOT` trims indentation) into a node."""

    def __init__(self, name: str, parse_expression: ExpressionParser):
        self.name = name
        self.parse_expression = parse_expression

    def parse(self, raw: str, pos: Pos, depth: int) -> Node:
        head = _HEREDOC_HEAD.match(raw)
        assert head is not None  # the grammar's terminal guarantees the shape
        trim = head.group(1) == "-"
        lines = raw[head.end() :].split("\n")
        # lines: content..., the marker line, "" (the token ends with a newline)
        content = [ln.rstrip("\r") for ln in lines[:-2]]
        indent = 0
        if trim:
            # HCL: the smallest number of leading whitespace characters (any Unicode
            # space counts as one) over the lines that are not blank
            widths = [_indentation(ln) for ln in content if not ln.isspace() and ln]
            indent = min(widths, default=0)
            content = [ln[indent:] for ln in content]
        text = "".join(ln + "\n" for ln in content)
        return self.template(text, pos.line + 1, indent + 1, depth)

    def template(self, text: str, first_line: int, first_column: int, depth: int) -> Node:
        """Split heredoc text into literal runs, interpolations and directives."""
        raw: list[str | Node | Directive | Interpolation] = []
        literal: list[str] = []
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c in "$%" and text.startswith(c + c + "{", i):  # $${ and %%{ escape
                literal.append(c + "{")
                i += 3
                continue
            if c in "$%" and text.startswith(c + "{", i):
                end = _closing_brace(text, i + 2)
                at = self._pos(text, i, first_line, first_column)
                if end < 0:
                    raise SyntaxProblem(f'"{c}{{" is not closed with "}}" in this heredoc', at)
                if literal:
                    raw.append("".join(literal))
                    literal = []
                inner = text[i + 2 : end]
                inner_at = self._pos(text, i + 2, first_line, first_column)
                if c == "$":
                    raw.append(self._interpolation(inner, inner_at, depth))
                else:
                    raw.append(self._directive(inner, at, inner_at, depth))
                i = end + 1
                continue
            literal.append(c)
            i += 1
        if literal:
            raw.append("".join(literal))
        return assemble_template(raw, Pos(self.name, first_line, first_column))

    def _interpolation(self, inner: str, at: Pos, depth: int) -> Node | Interpolation:
        """`${ expr }` in a heredoc, with `~` strip markers right inside the braces."""
        left, right = inner.startswith("~"), inner.endswith("~")
        if not (left or right):
            return self.parse_expression(inner, self.name, at.line, at.column, depth)
        start = 1 if left else 0
        expr = inner[start : len(inner) - 1 if right else len(inner)]
        node = self.parse_expression(expr, self.name, at.line, at.column + start, depth)
        return Interpolation(node, left, right)

    def _directive(self, inner: str, at: Pos, inner_at: Pos, depth: int) -> Directive:
        m = _DIRECTIVE.match(inner)
        if m is None:
            raise SyntaxProblem(
                f'unknown template directive "%{{{inner.strip()}}}"; '
                "expected if, else, endif, for or endfor",
                at,
            )
        d = Directive("", at, bool(m.group("ls")), bool(m.group("rs")))
        if m.group("kw"):
            d.kind = m.group("kw")
        elif m.group("if") is not None:
            d.kind = "if"
            d.expr = self.parse_expression(
                m.group("if"), self.name, inner_at.line, inner_at.column + m.start("if"), depth
            )
        else:
            d.kind = "for"
            names = [s.strip() for s in m.group("names").split(",")]
            d.key_var, d.value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
            d.expr = self.parse_expression(
                m.group("for"), self.name, inner_at.line, inner_at.column + m.start("for"), depth
            )
        return d

    def _pos(self, text: str, offset: int, first_line: int, first_column: int) -> Pos:
        line_start = text.rfind("\n", 0, offset) + 1
        return Pos(
            self.name, first_line + text.count("\n", 0, offset), first_column + offset - line_start
        )


def _indentation(line: str) -> int:
    """Leading whitespace characters of `line`: HCL counts any Unicode space as one."""
    n = 0
    for c in line:
        if not (c in "\t\v\f " or c.isspace()):
            break
        n += 1
    return n


def _closing_brace(text: str, i: int) -> int:
    """Index of the `}` closing an interpolation opened just before `i`, or -1."""
    depth = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1
