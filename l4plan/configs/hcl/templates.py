"""String templates: escapes, NFC normalisation, `${}` and `%{}` parts and strip markers.

The grammar delivers a template's parts flat; `assemble_template` nests the
`%{if}` / `%{for}` directive markers into `TemplateIf` / `TemplateFor` nodes,
applies `~` strip markers of directives and interpolations, and simplifies: a
string without interpolation is a `Literal`, and one that is a single
interpolation is that expression itself (as in HCL).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from l4plan.configs.hcl.syntax import (
    Literal,
    Node,
    SyntaxProblem,
    Template,
    TemplateFor,
    TemplateIf,
)
from l4plan.diagnostics import Pos

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


@dataclass(slots=True)
class Interpolation:
    """`${~ expr ~}`: an interpolation with strip markers, before they are applied."""

    expr: Node
    strip_left: bool
    strip_right: bool


def nfc(text: str) -> str:
    """String literals are NFC-normalised, as HCL specifies (`"n\u0303"` is `"\u00f1"`)."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def assemble_template(raw: list[str | Node | Directive | Interpolation], pos: Pos) -> Node:
    """Nest flat directive markers and apply `~` strip markers; simplify plain text."""
    _strip_markers(raw)
    raw = [
        item.expr
        if isinstance(item, Interpolation)
        else nfc(item)
        if isinstance(item, str)
        else item
        for item in raw
    ]
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
    if len(parts) == 1 and not isinstance(parts[0], str | TemplateIf | TemplateFor):
        return parts[0]  # "${x}" is x itself, not converted to a string (as in HCL)
    return Template(pos, parts)


def _strip_markers(raw: list[str | Node | Directive | Interpolation]) -> None:
    for i, item in enumerate(raw):
        if not isinstance(item, Directive | Interpolation):
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
