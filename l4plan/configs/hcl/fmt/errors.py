"""Why a file `fmt` is asked to format does not parse, in plain words."""

from __future__ import annotations

import re

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from l4plan.configs.hcl.fmt.items import (
    SYNTAX_ERROR_CODE,
)
from l4plan.diagnostics import Diagnostic, Pos

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
