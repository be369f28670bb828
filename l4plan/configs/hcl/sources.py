"""Find configuration files, read them, and parse them into `syntax.Body` trees.

Parsing uses python-hcl2's grammar and post-lexer: lark's LALR tables (cached
between processes, see grammar.py) run in `lalr.parse` while it builds syntax
nodes directly (see lalr.py for why). When a file does not parse, lark parses it
again to describe the error (errors.py), so messages are lark's: where, and what
it expected.

Nothing here raises for bad input: problems come back as L4E000 diagnostics that
name file, line and column and quote the offending line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from l4plan.configs.hcl import lalr
from l4plan.configs.hcl.builder import Builder
from l4plan.configs.hcl.errors import LOAD_ERROR, syntax_diagnostic
from l4plan.configs.hcl.grammar import parse_tables, parser
from l4plan.configs.hcl.heredocs import HeredocParser
from l4plan.configs.hcl.syntax import Body, Node, SyntaxProblem
from l4plan.diagnostics import Diagnostic, Pos

CONFIG_SUFFIXES = (".l4.hcl", ".hcl")
VARS_SUFFIX = ".l4vars"


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
        builder = Builder(name, HeredocParser(name, parse_expression).parse)
        body = lalr.parse(parse_tables(), text, builder)
    except SyntaxProblem as e:
        return None, Diagnostic.at(LOAD_ERROR, e.message, e.pos)
    if body is None:
        return None, _lark_diagnostic(name, text)
    return body, None


def _lark_diagnostic(name: str, text: str) -> Diagnostic:
    """Ask lark why `text` does not parse: its exception says where and what it expected."""
    from lark.exceptions import LarkError, UnexpectedInput

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
    builder = Builder(
        name, HeredocParser(name, parse_expression).parse, (line, column, len(prefix))
    )
    body = lalr.parse(parse_tables(), source, builder, depth)
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
