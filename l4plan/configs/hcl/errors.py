"""Parse errors in plain words: what was unexpected, what was expected, where."""

from __future__ import annotations

from typing import TYPE_CHECKING

from l4plan import codes
from l4plan.diagnostics import Diagnostic, Pos

if TYPE_CHECKING:
    from lark import Token
    from lark.exceptions import UnexpectedInput

LOAD_ERROR = codes.LOAD

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
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

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
