"""Find configuration files, read them, parse them into `syntax.Body` trees.

Parsing uses python-hcl2's grammar (`hcl2.lark`) and post-lexer: lark builds the
LALR tables once per process, and `lalr.parse` runs them while building syntax
nodes directly (see lalr.py for why). When a file does not parse, lark parses it
again to describe the error, so messages are lark's: where, and what it expected.

Nothing here raises for bad input: problems come back as L4E000 diagnostics that
name file, line and column and quote the offending line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import hcl2
from hcl2.postlexer import PostLexer
from lark import Lark, Token
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from l4plan.configs import lalr
from l4plan.configs.syntax import (
    Body,
    Builder,
    Directive,
    Interpolation,
    Node,
    SyntaxProblem,
    assemble_template,
)
from l4plan.diagnostics import Diagnostic, Pos

CONFIG_SUFFIXES = (".l4.hcl", ".hcl")
VARS_SUFFIX = ".l4vars"
LOAD_ERROR = "L4E000"


# python-hcl2's grammar lacks HCL's strip markers in interpolations (`${~ x ~}`);
# its directives have them. The one rule is extended the same way.
_INTERPOLATION_RULE = "interpolation: INTERP_START expression RBRACE"
_INTERPOLATION_WITH_STRIP = (
    "interpolation: INTERP_START STRIP_MARKER? expression STRIP_MARKER? RBRACE"
)


def grammar() -> str:
    """python-hcl2's `hcl2.lark`, with strip markers allowed in interpolations."""
    text = (Path(hcl2.__file__).parent / "hcl2.lark").read_text(encoding="utf-8")
    if _INTERPOLATION_RULE not in text:
        raise RuntimeError(f"hcl2.lark has no rule {_INTERPOLATION_RULE!r} to extend")
    return text.replace(_INTERPOLATION_RULE, _INTERPOLATION_WITH_STRIP)


@cache
def parser() -> Lark:
    return Lark(
        grammar(),
        parser="lalr",
        propagate_positions=False,
        postlex=PostLexer(),
        cache=True,
    )


@dataclass(slots=True)
class SourceFile:
    name: str  # relative to the configuration directory
    body: Body


def config_file_names(directory: Path) -> list[Path]:
    """Every `*.l4.hcl` / `*.hcl` file directly in `directory`, sorted by name."""
    return sorted(
        p for p in directory.iterdir() if p.is_file() and p.name.endswith(CONFIG_SUFFIXES)
    )


def read_text(path: Path, name: str) -> tuple[str | None, Diagnostic | None]:
    """The UTF-8 text of a file, or a diagnostic pointing at the first bad byte."""
    try:
        data = path.read_bytes()
    except OSError as e:
        return None, Diagnostic.at(LOAD_ERROR, f"cannot read {name}: {e.strerror}", Pos(name, 0, 0))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        before = data[: e.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        return None, Diagnostic.at(
            LOAD_ERROR,
            f"{name} is not valid UTF-8 (byte 0x{data[e.start]:02x} at line {line}, "
            f"column {column}); save the file as UTF-8",
            Pos(name, line, column),
        )
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark is not content
    return text, None


def parse_source(name: str, text: str) -> tuple[Body | None, Diagnostic | None]:
    """Parse one file's text into a `Body`, or return the syntax diagnostic."""
    try:
        body = lalr.parse(lalr.tables(parser()), text, Builder(name, _HeredocParser(name).parse))
    except SyntaxProblem as e:
        return None, Diagnostic.at(LOAD_ERROR, e.message, e.pos)
    if body is None:
        return None, _lark_diagnostic(name, text)
    return body, None


def _lark_diagnostic(name: str, text: str) -> Diagnostic:
    """Ask lark why `text` does not parse: its exception says where and what it expected."""
    try:
        parser().parse(text + "\n")
    except UnexpectedInput as e:
        return syntax_diagnostic(e, name, text)
    except LarkError as e:
        return Diagnostic.at(LOAD_ERROR, f"syntax error: {e}", Pos(name, 1, 1))
    return Diagnostic.at(LOAD_ERROR, "syntax error (the parsers disagree)", Pos(name, 1, 1))


def parse_expression(text: str, name: str, line: int = 1, column: int = 1, depth: int = 0) -> Node:
    """Parse a standalone expression (a `--var` value, a heredoc interpolation).

    `depth` is the nesting depth the text sits at (inside a heredoc). Raises
    SyntaxProblem with the position translated to where `text` starts.
    """
    prefix = "_ = "
    source = prefix + text
    builder = Builder(name, _HeredocParser(name).parse, (line, column, len(prefix)))
    body = lalr.parse(lalr.tables(parser()), source, builder, depth)
    if body is None:
        diag = _lark_diagnostic(name, source)
        message = diag.message.split(", in: ")[0]
        pos = builder.pos(("", "", max(diag.line, 1), max(diag.column, len(prefix) + 1)))
        raise SyntaxProblem(f"{message}, in: {text.strip()}", pos)
    if len(body.attributes) != 1 or body.blocks:
        raise SyntaxProblem(
            f"expected a single expression, got {text.strip()!r}", Pos(name, line, column)
        )
    return next(iter(body.attributes.values())).expr


# --------------------------------------------------------------------------- heredocs

_HEREDOC_HEAD = re.compile(r"<<(-?)([A-Za-z][A-Za-z0-9._-]*)\r?\n")
_DIRECTIVE = re.compile(
    r"^(?P<ls>~)?\s*(?:(?P<kw>else|endif|endfor)|if\s(?P<if>.*?)|for\s+(?P<names>[A-Za-z_][\w-]*"
    r"(?:\s*,\s*[A-Za-z_][\w-]*)?)\s+in\s(?P<for>.*?))\s*(?P<rs>~)?$",
    re.S,
)


class _HeredocParser:
    """Turns a heredoc token (`<<EOT ... EOT`, `<<-EOT` trims indentation) into a node."""

    def __init__(self, name: str):
        self.name = name

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
            return parse_expression(inner, self.name, at.line, at.column, depth)
        start = 1 if left else 0
        expr = inner[start : len(inner) - 1 if right else len(inner)]
        node = parse_expression(expr, self.name, at.line, at.column + start, depth)
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
            d.expr = parse_expression(
                m.group("if"), self.name, inner_at.line, inner_at.column + m.start("if"), depth
            )
        else:
            d.kind = "for"
            names = [s.strip() for s in m.group("names").split(",")]
            d.key_var, d.value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
            d.expr = parse_expression(
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


# --------------------------------------------------------------------------- errors

_VALUE_START = {"INT_LITERAL", "FLOAT_LITERAL", "LSQB", "LPAR", "DBLQUOTE"}
_WORDS = {
    "RBRACE": '"}"',
    "RSQB": '"]"',
    "RPAR": '")"',
    "COMMA": '","',
    "COLON": '":"',
    "FOR_OBJECT_ARROW": '"=>"',
    "IN": '"in"',
    "NL_OR_COMMENT": "a new line",
}


def _expected_words(expected: set[str]) -> str:
    """What the parser would have accepted, in plain words."""
    if expected & _VALUE_START and "EQ" not in expected and "STRING_CHARS" not in expected:
        return "an expression (a value)"
    if "DBLQUOTE" in expected and "STRING_CHARS" in expected:
        return 'a closing quote (")'
    words: list[str] = []
    if "EQ" in expected:
        words.append('"=" or "{"' if "LBRACE" in expected else '"="')
    elif "LBRACE" in expected:
        words.append('"{"')
    words += [
        word
        for name, word in _WORDS.items()
        if name in expected and not (name == "IN" and "NAME" in expected)
    ]
    if not words:
        words = ["the end of the file"] if "$END" in expected else sorted(expected)[:3]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _describe(tok_type: str, value: str) -> str:
    if tok_type == "$END" or not value.strip():
        return "end of file"
    if value[0] in "\r\n":
        return "end of line"
    first = value.strip().splitlines()[0]
    if first.startswith("<<"):
        return f'heredoc "{first}" (its closing marker is missing)'
    if len(first) > 30:
        first = first[:27] + "..."
    return f'"{first}"'


def _stray(tok: Token, expected: set[str]) -> bool:
    """A character that starts no token here (the lexer fell back to string text)."""
    value = str(tok)
    return (
        tok.type == "STRING_CHARS"
        and "STRING_CHARS" not in expected
        and value[:1] not in "\r\n"
        and not value.startswith("<<")
    )


def syntax_diagnostic(e: UnexpectedInput, name: str, text: str, quote: bool = True) -> Diagnostic:
    """A parse error in plain words, quoting the offending line unless `quote` is off."""
    lines = text.splitlines()
    line = e.line if isinstance(e.line, int) and e.line > 0 else max(len(lines), 1)
    column = e.column if isinstance(e.column, int) and e.column > 0 else 1
    expected: str | None
    if isinstance(e, UnexpectedToken) and _stray(e.token, set(e.expected)):
        what, expected = f'character "{str(e.token)[0]}"', None
    elif isinstance(e, UnexpectedToken):
        what = _describe(e.token.type, str(e.token))
        expected = _expected_words(set(e.expected))
    elif isinstance(e, UnexpectedCharacters):
        what = f'character "{e.char}"'
        expected = _expected_words(set(e.allowed or ()))
    else:
        what, expected = "end of file", _expected_words(set(getattr(e, "expected", ()) or ()))
    if line > len(lines):
        line = max(len(lines), 1)
        column = len(lines[-1]) + 1 if lines else 1
    source = lines[line - 1].strip() if lines else ""
    message = f"syntax error: unexpected {what}"
    if expected:
        message += f", expected {expected}"
    if source and quote:
        message += f", in: {source}"
    return Diagnostic.at(LOAD_ERROR, message, Pos(name, line, column))
